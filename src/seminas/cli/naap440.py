"""``seminas naap440 study``: the NAAP-440 baseline (regressors on architecture features and the
first epochs' curves) on the dataset's own train/test split."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [x.strip() for x in str(text).split(",") if x.strip()]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``naap440`` (with its ``study`` subcommand) on the main parser's subparsers."""
    from seminas.cli.input import Parser
    from seminas.experiments.naap440 import FEATURE_SETS, QUICK_REGRESSORS, REGRESSORS

    group = sub.add_parser(
        "naap440",
        help="NAAP-440: 440 CNNs on CIFAR-10 with 90-epoch curves, a small tabular benchmark",
        description="NAAP-440 (440 plain CNNs trained on CIFAR-10 for 90 epochs).",
    )
    commands = group.add_subparsers(dest="naap440_command", required=True, parser_class=Parser)
    p = commands.add_parser(
        "study",
        help="predict final accuracy from architecture features and the first epochs",
        description="Fit regressors (scikit-learn, LightGBM, seminas's GBDT and MLP predictors) "
        "on the dataset's 400 training networks with architecture features, the first E "
        "epochs' accuracy and loss (E = 1, 3, 5, 9), or both, and score them on its 40 test "
        "networks: MAE, R², Kendall tau, Spearman rho, fit seconds. Writes records.jsonl "
        "(resumable), results.json, summary.md and kendall.png.",
    )
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.add_argument("--seeds", default="0-4",
                   help='seeds of the seeded models, e.g. "0-4" (deterministic ones: the first)')
    p.add_argument("--quick", action="store_true",
                   help=f"only {' and '.join(QUICK_REGRESSORS)}, first seed (a smoke test)")
    p.add_argument("--regressors", help=f"any of {', '.join(REGRESSORS)} (default all)")
    p.add_argument("--features", help=f"any of {', '.join(FEATURE_SETS)} (default all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study)
    return p


def cmd_study(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.naap440 import run_study
    from seminas.experiments.seeds import parse_seeds

    seeds = parse_seeds(args.seeds)
    with progress_for(args.quiet) as progress:
        out = run_study(
            args.out,
            seeds,
            regressors=_names(args.regressors),
            features=_names(args.features),
            quick=args.quick,
            data_dir=getattr(args, "data_dir", None),
            progress=progress,
        )
    print(f"{out.units} fits ({out.new_units} new)")
    print(f"records  {out.records}")
    print(f"results  {out.results_json}")
    print(f"summary  {out.summary_md}")
    print(f"plot     {out.plot}")
    print(Path(out.summary_md).read_text())
    return 0
