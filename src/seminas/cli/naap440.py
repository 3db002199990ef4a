"""``seminas naap440 study``: the NAAP-440 baseline (regressors on architecture features and the
first epochs' curves) on the dataset's own train/test split; ``seminas naap440 early``: the same
early-training predictor on NAS-Bench-201 and the NAS-Bench-101 subset."""

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
    from seminas.experiments.naap440 import ALL_FEATURE_SETS, QUICK_REGRESSORS, REGRESSORS
    from seminas.experiments.naap440.early import BENCHMARKS, DEFAULT_REGRESSORS, DEFAULT_SIZES

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
        "and the paper's own regressors on the dataset's 400 training networks with "
        "architecture features, the first E epochs' accuracy and loss (E = 1, 3, 5, 9), both, "
        "or the paper's feature sets, and score them on its 40 test networks: MAE, R², "
        "Kendall tau, Spearman rho, the paper's monotonicity score, fit seconds. Writes "
        "records.jsonl (resumable), results.json, README.md (published numbers beside ours) "
        "and kendall.png.",
    )
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.add_argument("--seeds", default="0-4",
                   help='seeds of the seeded models, e.g. "0-4" (deterministic ones: the first)')
    p.add_argument("--quick", action="store_true",
                   help=f"only {' and '.join(QUICK_REGRESSORS)}, first seed (a smoke test)")
    p.add_argument("--regressors", help=f"any of {', '.join(REGRESSORS)} (default all)")
    p.add_argument("--features", help=f"any of {', '.join(ALL_FEATURE_SETS)} (default all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study)

    e = commands.add_parser(
        "early",
        help="the early-training predictor on NAS-Bench-201 (12 epochs) and NB101 (4/12/36)",
        description="Label N random cells, fit a regressor on the architecture encoding with "
        "and without an early epoch's validation accuracy, and rank the held-out cells by it "
        "(Kendall tau, Spearman rho); the early value alone is the reference. NAS-Bench-201: "
        "12-epoch validation -> 200-epoch CIFAR-10 test accuracy; NAS-Bench-101 subset (1,000 "
        "cells with matrices): 4/12/36-epoch -> 108-epoch validation accuracy. Writes "
        "records.jsonl (resumable), results.json, README.md and kendall.png.",
    )
    e.add_argument("--out", required=True, help="output directory (resumable)")
    e.add_argument("--seeds", default="0-4", help='seeds (labelled sample and model), e.g. "0-4"')
    e.add_argument("--n", default=",".join(map(str, DEFAULT_SIZES)),
                   help="labelled cells, comma-separated (default %(default)s)")
    e.add_argument("--benchmarks", default=",".join(BENCHMARKS),
                   help=f"any of {', '.join(BENCHMARKS)} (default all)")
    e.add_argument("--regressors", default=",".join(DEFAULT_REGRESSORS),
                   help=f"any of {', '.join(REGRESSORS)} (default %(default)s)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_early)
    return p


def _sizes(text: str) -> list[int]:
    from seminas.errors import SeminasError

    try:
        return [int(x) for x in _names(text) or []]
    except ValueError:
        raise SeminasError(
            f"--n {text!r} is not a list of whole numbers: e.g. --n 50,100,300"
        ) from None


def cmd_early(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.naap440.early import run_early
    from seminas.experiments.seeds import parse_seeds

    seeds = parse_seeds(args.seeds)
    with progress_for(args.quiet) as progress:
        out = run_early(
            args.out,
            seeds,
            benchmarks=_names(args.benchmarks) or [],
            regressors=_names(args.regressors) or [],
            sizes=_sizes(args.n),
            data_dir=getattr(args, "data_dir", None),
            progress=progress,
        )
    print(f"{out.units} fits ({out.new_units} new)")
    print(f"records  {out.records}")
    print(f"results  {out.results_json}")
    print(f"report   {out.readme}")
    print(f"plot     {out.plot}")
    print(Path(out.readme).read_text())
    return 0


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
    print(f"report   {out.readme}")
    print(f"plot     {out.plot}")
    print(Path(out.readme).read_text())
    return 0
