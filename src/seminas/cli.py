"""The ``seminas`` command line. Every user error ends as one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from seminas.errors import SeminasError
from seminas.options import parse_overrides
from seminas.registry import space_names
from seminas.strategies import strategy_names
from seminas.study import commands as study_commands


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


_parse_overrides = parse_overrides


# -- data ---------------------------------------------------------------------------------
def cmd_data_check(args: argparse.Namespace) -> int:
    from seminas.data_cli import cmd_check

    return cmd_check(args)


def cmd_data_where(args: argparse.Namespace) -> int:
    from seminas.data_cli import cmd_where

    return cmd_where(args)


# -- spaces -------------------------------------------------------------------------------
def cmd_nb101_enumerate(args: argparse.Namespace) -> int:
    from seminas.spaces.nb101_enum import load_or_build

    enum = load_or_build(args.cache, progress=not args.quiet)
    print(f"{len(enum)} unique cells")
    print(f"cache: {enum.path}")
    return 0


def cmd_nb101_hash(args: argparse.Namespace) -> int:
    from seminas.spaces.nb101 import NB101Space

    path = Path(args.file)
    try:
        items = json.loads(path.read_text())
    except FileNotFoundError:
        raise SeminasError(f"no such file {path}: give a JSON list of cells") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeminasError(
            f"cannot read {path} as JSON ({exc.__class__.__name__}): it must be a JSON list of "
            f'{{"matrix": [[...]], "ops": [...]}} or {{"matrix": ..., "labels": ...}}'
        ) from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise SeminasError(f"{path} must hold a JSON list of cells, got {type(items).__name__}")
    space = NB101Space()
    for i, item in enumerate(items):
        try:
            print(space.arch_id(space.from_native(item)))
        except SeminasError as exc:
            raise SeminasError(f"{path}: cell {i}: {exc}") from None
    return 0


# -- query ---------------------------------------------------------------------------------
def cmd_query(args: argparse.Namespace) -> int:
    from seminas.builtins import default_query
    from seminas.cli_input import check_query_args
    from seminas.registry import resolve, space_entry

    check_query_args(args)  # one of --arch/--index/--hash; options of this space only
    entry = space_entry(args.space)  # the space's own query (nb201: --index, nb101: --hash)
    if entry.query is not None:
        bench, record = resolve(entry.query)(args)
    else:
        bench, record = default_query(entry, args)
    out = record.to_dict()
    out["search_metric_name"] = bench.search_metric_name
    out["report_metric_name"] = bench.report_metric_name
    print(json.dumps(out, indent=2))
    return 0


# -- search ----------------------------------------------------------------------------------
def _search_evaluator(args: argparse.Namespace):
    from seminas.benchmarks.factory import make_evaluator

    return make_evaluator(
        args.space,
        dataset=args.dataset,
        fidelity=args.fidelity,
        data_dir=args.data_dir,
        nb101_file=args.nb101_file,
        epochs=args.epochs,
        seed=args.seed,
        progress=not args.quiet,
        evaluator=args.evaluator,
        data=args.data,
        network=args.network,
        channels=args.channels,
        cells=args.cells,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from seminas.cli_input import refuse_inapplicable
    from seminas.execution.cli import resolve_search_args, search_backend, simulated_evaluator
    from seminas.strategies import make_strategy, resolve_preset, run_search, strategy_class

    refuse_inapplicable(args, args.evaluator)  # e.g. --epochs on a NAS-Bench-201 table
    resolve_search_args(args)  # --epochs per evaluator; option combinations
    strategy_class(args.strategy)  # an unknown name is one clear error before anything loads
    preset = args.preset
    if preset is None or preset == "fast":  # default: the strategy's fast settings for the space
        preset = resolve_preset(args.strategy, preset, args.space)
    strategy = make_strategy(args.strategy, preset, **_parse_overrides(args.set))
    evaluator = simulated_evaluator(args, _search_evaluator(args))  # --simulate-time
    check_budget = getattr(evaluator.space, "check_budget", None)
    if check_budget is not None:  # more queries than architectures: refused now, not at the end
        check_budget(args.budget)
    if args.study or args.workers_external:
        from seminas.study.commands import search_with_study

        return search_with_study(args, strategy, evaluator, preset)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.fields[phase]:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("queries  best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
        disable=args.quiet,
    )
    with progress:
        task = progress.add_task("search", total=args.budget, phase="starting", best="-")

        def on_event(ctx) -> None:
            best = ctx.best_search_metric()
            progress.update(
                task,
                completed=len(ctx.trials),
                phase=ctx.phase,
                best="-" if best is None else f"{best:.3f}",
            )

        with search_backend(args) as backend:  # None: evaluate here; else workers / Ray
            result = run_search(strategy, evaluator, args.budget, args.seed, on_event, backend)
    study_commands.print_result(args, result, evaluator)
    return study_commands.exit_status(result)


def cmd_bench(args: argparse.Namespace) -> int:
    from seminas.cli_input import refuse_inapplicable
    from seminas.harness import bench
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
    out = bench(
        args.space,
        args.dataset,
        args.strategies,
        args.budget,
        args.seeds,
        args.out,
        workers=args.workers,
        preset=args.preset,
        overrides=_bench_overrides(args.set, args.strategies),
        fidelity=fidelity,
        data_dir=args.data_dir,
        command="seminas " + shlex.join(sys.argv[1:]),
        progress=not args.quiet,
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
    from seminas.experiments.plan import describe, load_experiment
    from seminas.harness import DEFAULT_BUDGETS, bench, make_specs

    exp = load_experiment(args.file)
    for dataset in exp.datasets:  # every bench checked before the first one runs for hours
        make_specs(exp.space, dataset, list(exp.variants), exp.budget, exp.seeds,
                   fidelity=exp.fidelity, data_dir=args.data_dir, preset=exp.preset)
    for line in describe(exp):
        print(line, flush=True)
    if args.dry_run:
        return 0
    for dataset in exp.datasets:
        out = bench(
            exp.space,
            dataset,
            list(exp.variants),
            exp.budget,
            exp.seeds,
            exp.bench_dir(dataset),
            workers=args.workers or exp.workers,
            preset=exp.preset,
            fidelity=exp.fidelity,
            data_dir=args.data_dir,
            budgets=exp.budgets or DEFAULT_BUDGETS,
            command=f"seminas experiment run {args.file}",
            progress=not args.quiet,
        )
        print(f"{dataset}: {out.runs} runs ({out.new_runs} new, {out.skipped} already done); "
              f"summary {out.summary_md}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """What the registries hold: built-ins (``seminas``) and installed packages' entry points."""
    from seminas.registry import describe

    listing = describe()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for group, entries in listing.items():
        print(f"{group}:")
        for e in entries:
            print(f"  {e['name']:<14s} {e['origin']}")
    return 0


# -- parser ----------------------------------------------------------------------------------
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seminas")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seminas", description=__doc__)
    parser.add_argument("--version", action="version", version=f"seminas {_version()}")
    parser.add_argument(
        "--data-dir",
        help="benchmark data directory, then the only one read (default: $SEMINAS_DATA, the "
        "per-user data dir, ...; NAS-Bench-201 falls back to the table shipped with seminas; "
        "see `seminas data where`)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="check the benchmark data files")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    check = data_sub.add_parser(
        "check", help="every data source, its checksum, and what to do for a missing benchmark"
    )
    check.set_defaults(func=cmd_data_check)
    where = data_sub.add_parser("where", help="the places data is looked for, in search order")
    where.set_defaults(func=cmd_data_where)
    from seminas.importers.cli import add_parser as add_data_import

    add_data_import(data_sub)  # `seminas data import FILE-or-DIR`

    space = sub.add_parser("space", help="search-space utilities")
    space_sub = space.add_subparsers(dest="space", required=True, parser_class=_Parser)
    nb101 = space_sub.add_parser("nb101", help="NAS-Bench-101 cell space")
    nb101_sub = nb101.add_subparsers(dest="nb101_command", required=True, parser_class=_Parser)
    enum = nb101_sub.add_parser("enumerate", help="build (once) and cache all 423,624 cells")
    enum.add_argument("--cache", help="cache file (default: in the seminas cache directory)")
    enum.add_argument("--quiet", action="store_true")
    enum.set_defaults(func=cmd_nb101_enumerate)
    hsh = nb101_sub.add_parser("hash", help="official module hash of each cell in a JSON file")
    hsh.add_argument("file", help='JSON list of {"matrix", "ops"} or {"matrix", "labels"}')
    hsh.set_defaults(func=cmd_nb101_hash)

    def add_benchmark_options(p: argparse.ArgumentParser) -> None:
        # every registered space, built-in or installed plugin (seminas.registry)
        p.add_argument("--space", choices=space_names(), default="nb201")
        p.add_argument(
            "--dataset",
            help="nb201: cifar10 (default), cifar100 or ImageNet16-120; another space: its own",
        )
        p.add_argument("--fidelity", type=int, help="nb201: 200 (default) or 12 epochs")
        p.add_argument("--nb101-file", help="official nasbench_only108/full .tfrecord")
        p.add_argument("--epochs", type=int, default=108, help="nb101: 4, 12, 36 or 108")

    query = sub.add_parser("query", help="look up one architecture in a tabular benchmark")
    add_benchmark_options(query)
    query.add_argument("--arch", help="nb201 string, or nb101 JSON {matrix, ops}")
    query.add_argument("--index", type=int, help="nb201 official index")
    query.add_argument("--hash", help="nb101 module hash")
    query.add_argument(
        "--subset",
        action="store_true",
        help="nb101: the real 20k subset instead of the official file",
    )
    query.add_argument("--seed", type=int, default=0, help="nb101: which run a query returns")
    query.add_argument("--run-seed", type=int, metavar="SEED", help="nb201, imported tables: "
                       "the run trained with this seed (e.g. 777) instead of the mean over runs")
    query.add_argument("--at-epoch", type=int, metavar="E", help="nb201, imported tables: the "
                       "validation accuracy after E epochs (1..fidelity) from the learning curve")
    query.set_defaults(func=cmd_query)

    search = sub.add_parser("search", help="run one search")
    add_benchmark_options(search)
    search.add_argument("--strategy", default="seminas", help=", ".join(strategy_names()))
    search.add_argument("--preset", help="named settings, e.g. paper-nb101 (default: the "
                        "strategy's fast-<space> preset, else the one named after the space)")
    search.add_argument("--budget", type=_positive_int, default=100, help="queries to spend")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one strategy option (repeatable)",
    )
    search.add_argument("--json", action="store_true", help="print the result as JSON")
    search.add_argument("--out", help="also write the result JSON to this file")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    study_commands.add_search_options(search)
    from seminas.execution.cli import add_search_options as add_training_options

    add_training_options(search)  # --evaluator train, --workers, --executor ray, faults
    search.set_defaults(func=cmd_search)
    study_commands.add_commands(sub, _positive_int)
    from seminas.supernet.cli import add_parser as add_mobilenet_commands

    add_mobilenet_commands(sub, _positive_int)

    bench = sub.add_parser("bench", help="many seeds x strategies: results, summary, curves")
    add_benchmark_options(bench)
    bench.add_argument("--strategies", default="seminas,nao,re,rs",
                       help=f"comma-separated, from {','.join(strategy_names())}")
    bench.add_argument("--budget", type=_positive_int, default=300)
    bench.add_argument("--seeds", default="0-9", help='e.g. "0-99" or "0,3,5-7"')
    bench.add_argument("--preset", help="applied to each strategy that defines it (default and "
                       "otherwise: its fast-<space> preset, else the one named after the space)")
    bench.add_argument("--workers", type=_positive_int, help="parallel runs (default: cores)")
    bench.add_argument("--out", required=True, help="output directory")
    bench.add_argument("--quiet", action="store_true")
    bench.add_argument("--set", action="append", metavar="[NAME.]KEY=VALUE",
                       help="strategy option for every strategy that has KEY, or for NAME only; "
                       "a variant of one strategy: --strategies 'weaknas,weaknas[top_m=50]'")
    bench.set_defaults(func=cmd_bench)
    experiment = sub.add_parser("experiment", help="a whole comparison from one TOML file")
    experiment_sub = experiment.add_subparsers(dest="experiment_command", required=True)
    exp_run = experiment_sub.add_parser(
        "run", help="run (or resume) every bench of an experiment file "
        "(variants x datasets x budget x seeds; see seminas.experiments.plan)")
    exp_run.add_argument("file", help="the experiment's TOML file")
    exp_run.add_argument("--workers", type=_positive_int, help="parallel runs (default: cores)")
    exp_run.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")
    exp_run.add_argument("--quiet", action="store_true")
    exp_run.set_defaults(func=cmd_experiment_run)
    from seminas.predictor_study_cli import add_parser as add_predictor_study

    add_predictor_study(sub)
    plugins = sub.add_parser("plugins", help="registered spaces, strategies, evaluators, "
                             "predictors, and the package each comes from")
    plugins.add_argument("--json", action="store_true", help="print the list as JSON")
    plugins.set_defaults(func=cmd_plugins)
    from seminas.cli_input import prepare_parser

    prepare_parser(parser)  # --data-dir after the subcommand too; output kinds; given options
    return parser


def main(argv: list[str] | None = None) -> int:
    from seminas.cli_input import check_args, one_line_warnings

    with one_line_warnings():  # e.g. a plugin's entry point ignored while listing names
        parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with one_line_warnings():  # "warning: ...", no source path or code line
            check_args(args)  # seeds, output paths: before any work
            return int(args.func(args) or 0)
    except SeminasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C; SIGTERM where a command maps it (bench)
        print(getattr(exc, "message", "") or "interrupted", file=sys.stderr)
        from seminas.lifecycle import exit_code

        return exit_code(exc)  # 130, or 143 for SIGTERM
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
