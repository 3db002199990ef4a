"""The ``seminas`` command line. Every user error ends as one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from seminas.errors import SeminasError
from seminas.options import parse_overrides
from seminas.strategies import strategy_names
from seminas.study import commands as study_commands


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


_parse_overrides = parse_overrides


# -- data ---------------------------------------------------------------------------------
def cmd_data_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from seminas.data import available_benchmarks, check_files, data_dir

    root = data_dir(args.data_dir)
    statuses = check_files(args.data_dir)
    table = Table(title=f"data directory: {root}")
    table.add_column("file")
    table.add_column("benchmark")
    table.add_column("status")
    for st in statuses:
        colour = "green" if st.status.startswith("ok") else "red"
        table.add_row(st.relpath, st.benchmark, f"[{colour}]{st.status}[/{colour}]")
    console = Console()
    console.print(table)
    avail = available_benchmarks(statuses)
    for name, ok in avail.items():
        console.print(f"{name:14s} {'available' if ok else 'not available'}")
    bad = [st for st in statuses if st.status == "checksum mismatch"]
    return 1 if bad else 0


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
def _nb101_benchmark(args: argparse.Namespace):
    if getattr(args, "subset", False):
        from seminas.benchmarks.nb101 import NB101SubsetBenchmark

        return NB101SubsetBenchmark(epochs=args.epochs, data_dir=args.data_dir)
    from seminas.benchmarks.nb101 import NB101Benchmark

    return NB101Benchmark(
        args.nb101_file, epochs=args.epochs, seed=args.seed, data_dir=args.data_dir
    )


def cmd_query(args: argparse.Namespace) -> int:
    if args.space == "nb201":
        from seminas.benchmarks.nb201 import NB201Benchmark

        bench = NB201Benchmark(args.dataset, fidelity=args.fidelity, data_dir=args.data_dir)
        if args.index is not None:
            arch = bench.arch_at(args.index)
        elif args.arch is not None:
            arch = args.arch
        else:
            raise SeminasError("nb201 query needs --arch STRING or --index N")
        record = bench.query(arch)
    else:
        bench = _nb101_benchmark(args)
        if args.hash is not None:
            record = bench.query_hash(args.hash)
        elif args.arch is not None:
            try:
                native = json.loads(args.arch)
            except json.JSONDecodeError:
                raise SeminasError(
                    'nb101 --arch must be JSON: {"matrix": [[...]], "ops": [...]}'
                ) from None
            record = bench.query(native)
        else:
            raise SeminasError("nb101 query needs --hash H or --arch JSON")
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

    from seminas.execution.cli import resolve_search_args, search_backend
    from seminas.strategies import make_strategy, resolve_preset, run_search, strategy_class

    resolve_search_args(args)  # --epochs per evaluator; option combinations
    strategy_class(args.strategy)  # an unknown name is one clear error before anything loads
    preset = args.preset
    if preset is None or preset == "fast":  # default: the strategy's fast settings for the space
        preset = resolve_preset(args.strategy, preset, args.space)
    strategy = make_strategy(args.strategy, preset, **_parse_overrides(args.set))
    evaluator = _search_evaluator(args)
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
    from seminas.harness import bench

    out = bench(
        args.space,
        args.dataset,
        args.strategies,
        args.budget,
        args.seeds,
        args.out,
        workers=args.workers,
        preset=args.preset,
        fidelity=args.fidelity,
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


# -- parser ----------------------------------------------------------------------------------
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
    parser.add_argument(
        "--data-dir",
        help="benchmark data directory (default: $SEMINAS_DATA, "
        "else ../shared/data next to the project)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="check the benchmark data files")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    check = data_sub.add_parser("check", help="verify checksums, list available benchmarks")
    check.set_defaults(func=cmd_data_check)

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
        p.add_argument("--space", choices=["nb201", "nb101"], default="nb201")
        p.add_argument(
            "--dataset", default="cifar10", help="nb201: cifar10, cifar100 or ImageNet16-120"
        )
        p.add_argument("--fidelity", type=int, default=200, help="nb201: 200 or 12 epochs")
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
    bench.set_defaults(func=cmd_bench)
    from seminas.predictor_study_cli import add_parser as add_predictor_study

    add_predictor_study(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SeminasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
