"""``seminas query`` (one table record) and ``seminas search`` (one search, with or without a
study file)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from seminas.cli.input import add_benchmark_options, positive_int
from seminas.options import parse_overrides
from seminas.progress import Progress


# -- query ---------------------------------------------------------------------------------
def cmd_query(args: argparse.Namespace) -> int:
    from seminas.builtins import default_query
    from seminas.cli.input import check_query_args
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
def _search_evaluator(args: argparse.Namespace, progress: Progress) -> Any:
    from seminas.benchmarks.factory import make_evaluator

    return make_evaluator(
        args.space,
        dataset=args.dataset,
        fidelity=args.fidelity,
        data_dir=args.data_dir,
        nb101_file=args.nb101_file,
        epochs=args.epochs,
        seed=args.seed,
        progress=progress,
        evaluator=args.evaluator,
        data=args.data,
        network=args.network,
        channels=args.channels,
        cells=args.cells,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from seminas.cli.execution import resolve_search_args, search_backend
    from seminas.cli.input import refuse_inapplicable
    from seminas.cli.progress import SearchBar, progress_for
    from seminas.cli.study import exit_status, print_result
    from seminas.strategies import make_strategy, resolve_preset, run_search, strategy_class

    refuse_inapplicable(args, args.evaluator)  # e.g. --epochs on a NAS-Bench-201 table
    resolve_search_args(args)  # --epochs per evaluator; option combinations
    strategy_class(args.strategy)  # an unknown name is one clear error before anything loads
    preset = args.preset
    if preset is None or preset == "fast":  # default: the strategy's fast settings for the space
        preset = resolve_preset(args.strategy, preset, args.space)
    strategy = make_strategy(args.strategy, preset, **parse_overrides(args.set))
    if args.study or args.workers_external:
        from seminas.cli.study import search_with_study

        with progress_for(args.quiet) as progress:  # a table converted once, an enumeration
            evaluator = _checked_evaluator(args, progress)
        return search_with_study(args, strategy, evaluator, preset)
    with progress_for(args.quiet) as progress:
        evaluator = _checked_evaluator(args, progress)
        bar = SearchBar(progress, args.budget)
        with search_backend(args) as backend:  # None: evaluate here; else workers / Ray
            result = run_search(strategy, evaluator, args.budget, args.seed, bar.on_event,
                                backend)
    print_result(args, result, evaluator)
    return exit_status(result)


def _checked_evaluator(args: argparse.Namespace, progress: Progress) -> Any:
    """The search's evaluator (``--simulate-time`` applied), its budget checked against the
    space's size: more queries than architectures are refused now, not at the end."""
    from seminas.cli.execution import simulated_evaluator

    evaluator = simulated_evaluator(args, _search_evaluator(args, progress))
    check_budget = getattr(evaluator.space, "check_budget", None)
    if check_budget is not None:
        check_budget(args.budget)
    return evaluator


# -- parser ----------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """Register ``query`` and ``search`` on the main parser's subparsers."""
    from seminas.cli import study
    from seminas.cli.execution import add_search_options as add_training_options
    from seminas.strategies import strategy_names

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
    search.add_argument("--budget", type=positive_int, default=100, help="queries to spend")
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
    study.add_search_options(search)
    add_training_options(search)  # --evaluator train, --workers, --executor ray, faults
    search.set_defaults(func=cmd_search)
