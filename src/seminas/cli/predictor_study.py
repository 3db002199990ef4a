"""``seminas study-predictor``: the pseudo-label predictor study from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError


def _int_list(text: str, what: str) -> list[int]:
    """``100,300,1000`` (underscores and 10k-style suffixes allowed) as a list of integers."""
    out = []
    for item in str(text).split(","):
        item = item.strip().lower().replace("_", "")
        scale = 1
        if item.endswith("k"):
            item, scale = item[:-1], 1000
        try:
            out.append(int(item) * scale)
        except ValueError:
            raise SeminasError(
                f"invalid {what} {text!r}: expected comma-separated whole numbers, "
                f"e.g. 0,1000,10k"
            ) from None
    return out


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``study-predictor`` command on the main parser's subparsers."""
    from seminas.experiments.predictor_study import DEFAULT_MAX_STEPS, PREDICTORS

    p = sub.add_parser(
        "study-predictor",
        help="do pseudo-labels improve the predictor? (real NAS-Bench-101 cells)",
        description="Kendall tau, Spearman rho and top-1% precision of the SemiNAS controller "
        "and the GBDT predictor trained on N labeled NAS-Bench-101 cells plus M pseudo-labeled "
        "ones; writes results.jsonl (resumable), summary.json, summary.md and plot.png.",
    )
    p.add_argument("--n", default="100,300,1000", help="labeled cells, e.g. 100,300,1000")
    p.add_argument("--m", default="0,1000,10000,50000", help="pseudo-labeled cells, e.g. 0,10k")
    p.add_argument("--seeds", default="0-4", help='e.g. "0-4" or "0,3,5-7"')
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--preset", help="SemiNAS preset for the controller (default: fast-nb101, "
                   "else fast, else nb201)")
    p.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                   help="gradient steps per controller training phase at most (0: no cap)")
    p.add_argument("--train-steps", type=int, default=0,
                   help="controller's second phase: exactly this many steps for every M "
                   "(compute-matched control; default 0: the preset's epochs)")
    p.add_argument("--epochs", type=int,
                   help="controller's second phase in epochs (default: the preset's first "
                   "iteration, first_epochs or epochs)")
    p.add_argument("--pretrain-epochs", type=int,
                   help="controller's pre-training epochs (default: the preset's)")
    p.add_argument("--predictors", default=",".join(PREDICTORS),
                   help="controller, gbdt or both")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study_predictor)
    return p


def cmd_study_predictor(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.predictor_study import run_study
    from seminas.experiments.seeds import parse_seeds

    ns = _int_list(args.n, "--n")
    ms = _int_list(args.m, "--m")
    seeds = parse_seeds(args.seeds)
    predictors = [p.strip() for p in str(args.predictors).split(",") if p.strip()]
    if args.threads < 1:
        raise SeminasError(f"--threads must be at least 1, got {args.threads}")
    with progress_for(args.quiet) as progress:
        out = run_study(
            args.out,
            ns,
            ms,
            seeds,
            predictors=predictors,
            preset=args.preset,
            max_steps=args.max_steps,
            train_steps=args.train_steps,
            epochs=args.epochs,
            pretrain_epochs=args.pretrain_epochs,
            data_dir=args.data_dir,
            threads=args.threads,
            progress=progress,
        )
    print(f"{out.cells} cells ({out.new_cells} new)")
    print(f"results  {out.results}")
    print(f"summary  {out.summary_md}")
    print(f"plot     {out.plot}")
    print(Path(out.summary_md).read_text())
    return 0
