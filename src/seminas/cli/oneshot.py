"""``seminas oneshot ...``: the NAS-Bench-201 weight-sharing supernet and one-shot searches.

- ``supernet``: train the sampled-path supernet on the CIFAR-10 subset, score all 15,625 cells
  with inherited weights (BN recalibrated) and rank them against the benchmark (Kendall tau,
  Spearman rho); writes the weak labels ``scores.npz``;
- ``search``: DARTS, ZARTS, BaLeNAS or PONAS over seeds, one record per seed (resumable), then
  the report ``oneshot.md`` beside the published numbers;
- ``report``: rewrite the report from the records.
"""

from __future__ import annotations

import argparse
from typing import Any

from seminas.cli.input import positive_int
from seminas.options import parse_overrides


def cmd_supernet(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.oneshot.score_all import SupernetConfig, run, summary_lines
    from seminas.supernet.data import check_data_source

    check_data_source(args.data, getattr(args, "data_dir", None))
    cfg = SupernetConfig(
        data=args.data, data_dir=getattr(args, "data_dir", None), heldout=args.heldout,
        seed=args.seed, channels=args.channels, cells_per_stage=args.cells_per_stage,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, calib_batches=args.calib_batches,
        calib_batch_size=args.calib_batch_size, chunk=args.chunk, limit=args.limit,
        processes=args.processes, threads=args.threads,
    )
    with progress_for(args.quiet) as progress:
        summary = run(cfg, args.out, progress)
    print("\n".join(summary_lines(summary)))
    print(f"weak labels: {args.out}/scores.npz; summary: {args.out}/summary.json")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.experiments.seeds import parse_seeds
    from seminas.oneshot.report import write_report
    from seminas.oneshot.search import method, run_searches

    m = method(args.method)
    seeds = parse_seeds(args.seeds)
    overrides = parse_overrides(args.set)
    for flag in ("epochs", "max_steps", "threads", "max_params"):
        value = getattr(args, flag)
        if value is not None:
            overrides[flag] = value
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir

    def line(rec: dict[str, Any]) -> None:
        t = rec["table"]["cifar10"]
        print(f"{rec['method']} seed {rec['seed']}: {rec['cell']}  CIFAR-10 test "
              f"{t['test']:.2f}%  ({rec['cpu_seconds']:.0f} CPU s)", flush=True)

    with progress_for(args.quiet) as progress:
        run_searches(m.name, seeds, args.out, overrides, progress, on_record=line)
    print(f"report: {write_report(args.out)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seminas.oneshot.report import write_report

    path = write_report(args.out)
    print(path.read_text())
    return 0


def add_parser(sub: Any) -> None:
    """Register ``seminas oneshot`` and its commands on the CLI's subparsers."""
    one = sub.add_parser("oneshot", help="NAS-Bench-201 weight-sharing supernet and one-shot "
                         "searches (DARTS, ZARTS, BaLeNAS, PONAS)")
    osub = one.add_subparsers(
        dest="oneshot_command", required=True,
        parser_class=getattr(sub, "_parser_class", argparse.ArgumentParser),
    )
    sn = osub.add_parser("supernet", help="train the supernet, score all 15,625 cells, rank them")
    sn.add_argument("--out", required=True, help="output directory (resumable)")
    sn.add_argument("--data", default="cifar10-10k")
    sn.add_argument("--heldout", type=float, default=500,
                    help="held-out training images for scoring: a count or a fraction")
    sn.add_argument("--seed", type=int, default=0)
    sn.add_argument("--channels", type=positive_int, default=8)
    sn.add_argument("--cells-per-stage", type=positive_int, default=1)
    sn.add_argument("--epochs", type=float, default=100.0)
    sn.add_argument("--batch-size", type=positive_int, default=64)
    sn.add_argument("--lr", type=float, default=0.1)
    sn.add_argument("--weight-decay", type=float, default=5e-4)
    sn.add_argument("--calib-batches", type=positive_int, default=2)
    sn.add_argument("--calib-batch-size", type=positive_int, default=64)
    sn.add_argument("--chunk", type=positive_int, default=250, help="cells per stored line")
    sn.add_argument("--limit", type=positive_int, help="score only this many cells (sample)")
    sn.add_argument("--processes", type=positive_int, default=1, help="DDP processes (gloo)")
    sn.add_argument("--threads", type=positive_int, default=1)
    sn.add_argument("--quiet", action="store_true")
    sn.set_defaults(func=cmd_supernet)

    se = osub.add_parser("search", help="one-shot searches over seeds, then the report")
    se.add_argument("--method", required=True, choices=["darts", "zarts", "balenas", "ponas"])
    se.add_argument("--seeds", default="0-4", help="7, 0-4 or 0,3,5-7")
    se.add_argument("--out", required=True, help="output directory (resumable, shared by methods)")
    se.add_argument("--epochs", type=float, help="search epochs (method default otherwise)")
    se.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    se.add_argument("--max-params", type=float,
                    help="PONAS: parameter limit in millions at benchmark size")
    se.add_argument("--threads", type=positive_int)
    se.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="any other setting of the method (docs/oneshot.md), repeatable")
    se.add_argument("--quiet", action="store_true")
    se.set_defaults(func=cmd_search)

    rp = osub.add_parser("report", help="rewrite oneshot.md from a search directory")
    rp.add_argument("--out", required=True, help="the search output directory")
    rp.set_defaults(func=cmd_report)
