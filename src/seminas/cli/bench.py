"""``seminas bench`` (many seeds x strategy variants: results, summary, curves) and
``seminas experiment run`` (every bench of a TOML experiment file)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from seminas.cli.input import add_benchmark_options, positive_int
from seminas.errors import SeminasError
from seminas.options import number, parse_overrides


def _executor_choice(args: argparse.Namespace) -> Any:
    """Where the runs go (``--executor``, ``--ray-address``) and how failures are handled
    (``--run-timeout``, ``--retries``); a wrong Ray address or a missing Ray fails here, in one
    line, before any run."""
    from seminas.experiments.bench import ExecutorChoice

    if args.ray_address is not None and args.executor != "ray":
        raise SeminasError("--ray-address needs --executor ray")
    if args.executor == "ray":
        from seminas.execution.ray_executor import check_address, import_ray

        import_ray()
        if args.ray_address is not None:
            check_address(args.ray_address)
    return ExecutorChoice(args.executor, args.ray_address, args.retries, args.run_timeout)


def cmd_bench(args: argparse.Namespace) -> int:
    from seminas.cli.input import refuse_inapplicable
    from seminas.cli.progress import progress_for
    from seminas.experiments.bench import bench
    from seminas.options import given_options

    refuse_inapplicable(args, "table")
    given = given_options(args)
    if "nb101_file" in given:
        raise SeminasError("bench reads the NAS-Bench-101 file from the data directory: put it in "
                           "DIR/nasbench101/ and pass --data-dir DIR instead of --nb101-file")
    fidelity = args.fidelity
    if "epochs" in given:  # a table's epochs are its fidelity (NAS-Bench-101: 4, 12, 36, 108)
        if "fidelity" in given and args.fidelity != args.epochs:
            raise SeminasError(f"--epochs {args.epochs} and --fidelity {args.fidelity} disagree: "
                               f"give one")
        fidelity = args.epochs
    overrides = _bench_overrides(args.set, args.strategies)
    executor = _executor_choice(args)
    with progress_for(args.quiet) as progress:
        out = bench(
            args.space,
            args.dataset,
            args.strategies,
            args.budget,
            args.seeds,
            args.out,
            workers=args.workers,
            executor=executor,
            preset=args.preset,
            overrides=overrides,
            fidelity=fidelity,
            data_dir=args.data_dir,
            command="seminas " + shlex.join(sys.argv[1:]),
            progress=progress,
        )
    print(f"{out.runs} runs ({out.new_runs} new, {out.skipped} already done)")
    print(f"results  {out.results}")
    print(f"summary  {out.summary_md}")
    print(f"curves   {out.curves}")
    print(Path(out.summary_md).read_text())
    return 0


def _bench_overrides(items: list[str] | None, strategies: str) -> dict[str, dict[str, object]]:
    """``--set KEY=VALUE`` for every strategy of the bench that has the option KEY (at least one
    must), ``--set NAME.KEY=VALUE`` for strategy NAME only."""
    from dataclasses import fields

    from seminas.experiments.plan import variants_from
    from seminas.strategies import strategy_class

    names = list(dict.fromkeys(v.strategy for v in variants_from(strategies)))
    out: dict[str, dict[str, object]] = {}
    for key, value in parse_overrides(items).items():
        target, dot, option = key.partition(".")
        if dot:
            if target not in names:
                raise SeminasError(f"--set {key}: {target!r} is not in --strategies "
                                   f"({', '.join(names)})")
            out.setdefault(target, {})[option] = value
            continue
        having = [n for n in names
                  if key in {f.name for f in fields(strategy_class(n).Config)}]
        if not having:
            raise SeminasError(f"--set {key}: no strategy of the bench ({', '.join(names)}) has "
                               f"an option {key!r}; write NAME.{key}=VALUE for one strategy")
        for name in having:
            out.setdefault(name, {})[key] = value
    return out


def cmd_experiment_run(args: argparse.Namespace) -> int:
    """Every bench of an experiment file, one after the other (each resumable)."""
    from seminas.cli.progress import progress_for
    from seminas.experiments.bench import DEFAULT_BUDGETS, bench, make_specs
    from seminas.experiments.plan import describe, load_experiment

    exp = load_experiment(args.file)
    for dataset in exp.datasets:  # every bench checked before the first one runs for hours
        make_specs(exp.space, dataset, list(exp.variants), exp.budget, exp.seeds,
                   fidelity=exp.fidelity, data_dir=args.data_dir, preset=exp.preset)
    for line in describe(exp):
        print(line, flush=True)
    executor = _executor_choice(args)
    if args.dry_run:
        return 0
    for dataset in exp.datasets:
        with progress_for(args.quiet) as progress:
            out = bench(
                exp.space,
                dataset,
                list(exp.variants),
                exp.budget,
                exp.seeds,
                exp.bench_dir(dataset),
                workers=args.workers or exp.workers,
                executor=executor,
                preset=exp.preset,
                fidelity=exp.fidelity,
                data_dir=args.data_dir,
                budgets=exp.budgets or DEFAULT_BUDGETS,
                command=f"seminas experiment run {args.file}",
                progress=progress,
            )
        print(f"{dataset}: {out.runs} runs ({out.new_runs} new, {out.skipped} already done); "
              f"summary {out.summary_md}")
    return 0


# -- parser ----------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """Register ``bench`` and ``experiment`` on the main parser's subparsers."""
    from seminas.strategies import strategy_names

    bench = sub.add_parser("bench", help="many seeds x strategies: results, summary, curves")
    add_benchmark_options(bench)
    bench.add_argument("--strategies", default="seminas,nao,re,rs",
                       help=f"comma-separated, from {','.join(strategy_names())}")
    bench.add_argument("--budget", type=positive_int, default=300)
    bench.add_argument("--seeds", default="0-9", help='e.g. "0-99" or "0,3,5-7"')
    bench.add_argument("--preset", help="applied to each strategy that defines it (default and "
                       "otherwise: its fast-<space> preset, else the one named after the space)")
    bench.add_argument("--workers", type=positive_int, help="parallel runs (default: cores)")
    bench.add_argument("--out", required=True, help="output directory")
    bench.add_argument("--quiet", action="store_true")
    bench.add_argument("--set", action="append", metavar="[NAME.]KEY=VALUE",
                       help="strategy option for every strategy that has KEY, or for NAME only; "
                       "a variant of one strategy: --strategies 'weaknas,weaknas[top_m=50]'")
    _add_run_options(bench)
    bench.set_defaults(func=cmd_bench)

    experiment = sub.add_parser("experiment", help="a whole comparison from one TOML file")
    experiment_sub = experiment.add_subparsers(dest="experiment_command", required=True)
    exp_run = experiment_sub.add_parser(
        "run", help="run (or resume) every bench of an experiment file "
        "(variants x datasets x budget x seeds; see seminas.experiments.plan)")
    exp_run.add_argument("file", help="the experiment's TOML file")
    exp_run.add_argument("--workers", type=positive_int, help="parallel runs (default: cores)")
    exp_run.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")
    exp_run.add_argument("--quiet", action="store_true")
    _add_run_options(exp_run)
    exp_run.set_defaults(func=cmd_experiment_run)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where a bench's runs go and how a failed one is handled (seminas.execution)."""
    g = parser.add_argument_group("where runs go (each run is one job of an executor)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: --workers processes on this machine (default); ray: Ray tasks")
    g.add_argument("--ray-address", metavar="ADDR",
                   help="with --executor ray: 'auto' or HOST:PORT of a running cluster "
                   "(default: start a local Ray instance)")
    g.add_argument("--run-timeout", type=number(float, above=0), metavar="SECONDS",
                   help="kill a run (one search) taking longer than this; it counts as failed")
    g.add_argument("--retries", type=number(int, low=0), default=1,
                   help="extra attempts of a failed run, same seed, before it is given up and "
                   "written to errors.jsonl (default 1)")
