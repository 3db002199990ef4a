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
    """Register the ``study-predictor`` command (alias ``predictor-study``) on the main parser's
    subparsers."""
    from seminas.experiments.predictor_study import DEFAULT_MAX_STEPS, PREDICTORS
    from seminas.experiments.predictor_study import nb201 as nb201_study

    p = sub.add_parser(
        "study-predictor",
        aliases=["predictor-study"],
        help="how well do predictors rank cells, with and without unlabeled cells? "
        "(real NAS-Bench-101 or NAS-Bench-201 cells)",
        description="Kendall tau, Spearman rho and top-k precision of predictors trained on N "
        "labeled cells. --space nb101 (default): the SemiNAS controller and GBDT plus M "
        "pseudo-labeled cells on real NAS-Bench-101 cells. --space nb201: every predictor x "
        "{none, pseudo, pretrain, both} (pseudo-labels, free-label pretraining) on "
        "CIFAR-10, CIFAR-100 and ImageNet16-120. Writes results.jsonl (resumable), "
        "summary.json, summary.md and plot.png.",
    )
    p.add_argument("--space", default="nb101", choices=("nb101", "nb201"),
                   help="the benchmark (default nb101)")
    p.add_argument("--n", help="labeled cells, e.g. 100,300,1000 (default nb101: "
                   "100,300,1000; nb201: 50,100,300)")
    p.add_argument("--m", help="pseudo-labeled cells: nb101 a list, e.g. 0,10k (default "
                   "0,1000,10000,50000); nb201 one number (default 1000)")
    p.add_argument("--seeds", default="0-4", help='e.g. "0-4" or "0,3,5-7"')
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--predictors", help=f"nb101: controller, gbdt or both (default both); "
                   f"nb201: any of {', '.join(nb201_study.PREDICTORS)} (default all)")
    p.add_argument("--datasets", help="nb201 only: any of "
                   f"{', '.join(nb201_study.DATASETS)} (default all)")
    p.add_argument("--variants", help="nb201 only: any of "
                   f"{', '.join(nb201_study.VARIANTS)} (default all)")
    p.add_argument("--upsample", type=int, help="nb201 only: times the labeled cells are "
                   "repeated beside the pseudo-labeled ones (default 10)")
    p.add_argument("--preset", help="nb101 only: SemiNAS preset for the controller (default: "
                   "fast-nb101, else fast, else nb201)")
    p.add_argument("--max-steps", type=int,
                   help=f"nb101 only: gradient steps per controller training phase at most "
                   f"(0: no cap; default {DEFAULT_MAX_STEPS})")
    p.add_argument("--train-steps", type=int,
                   help="nb101 only: controller's second phase: exactly this many steps for "
                   "every M (compute-matched control; default 0: the preset's epochs)")
    p.add_argument("--epochs", type=int,
                   help="nb101 only: controller's second phase in epochs (default: the "
                   "preset's first iteration, first_epochs or epochs)")
    p.add_argument("--pretrain-epochs", type=int,
                   help="nb101 only: controller's pre-training epochs (default: the preset's)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study_predictor, _nb101_predictors=",".join(PREDICTORS))
    return p


def _names(text: str | None, default: Any) -> list[str]:
    if text is None:
        return list(default)
    return [x.strip() for x in str(text).split(",") if x.strip()]


def _refuse(args: argparse.Namespace, options: dict[str, str], space: str) -> None:
    for dest, flag in options.items():
        if getattr(args, dest) is not None:
            raise SeminasError(f"{flag} applies to --space {space} only")


def cmd_study_predictor(args: argparse.Namespace) -> int:
    from seminas.experiments.seeds import parse_seeds

    if args.threads < 1:
        raise SeminasError(f"--threads must be at least 1, got {args.threads}")
    seeds = parse_seeds(args.seeds)
    if args.space == "nb201":
        return _nb201(args, seeds)
    return _nb101(args, seeds)


def _nb101(args: argparse.Namespace, seeds: list[int]) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.predictor_study import DEFAULT_MAX_STEPS, run_study

    _refuse(args, {"datasets": "--datasets", "variants": "--variants",
                   "upsample": "--upsample"}, "nb201")
    ns = _int_list(args.n or "100,300,1000", "--n")
    ms = _int_list(args.m or "0,1000,10000,50000", "--m")
    predictors = _names(args.predictors, args._nb101_predictors.split(","))
    with progress_for(args.quiet) as progress:
        out = run_study(
            args.out,
            ns,
            ms,
            seeds,
            predictors=predictors,
            preset=args.preset,
            max_steps=DEFAULT_MAX_STEPS if args.max_steps is None else args.max_steps,
            train_steps=args.train_steps or 0,
            epochs=args.epochs,
            pretrain_epochs=args.pretrain_epochs,
            data_dir=args.data_dir,
            threads=args.threads,
            progress=progress,
        )
    return _report(out)


def _nb201(args: argparse.Namespace, seeds: list[int]) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.predictor_study import nb201 as study

    _refuse(args, {"preset": "--preset", "max_steps": "--max-steps",
                   "train_steps": "--train-steps", "epochs": "--epochs",
                   "pretrain_epochs": "--pretrain-epochs"}, "nb101")
    ns = _int_list(args.n or ",".join(map(str, study.DEFAULT_NS)), "--n")
    ms = _int_list(args.m or "1000", "--m")
    if len(ms) != 1:
        raise SeminasError(f"--m takes one number with --space nb201, got {args.m!r}")
    with progress_for(args.quiet) as progress:
        out = study.run_nb201_study(
            args.out,
            datasets=_names(args.datasets, study.DATASETS),
            predictors=_names(args.predictors, study.DEFAULT_PREDICTORS),
            variants=_names(args.variants, study.VARIANTS),
            ns=ns,
            seeds=seeds,
            m=ms[0],
            upsample=10 if args.upsample is None else args.upsample,
            data_dir=args.data_dir,
            threads=args.threads,
            progress=progress,
        )
    return _report(out)


def _report(out: Any) -> int:
    print(f"{out.cells} cells ({out.new_cells} new)")
    print(f"results  {out.results}")
    print(f"summary  {out.summary_md}")
    print(f"plot     {out.plot}")
    print(Path(out.summary_md).read_text())
    return 0
