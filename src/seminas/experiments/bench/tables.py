"""The tabular benchmark a bench runs on: built from the space's registry entry, described for
summaries (metrics, global optimum), and loaded once per worker process."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from seminas.errors import SeminasError

if TYPE_CHECKING:
    from seminas.benchmarks.base import Evaluator
    from seminas.experiments.bench.specs import RunSpec


def normalise_space(space: str) -> str:
    """The registered name of ``space`` or of a space listing it as an alias (any case)."""
    from seminas.registry import resolve_space_name

    return resolve_space_name(space)


def bench_table_options(
    space: str, dataset: str | None = None, fidelity: int | None = None
) -> dict[str, Any]:
    """The table options of a bench on ``space``, defaults filled in and checked by the space's
    entry. A bench passes ``dataset`` and ``fidelity`` (a table's ``epochs`` option is its
    fidelity, as NAS-Bench-101's); every other table option takes its default (NAS-Bench-101's
    official file is then found in the data directory, and each run draws its own training runs
    from its seed). A space with no table, or whose table takes no dataset and is given one, is
    refused in one line."""
    from seminas.registry import space_entry, space_names_where

    entry = space_entry(space)
    if entry.table is None:
        raise SeminasError(
            f"the bench harness does not support space {space!r} yet: it has no table; it runs "
            f"{', '.join(space_names_where(lambda e: e.table is not None))}"
        )
    options = set(entry.table_options)
    if dataset == "default":  # what a bench records for a space without datasets
        dataset = None
    if dataset is not None and "dataset" not in options:
        raise SeminasError(
            f"space {space!r} has no datasets (its table takes {', '.join(sorted(options))}): "
            f"leave out --dataset"
        )
    given: dict[str, Any] = {}
    if dataset is not None:
        given["dataset"] = dataset
    if fidelity is not None:
        given["fidelity" if "fidelity" in options else "epochs"] = fidelity
    return entry.checked_table_options({k: v for k, v in given.items() if k in options})


def make_benchmark(
    space: str,
    dataset: str | None,
    data_dir: str | os.PathLike | None = None,
    fidelity: int | None = 200,
) -> Evaluator:
    """The tabular evaluator for ``space``/``dataset``, from the space's registry entry."""
    from seminas.registry import space_entry

    name = normalise_space(space)
    options = bench_table_options(name, dataset, None if fidelity is None else int(fidelity))
    return space_entry(name).make_table(options, data_dir=data_dir)


def describe_benchmark(evaluator: Evaluator) -> dict[str, Any]:
    """What a summary needs to know about the table: names, metrics and the global optimum
    (every architecture tied at the highest report metric), looked up without charging queries."""
    desc = evaluator.describe()
    info: dict[str, Any] = {
        "space": desc.get("space", evaluator.space.name),
        "dataset": desc.get("dataset"),
        "fidelity": desc.get("fidelity"),
        "search_metric": evaluator.search_metric_name,
        "report_metric": evaluator.report_metric_name,
        "optimum_report": None,
        "optimum_ids": [],
        "search_optimum": None,
        "search_optimum_ids": [],
        "num_archs": None,
    }
    best_by_report = getattr(evaluator, "best_by_report", None)
    if callable(best_by_report):
        best = best_by_report()
        info["optimum_report"] = best.report_metric
        ids = [best.arch_id]
        records = getattr(evaluator, "records", None)
        if callable(records) and best.report_metric is not None:
            ids = [r.arch_id for r in records() if r.report_metric == best.report_metric]
        info["optimum_ids"] = ids
        if callable(records):  # what a search can aim at: the best search metric in the table
            values = [(r.search_metric, r.arch_id) for r in records()]
            top = max(v for v, _ in values)
            info["search_optimum"] = top
            info["search_optimum_ids"] = [a for v, a in values if v == top]
    if hasattr(evaluator, "__len__"):
        info["num_archs"] = len(evaluator)  # type: ignore[arg-type]
    return info


_LOADED: dict[tuple[str, str, int, str | None], Evaluator] = {}


def cached_benchmark(spec: RunSpec) -> Evaluator:
    """One loaded table per (benchmark, data dir) per process: workers load it once, not per run."""
    key = (*spec.benchmark_key(), spec.data_dir)
    if key not in _LOADED:
        _LOADED[key] = make_benchmark(spec.space, spec.dataset, spec.data_dir, spec.fidelity)
    return _LOADED[key]
