"""``seminas zero-cost study``: training-free scores (DAS, NASWOT, synflow) of NAS-Bench-201
cells against the table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError


def _cells(text: str) -> int | str:
    if str(text).strip().lower() == "all":
        return "all"
    try:
        return int(str(text).replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of cells or 'all', got {text!r}"
        ) from None


def _scores(text: str) -> tuple[str, ...]:
    from seminas.experiments.zero_cost.study import ALL_SCORES

    names = tuple(n.strip().lower() for n in str(text).split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_SCORES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown score {', '.join(unknown) or repr(text)}: give a comma-separated list "
            f"of {', '.join(ALL_SCORES)}"
        )
    return tuple(n for n in ALL_SCORES if n in names)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``zero-cost`` (with its ``study`` subcommand) on the main parser's subparsers."""
    from seminas.cli.input import Parser
    from seminas.experiments.zero_cost.study import (
        ALL_SCORES,
        DEFAULT_BATCH_SIZE,
        DEFAULT_CELLS,
        NETWORKS,
    )

    group = sub.add_parser(
        "zero-cost",
        help="training-free scores of networks at initialisation (DAS, NASWOT, synflow)",
        description="Training-free ('zero-cost') scores of NAS-Bench-201 networks.",
    )
    commands = group.add_subparsers(dest="zero_cost_command", required=True,
                                    parser_class=Parser)
    p = commands.add_parser(
        "study",
        help="rank correlation of each score with the NAS-Bench-201 table on a seeded sample",
        description="Score a seeded random sample of NAS-Bench-201 cells with DAS, NASWOT and "
        "synflow (one batch of real CIFAR-10 images, seeded initialisation) and compare with "
        "the table: Kendall tau and Spearman rho on CIFAR-10, CIFAR-100 and ImageNet16-120, "
        "overall and within the top 10%%. Writes results.jsonl (resumable), summary.json, "
        "summary.md, scatter-<score>.png and scores.npz.",
    )
    p.add_argument("--cells", type=_cells, default=DEFAULT_CELLS,
                   help=f"cells to score, or 'all' (15,625; default {DEFAULT_CELLS})")
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the cell sample, the image batch and the initialisations")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help=f"images in the batch (default {DEFAULT_BATCH_SIZE})")
    p.add_argument("--network", choices=tuple(NETWORKS), default="standard",
                   help="standard: 16 channels, 5 cells per stage (the benchmark's); cpu-scale: "
                   "8 channels, 1 cell per stage (for quick checks)")
    p.add_argument("--scores", type=_scores, default=ALL_SCORES,
                   help="comma-separated scores to compute (default: all, "
                   f"{','.join(ALL_SCORES)}); synflow alone is about 4x cheaper, enough for a "
                   "whole-space filter file")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study)
    return p


def cmd_study(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.zero_cost import StudySettings, run_study

    if args.threads < 1:
        raise SeminasError(f"--threads must be at least 1, got {args.threads}")
    settings = StudySettings(seed=args.seed, batch_size=args.batch_size, network=args.network,
                             scores=args.scores)
    with progress_for(args.quiet) as progress:
        out = run_study(args.out, args.cells, settings, data_dir=args.data_dir,
                        threads=args.threads, progress=progress)
    print(f"{out.cells} cells ({out.new_cells} new)")
    print(f"results  {out.results}")
    print(f"scores   {out.scores}")
    print(f"summary  {out.summary_md}")
    print(Path(out.summary_md).read_text())
    return 0
