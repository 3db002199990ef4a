"""Reproduction harness: many seeds of several strategies on a tabular benchmark, in parallel.

One bench directory holds one benchmark's runs:

- ``results.jsonl`` -- one JSON line per finished run, appended (and fsynced) the moment the run
  finishes, so an interrupted bench loses nothing it finished. Re-running with more seeds only
  runs the ``(config_key, seed)`` pairs that are not in the file yet.
- ``summary.md`` / ``summary.json`` -- per method and budget: the report metric of the
  architecture chosen after *b* queries, how often the global optimum was found, and how fast.
- ``curves.png`` -- mean best-so-far report metric against queries.
- ``errors.jsonl`` -- runs that raised, with their spec and traceback (only when some did).

Each run is a :class:`RunSpec`, a small picklable value, executed by :func:`run_one` in a
``spawn`` worker process that uses one torch thread and loads its benchmark once.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, StoreWarning, json_line
from seminas.options import SEED_MAX

if TYPE_CHECKING:
    import pandas as pd

    from seminas.benchmarks.base import Evaluator

RESULTS_FILE = "results.jsonl"
ERRORS_FILE = "errors.jsonl"
SUMMARY_MD = "summary.md"
SUMMARY_JSON = "summary.json"
CURVES_PNG = "curves.png"
LINE_FORMAT = 1  # bump when the meaning of a results line changes
DEFAULT_BUDGETS: tuple[int, ...] = (50, 100, 150, 200, 300, 400, 500)
MAX_SEEDS = 1_000_000

# What a bench directory is keyed by (with the space): a space's table may take these options
# and no others to be benched (see bench_table_options).


# Something in a bench directory was repaired or ignored; the bench goes on.
HarnessWarning = StoreWarning


class BenchRunError(SeminasError):
    """Some runs of a bench raised. Everything that finished is on disk (and summarised)."""

    def __init__(self, message: str, failures: list[dict[str, Any]], output: Any = None) -> None:
        super().__init__(message)
        self.failures = failures
        self.output = output  # a BenchOutput when raised by bench(), else the results list


# -- seeds ----------------------------------------------------------------------------------

_SEED_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(text: str) -> list[int]:
    """Seeds from the CLI form ``7``, ``0-99`` or ``0,3,5-7`` (ranges inclusive, duplicates
    dropped, order kept) -- so a whole study is one short, reproducible argument."""
    expected = (
        "expected non-negative integers as a seed (7), an inclusive range (0-99) "
        "or a comma-separated list of both (0,3,5-7)"
    )
    seeds: list[int] = []
    seen: set[int] = set()
    items = str(text).split(",")
    for item in items:
        match = _SEED_ITEM.match(item.strip())
        if match is None:
            raise SeminasError(f"invalid seeds {text!r}: bad item {item.strip()!r}; {expected}")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise SeminasError(f"invalid seeds {text!r}: range {lo}-{hi} is reversed; {expected}")
        if hi > SEED_MAX:
            raise SeminasError(f"invalid seeds {text!r}: seeds go up to {SEED_MAX} (2**32 - 1)")
        if len(seeds) + (hi - lo + 1) > MAX_SEEDS:
            raise SeminasError(f"invalid seeds {text!r}: more than {MAX_SEEDS:,} seeds")
        for seed in range(lo, hi + 1):
            if seed not in seen:
                seen.add(seed)
                seeds.append(seed)
    return seeds


def format_seeds(seeds: Iterable[int]) -> str:
    """The shortest :func:`parse_seeds` text for ``seeds`` (sorted), for regenerate commands."""
    ordered = sorted(set(int(s) for s in seeds))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


# -- benchmarks -----------------------------------------------------------------------------


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
    return space_entry(name).make_table(options, data_dir=data_dir, progress=False)


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
    if hasattr(evaluator, "__len__"):
        info["num_archs"] = len(evaluator)  # type: ignore[arg-type]
    return info


# -- one run --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything that determines one search run; picklable so it can cross to a worker."""

    space: str
    dataset: str
    fidelity: int = 200
    data_dir: str | None = None
    strategy: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: int
    seed: int
    label: str | None = None  # a variant's name in tables and plots (not part of config_key)

    @property
    def method(self) -> str:
        """Human label of the configuration: strategy, preset and overrides (not the budget)."""
        if self.label:
            return self.label
        label = self.strategy if self.preset is None else f"{self.strategy}[{self.preset}]"
        extra = " ".join(f"{k}={_json(v)}" for k, v in sorted(self.overrides.items()))
        return f"{label} {extra}" if extra else label

    @property
    def config_key(self) -> str:
        """Identity of the configuration without the seed (data location excluded)."""
        return config_key_of(asdict(self))

    def benchmark_key(self) -> tuple[str, str, int]:
        return (self.space, self.dataset, int(self.fidelity))


def config_key_of(line: Mapping[str, Any]) -> str:
    """The configuration key of a spec or results line (all spec fields except seed, data_dir)."""
    parts = [f"{line['space']}:{line['dataset']}:{int(line['fidelity'])}ep", str(line["strategy"])]
    if line.get("preset") is not None:
        parts.append(f"preset={line['preset']}")
    parts.extend(f"{k}={_json(v)}" for k, v in sorted((line.get("overrides") or {}).items()))
    parts.append(f"budget={int(line['budget'])}")
    return " ".join(parts)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_BENCHMARKS: dict[tuple[str, str, int, str | None], Evaluator] = {}


def _cached_benchmark(spec: RunSpec) -> Evaluator:
    """One loaded table per (benchmark, data dir) per process: workers load it once, not per run."""
    key = (*spec.benchmark_key(), spec.data_dir)
    if key not in _BENCHMARKS:
        _BENCHMARKS[key] = make_benchmark(spec.space, spec.dataset, spec.data_dir, spec.fidelity)
    return _BENCHMARKS[key]


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one search and return its results line.

    The line holds the spec fields, ``config_key``/``method``, the strategy's resolved config, the
    best trial, the best-so-far trajectory and the ordered evaluated ``arch_ids`` (enough to
    recompute any budget's choice and the queries needed to hit the optimum) -- but not the
    per-trial records, which would make 100-seed files needlessly large. Apart from
    ``wall_seconds`` the line is a function of the spec alone.
    """
    from seminas.strategies import make_strategy, run_search

    evaluator = _cached_benchmark(spec)
    strategy = make_strategy(spec.strategy, spec.preset, **spec.overrides)
    evaluator.reset_counts()
    reseed = getattr(evaluator, "reseed", None)
    if callable(reseed):  # stochastic tables (NB101 picks one of three runs): per-run stream
        reseed(int(spec.seed))
    result = run_search(strategy, evaluator, int(spec.budget), int(spec.seed))
    data = result.to_dict()
    trials = data.pop("trials")
    costs = [t["cost_seconds"] for t in trials]
    line: dict[str, Any] = {
        "format": LINE_FORMAT,
        "config_key": spec.config_key,
        "method": spec.method,
        **{k: v for k, v in asdict(spec).items() if k != "label" or v is not None},
        "metrics": {
            "search": evaluator.search_metric_name,
            "report": evaluator.report_metric_name,
        },
        "evaluator": data["evaluator"],
        "config": data["config"],
        "num_queries": data["num_queries"],
        "num_unique": len({t["arch_id"] for t in trials}),
        "total_cost_seconds": None if any(c is None for c in costs) else float(sum(costs)),
        "wall_seconds": data["wall_seconds"],
        "best": data["best"],
        "trajectory": data["trajectory"],
        "arch_ids": [t["arch_id"] for t in trials],
        "diagnostics": data["diagnostics"],
    }
    # Round-trip through JSON so callers get exactly what the file will hold.
    return json.loads(json.dumps(line, default=_json_default))


def _init_worker(parent: int) -> None:
    """A bench worker: ends with its parent (no orphan after ``kill -9``), leaves Ctrl-C to the
    parent (which stops the pool at once), and uses one torch thread: N workers on N cores
    beat N x N oversubscription."""
    import signal

    from seminas.lifecycle import die_with_parent

    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


def _worker_run(spec: RunSpec) -> dict[str, Any]:
    """Run in a worker, turning an exception into data so the pool and the bench survive it."""
    try:
        return {"ok": True, "line": run_one(spec)}
    except Exception as exc:  # noqa: BLE001 -- recorded and reported by the parent
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }


# -- results file ---------------------------------------------------------------------------


def results_path(path: str | os.PathLike) -> Path:
    """``DIR/results.jsonl`` for a bench directory, or the file itself."""
    p = Path(path)
    return p / RESULTS_FILE if p.is_dir() or p.suffix != ".jsonl" else p


def _results_store(path: str | os.PathLike) -> ResultsStore:
    return ResultsStore(
        results_path(path),
        "bench",
        key=lambda line: (line["config_key"], int(line["seed"])),
    )


def read_results(path: str | os.PathLike, repair: bool = False) -> list[dict[str, Any]]:
    """Read a results file (the common results store, :mod:`seminas.experiments.store`). A
    broken *last* line (a bench killed mid-write) is dropped with a :class:`HarnessWarning` --
    and, with ``repair``, removed from the file so appends stay well-formed. A broken line
    elsewhere means the file was edited or mixed up: that is an error. Duplicate
    ``(config_key, seed)`` lines keep the first."""
    return _results_store(path).read(repair=repair)


def _append(path: Path, line: Mapping[str, Any]) -> None:
    """Append one run durably: a finished run survives a kill right after this returns."""
    _results_store(path).append(line)


def _append_log(path: Path, line: Mapping[str, Any]) -> None:
    """Append one line to a plain log (``errors.jsonl``), fsynced."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json_line(line))
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def _exclusive(out_dir: Path):
    """Refuse a second bench writing to the same directory at the same time."""
    with _results_store(out_dir / RESULTS_FILE).exclusive("bench"):
        yield


def _check_one_benchmark(keys: Iterable[tuple[str, str, int]], where: Path) -> None:
    distinct = sorted(set(keys))
    if len(distinct) > 1:
        names = ", ".join(f"{s}/{d}/{f}ep" for s, d, f in distinct)
        raise SeminasError(
            f"{where} would mix benchmarks ({names}); a bench directory holds one benchmark's "
            f"runs: use another --out"
        )


# -- running many ---------------------------------------------------------------------------


def default_workers() -> int:
    """The cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _spec_label(spec: RunSpec) -> str:
    return f"{spec.method} budget={spec.budget} seed={spec.seed} on {spec.space}/{spec.dataset}"


def _execute(
    specs: Sequence[RunSpec],
    out_dir: Path,
    workers: int | None,
    progress: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Run what is missing from ``results.jsonl``; return (lines for ``specs`` in spec order,
    failures, number of runs skipped because they were already there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    existing = read_results(path, repair=True)
    _check_one_benchmark(
        [s.benchmark_key() for s in specs]
        + [(ln["space"], ln["dataset"], int(ln["fidelity"])) for ln in existing],
        path,
    )
    done: dict[tuple[str, int], dict[str, Any]] = {
        (ln["config_key"], int(ln["seed"])): ln for ln in existing
    }
    wanted: list[tuple[str, int]] = []
    todo: list[RunSpec] = []
    queued: set[tuple[str, int]] = set()
    for spec in specs:
        key = (spec.config_key, int(spec.seed))
        wanted.append(key)
        if key not in done and key not in queued:
            queued.add(key)
            todo.append(spec)
    skipped = len(set(wanted) & set(done))
    failures: list[dict[str, Any]] = []

    if todo:
        n_workers = max(1, min(workers or default_workers(), len(todo)))
        failures = _run_pool(todo, n_workers, path, out_dir, done, progress, skipped)
    return [done[k] for k in dict.fromkeys(wanted) if k in done], failures, skipped


def _run_pool(
    todo: list[RunSpec],
    n_workers: int,
    path: Path,
    out_dir: Path,
    done: dict[tuple[str, int], dict[str, Any]],
    progress: bool,
    skipped: int,
) -> list[dict[str, Any]]:
    import multiprocessing
    import signal

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from seminas.lifecycle import Interrupted, stop_signals

    console = Console(stderr=True)
    failures: list[dict[str, Any]] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[failed]}"),
    )
    description = f"bench ({n_workers} workers"
    description += f", {skipped} already done)" if skipped else ")"
    # SIGTERM (kill, SLURM, Kubernetes) stops a bench like Ctrl-C: runs kept, resume hint
    with stop_signals(), Progress(*columns, console=console, disable=not progress) as bar:
        task = bar.add_task(description, total=len(todo), failed="")
        pool = ProcessPoolExecutor(
            max_workers=n_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        try:
            pending: dict[Future, RunSpec] = {pool.submit(_worker_run, s): s for s in todo}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec = pending.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # noqa: BLE001 -- e.g. a worker killed by the OS
                        outcome = {
                            "ok": False,
                            "error": f"{type(exc).__name__}: {exc}",
                            "traceback": traceback.format_exc(),
                        }
                    if outcome["ok"]:
                        line = outcome["line"]
                        _append(path, line)
                        done[(line["config_key"], int(line["seed"]))] = line
                    else:
                        failure = {
                            "spec": asdict(spec),
                            "config_key": spec.config_key,
                            "error": outcome["error"],
                            "traceback": outcome["traceback"],
                            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        }
                        failures.append(failure)
                        _append_log(out_dir / ERRORS_FILE, failure)
                        print(
                            f"run failed ({_spec_label(spec)}): {outcome['error']}",
                            file=sys.stderr,
                            flush=True,
                        )
                        bar.update(task, failed=f"[red]{len(failures)} failed")
                    bar.advance(task)
        except BaseException as exc:
            _stop_pool(pool)
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (stop_signals)
                raise Interrupted(
                    f"interrupted: finished runs are saved in {path}; run the same command "
                    f"again to do only the missing ones",
                    signum=getattr(exc, "signum", signal.SIGINT),
                ) from None
            raise
        pool.shutdown(wait=True)
    return failures


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a bench's pool now (Ctrl-C, SIGTERM, an error): end its workers -- their unfinished
    runs are redone by the next bench anyway; waiting for them (and for the runs already queued
    to them) is what made Ctrl-C take seconds -- then drop whatever was still queued."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 1.0
    for proc in processes:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=1.0)


def run_bench(
    specs: Sequence[RunSpec],
    out_dir: str | os.PathLike,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run ``specs`` in parallel, appending each finished run to ``out_dir/results.jsonl``.

    Runs already in the file (same ``config_key`` and seed) are skipped, so adding seeds to a
    study only pays for the new ones. Returns the lines for ``specs`` in spec order. A run that
    raises does not stop the others; it goes to stderr and ``errors.jsonl``, and once all runs
    are done a :class:`BenchRunError` reports how many failed (its ``output`` is the lines).
    Ctrl-C or ``SIGTERM`` ends the workers at once and raises
    :class:`~seminas.lifecycle.Interrupted` (a ``KeyboardInterrupt``) whose message
    says where the finished runs are.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        lines, failures, _ = _execute(list(specs), out, workers, progress)
    if failures:
        raise BenchRunError(_failure_message(failures, len(specs), out), failures, lines)
    return lines


def _failure_message(failures: list[dict[str, Any]], total: int, out: Path) -> str:
    first = failures[0]["error"]
    return (
        f"{len(failures)} of {total} runs failed (first: {first}); details in "
        f"{out / ERRORS_FILE}, finished runs are in {out / RESULTS_FILE}"
    )


# -- summary --------------------------------------------------------------------------------


def _group(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    """(config_key, label, runs) in first-seen order; labels made unique by adding the budget."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for line in results:
        groups.setdefault(line["config_key"], []).append(line)
    labels = {k: runs[0].get("method") or runs[0]["strategy"] for k, runs in groups.items()}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    out = []
    for key, runs in groups.items():
        label = labels[key]
        if counts[label] > 1:
            label = f"{label} (budget {int(runs[0]['budget'])})"
        out.append((key, label, sorted(runs, key=lambda r: int(r["seed"]))))
    return out


def _chosen_report(line: Mapping[str, Any], b: int) -> float | None:
    """Report metric of the best-by-search architecture among the first ``b`` queries."""
    reports = line["trajectory"]["best_report"]
    if not reports:
        return None
    value = reports[min(b, len(reports)) - 1]
    return None if value is None else float(value)


def _queries_to(line: Mapping[str, Any], targets: set[str]) -> int | None:
    """1-based query number at which the run first evaluated one of ``targets``."""
    for i, arch_id in enumerate(line.get("arch_ids", []), start=1):
        if arch_id in targets:
            return i
    return None


def summarize(
    results: Sequence[Mapping[str, Any]],
    benchmark_info: Mapping[str, Any] | None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
) -> pd.DataFrame:
    """One row per method x budget ``b`` (the listed budgets up to the run budget, plus the run
    budget itself): report metric of the choice after ``b`` queries (mean, std over runs with
    ddof=1, standard error), fraction of runs whose first ``b`` queries contain the global
    optimum, and mean queries to reach it among those runs. Without ``benchmark_info`` (or an
    optimum in it) the optimum columns are NaN."""
    import pandas as pd

    targets = set((benchmark_info or {}).get("optimum_ids") or [])
    rows = []
    for key, label, runs in _group(results):
        budget = int(runs[0]["budget"])
        row_budgets = sorted({int(b) for b in budgets if 0 < int(b) <= budget} | {budget})
        hits = [_queries_to(r, targets) for r in runs] if targets else [None] * len(runs)
        for b in row_budgets:
            values = np.array(
                [v for v in (_chosen_report(r, b) for r in runs) if v is not None], dtype=float
            )
            n = len(values)
            std = float(values.std(ddof=1)) if n > 1 else math.nan
            reached = [q for q in hits if q is not None and q <= b]
            rows.append(
                {
                    "method": label,
                    "strategy": runs[0]["strategy"],
                    "preset": runs[0].get("preset"),
                    "config_key": key,
                    "budget": b,
                    "runs": len(runs),
                    "report_n": n,
                    "report_mean": float(values.mean()) if n else math.nan,
                    "report_std": std,
                    "report_sem": std / math.sqrt(n) if n > 1 else math.nan,
                    "optimum_found": len(reached) if targets else math.nan,
                    "optimum_fraction": len(reached) / len(runs) if targets else math.nan,
                    "queries_to_optimum": float(np.mean(reached)) if reached else math.nan,
                }
            )
    columns = [
        "method", "strategy", "preset", "config_key", "budget", "runs", "report_n",
        "report_mean", "report_std", "report_sem", "optimum_found", "optimum_fraction",
        "queries_to_optimum",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _info_from_results(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = results[0]
    return {
        "space": first["space"],
        "dataset": first["dataset"],
        "fidelity": first["fidelity"],
        "search_metric": first.get("metrics", {}).get("search"),
        "report_metric": first.get("metrics", {}).get("report"),
        "optimum_report": None,
        "optimum_ids": [],
    }


def default_command(results: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike) -> str:
    """A ``seminas bench`` command that regenerates ``results`` (best effort: per-strategy
    overrides have no CLI form, and one ``--preset`` is shown if all preset runs share it)."""
    first = results[0]
    strategies = list(dict.fromkeys(r["strategy"] for r in results))
    budgets = sorted({int(r["budget"]) for r in results})
    presets = sorted({r["preset"] for r in results if r.get("preset")})
    parts = [
        "seminas bench",
        f"--space {first['space']}",
        f"--dataset {first['dataset']}",
    ]
    if int(first["fidelity"]) != 200:
        parts.append(f"--fidelity {int(first['fidelity'])}")
    parts += [
        f"--strategies {','.join(strategies)}",
        f"--budget {budgets[-1]}",
        f"--seeds {format_seeds(int(r['seed']) for r in results)}",
        f"--out {shlex.quote(str(out_dir))}",
    ]
    if len(presets) == 1:
        parts.append(f"--preset {presets[0]}")
    return " ".join(parts)


def render_summary(table: pd.DataFrame, info: Mapping[str, Any], command: str | None) -> str:
    """The Markdown text of ``summary.md``."""
    fidelity = info.get("fidelity")
    title = f"{info.get('space')} / {info.get('dataset')}"
    if fidelity is not None:
        title += f" ({fidelity} epochs)"
    opt = info.get("optimum_report")
    ids = info.get("optimum_ids") or []
    lines = [
        f"# Benchmark summary: {title}",
        "",
        f"- Space: {info.get('space')}; dataset: {info.get('dataset')}",
        f"- Search metric (what the strategies maximise): {info.get('search_metric')}",
        f"- Report metric (what the table shows): {info.get('report_metric')}",
    ]
    if opt is not None:
        shown = ", ".join(f"`{i}`" for i in ids[:3]) + (" ..." if len(ids) > 3 else "")
        lines.append(f"- Global optimum (highest report metric in the table): {opt:.4f} ({shown})")
    if command:
        lines.append(f"- Regenerate with: `{command}`")
    lines += [
        "",
        "For each method and query budget *b*: **report metric** is that metric of the "
        "architecture with the best search metric among the run's first *b* queries "
        "(mean ± std over runs); **found optimum** is the fraction of runs whose first *b* "
        "queries include the global optimum; **queries to optimum** is the mean number of "
        "queries those runs needed (— if none).",
        "",
        "| method | budget b | report metric (mean ± std) | found optimum | "
        "queries to optimum | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in table.itertuples(index=False):
        report = _fmt(row.report_mean)
        if not math.isnan(row.report_std):
            report += f" ± {_fmt(row.report_std)}"
        if row.report_n != row.runs:
            report += f" ({row.report_n} with a value)"
        if math.isnan(row.optimum_fraction):
            found = "—"
        else:
            found = f"{row.optimum_fraction:.2f} ({int(row.optimum_found)}/{row.runs})"
        lines.append(
            f"| {row.method} | {row.budget} | {report} | {found} | "
            f"{_fmt(row.queries_to_optimum, 1)} | {row.runs} |"
        )
    return "\n".join(lines) + "\n"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _nan_to_none(value.item())
    return value


def write_summary(
    results_path_or_dir: str | os.PathLike,
    benchmark_info: Mapping[str, Any] | None = None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    command: str | None = None,
    results: Sequence[Mapping[str, Any]] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.json`` next to ``results.jsonl``; return their paths.

    ``results`` defaults to every run in the file. ``benchmark_info`` defaults to the one of the
    runs' benchmark (loaded from ``data_dir``), which supplies the global optimum.
    """
    path = results_path(results_path_or_dir)
    out_dir = path.parent
    if results is None:
        results = read_results(path)
    if not results:
        raise SeminasError(f"no finished runs in {path}: nothing to summarise")
    _check_one_benchmark([(r["space"], r["dataset"], int(r["fidelity"])) for r in results], path)
    if benchmark_info is None:
        first = results[0]
        evaluator = make_benchmark(first["space"], first["dataset"], data_dir, first["fidelity"])
        benchmark_info = describe_benchmark(evaluator)
    info = {**_info_from_results(results), **dict(benchmark_info)}
    if command is None:
        command = default_command(results, out_dir)
    table = summarize(results, info, budgets)
    md_path = out_dir / SUMMARY_MD
    json_path = out_dir / SUMMARY_JSON
    md_path.write_text(render_summary(table, info, command), encoding="utf-8")
    payload = {
        "space": info.get("space"),
        "dataset": info.get("dataset"),
        "fidelity": info.get("fidelity"),
        "search_metric": info.get("search_metric"),
        "report_metric": info.get("report_metric"),
        "optimum": {"report": info.get("optimum_report"), "arch_ids": info.get("optimum_ids")},
        "command": command,
        "std": "sample standard deviation over runs (ddof=1)",
        "rows": [{k: _nan_to_none(v) for k, v in row.items()} for row in table.to_dict("records")],
    }
    json_path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    return md_path, json_path


# -- plot -----------------------------------------------------------------------------------


def _curve_matrix(runs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Runs x queries best-so-far report metric; a run that stopped early keeps its last value."""
    length = max(int(r["budget"]) for r in runs)
    mat = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        values = [np.nan if v is None else float(v) for v in run["trajectory"]["best_report"]]
        if values:
            mat[i, : len(values)] = values[:length]
            mat[i, len(values) :] = values[-1]
    return mat


def plot_curves(
    results: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    benchmark_info: Mapping[str, Any] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Path:
    """Mean best-so-far report metric against queries, one line per method with a ± standard
    error band and the global optimum dotted; the figure papers draw, from the results file.

    Without ``benchmark_info`` the runs' benchmark is loaded (from ``data_dir``) for the
    optimum; if that fails the plot is drawn without the optimum line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not results:
        raise SeminasError("no finished runs: nothing to plot")
    if benchmark_info is None:
        first = results[0]
        try:
            evaluator = make_benchmark(
                first["space"], first["dataset"], data_dir, first["fidelity"]
            )
            benchmark_info = describe_benchmark(evaluator)
        except SeminasError as exc:
            warnings.warn(f"plotting without the global optimum: {exc}", HarnessWarning, 2)
    info = {**_info_from_results(results), **dict(benchmark_info or {})}
    fig = Figure(figsize=(8, 5), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lows: list[float] = []
    highs: list[float] = []
    for _key, label, runs in _group(results):
        mat = _curve_matrix(runs)
        counts = np.sum(~np.isnan(mat), axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (missing metric)
            mean = np.nanmean(mat, axis=0)
            std = np.nanstd(mat, axis=0, ddof=1) if len(runs) > 1 else np.zeros(mat.shape[1])
        sem = np.where(counts > 1, std / np.sqrt(np.maximum(counts, 1)), 0.0)
        x = np.arange(1, mat.shape[1] + 1)
        (line,) = ax.plot(x, mean, lw=1.8, label=f"{label} (n={len(runs)})")
        ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
        # Frame the interesting part: from 10% into the budget on, where methods separate.
        start = min(len(mean) - 1, max(0, int(math.ceil(0.1 * len(mean))) - 1))
        tail = (mean - sem)[start:]
        if np.isfinite(tail).any():
            lows.append(float(np.nanmin(tail)))
            highs.append(float(np.nanmax(mean + sem)))
    opt = info.get("optimum_report")
    if opt is not None:
        ax.axhline(opt, color="black", ls=":", lw=1.2, label=f"global optimum ({opt:.2f})")
        highs.append(float(opt))
    if lows:
        low, high = min(lows), max(highs)
        pad = 0.05 * max(high - low, 1e-3)
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(0, max(int(r["budget"]) for r in results) + 1)
    report = info.get("report_metric") or "report metric"
    ax.set_xlabel("queries (architectures evaluated)")
    ax.set_ylabel(f"{report}\nof the best-by-search architecture so far", fontsize=9)
    title = f"{info.get('space')} / {info.get('dataset')}: best so far, mean ± standard error"
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, title="band: ± 1 s.e. over runs", title_fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


# -- all of it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchOutput:
    """Where a bench wrote its files, and what it ran."""

    out_dir: Path
    results: Path
    summary_md: Path
    summary_json: Path
    curves: Path
    runs: int  # runs in the summary (requested and finished)
    new_runs: int
    skipped: int  # requested runs that were already in results.jsonl
    failed: int


def resolve_preset(strategy: str, preset: str | None, space: str = "nb201") -> str | None:
    """The preset a strategy runs with when one ``--preset`` (or none) is given for all: its own
    preset of that name, else its default for the space (see
    :func:`seminas.strategies.resolve_preset`)."""
    from seminas.strategies import resolve_preset as resolve

    return resolve(strategy, preset, space)


def make_specs(
    space: str,
    dataset: str | None,
    strategies: Sequence[str] | str,
    budget: int,
    seeds: Sequence[int] | str,
    *,
    fidelity: int | None = None,
    data_dir: str | os.PathLike | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RunSpec]:
    """Specs for strategies x seeds, checked here (names, preset, options, budget) so a typo is
    one clear error before any worker starts rather than one failure per run."""
    from seminas.experiments.plan import Variant, variants_from
    from seminas.strategies import make_strategy, strategy_class

    space = normalise_space(space)
    variants = variants_from(strategies)
    strategies = list(dict.fromkeys(v.strategy for v in variants))
    if isinstance(seeds, str):
        seeds = parse_seeds(seeds)
    if not seeds:
        raise SeminasError("no seeds given: e.g. --seeds 0-9")
    if int(budget) < 1:
        raise SeminasError(f"budget must be at least 1 query, got {budget}")
    if any(int(s) < 0 for s in seeds):
        raise SeminasError("seeds must be non-negative integers")
    if max(int(s) for s in seeds) > SEED_MAX:
        raise SeminasError(f"seeds must be at most {SEED_MAX} (2**32 - 1), got {max(seeds)}")
    from seminas.registry import space_entry

    space_entry(space).make_space().check_budget(int(budget))  # before any run
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(strategies))
    if unknown:
        raise SeminasError(f"overrides given for strategies not in the bench: {', '.join(unknown)}")
    table = bench_table_options(space, dataset, fidelity)  # one clear error before any run
    dataset = str(table.get("dataset", "default" if dataset is None else dataset))
    fidelity = int(
        table.get("fidelity", table.get("epochs", 200 if fidelity is None else fidelity))
    )
    presets = {name: resolve_preset(name, preset, space) for name in strategies}
    named = {
        name for name in strategies
        if preset is not None and presets[name] in (preset, f"{preset}-{space}")
    }
    if preset is not None and not named:
        available = sorted({p for n in strategies for p in strategy_class(n).presets})
        raise SeminasError(
            f"no strategy in the bench has a preset {preset!r} "
            f"(available: {', '.join(available) or 'none'})"
        )
    resolved: list[tuple[Variant, str | None, dict[str, Any]]] = []
    seen: set[str] = set()
    for v in variants:
        v_preset = v.preset if v.preset is not None else presets[v.strategy]
        v_overrides = {**dict(overrides.get(v.strategy, {})), **dict(v.overrides)}
        make_strategy(v.strategy, v_preset, **v_overrides)  # one clear error per bad option
        key = _json([v.strategy, v_preset, v_overrides])
        if key in seen:
            continue
        seen.add(key)
        resolved.append((v, v_preset, v_overrides))
    dd = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
    return [
        RunSpec(
            space=space,
            dataset=dataset,
            fidelity=int(fidelity),
            data_dir=dd,
            strategy=v.strategy,
            preset=v_preset,
            overrides=v_overrides,
            budget=int(budget),
            seed=int(seed),
            label=v.label,
        )
        for v, v_preset, v_overrides in resolved
        for seed in seeds
    ]


def bench(
    space: str,
    dataset: str | None,
    strategies: Sequence[str] | str,
    budget: int,
    seeds: Sequence[int] | str,
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    fidelity: int | None = None,
    data_dir: str | os.PathLike | None = None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    command: str | None = None,
    progress: bool = True,
) -> BenchOutput:
    """``seminas bench``: run strategies x seeds (skipping runs already in ``out``), then write
    ``summary.md``, ``summary.json`` and ``curves.png`` for exactly the requested runs.

    ``preset`` applies to each strategy that defines it (others run their defaults).
    ``overrides`` maps a strategy name to config overrides. If some runs failed, the files are
    still written for the others and a :class:`BenchRunError` (a ``SeminasError``) is raised at
    the end, its ``output`` the :class:`BenchOutput`.
    """
    specs = make_specs(
        space,
        dataset,
        strategies,
        budget,
        seeds,
        fidelity=fidelity,
        data_dir=data_dir,
        preset=preset,
        overrides=overrides,
    )
    from seminas.options import check_output_dir

    out_dir = check_output_dir(  # a file in the way is refused before any run
        out, files=(RESULTS_FILE, ERRORS_FILE, SUMMARY_MD, SUMMARY_JSON, CURVES_PNG)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir):
        lines, failures, skipped = _execute(specs, out_dir, workers, progress)
        if not lines:
            raise BenchRunError(_failure_message(failures, len(specs), out_dir), failures)
        first = specs[0]
        info = describe_benchmark(
            make_benchmark(first.space, first.dataset, first.data_dir, first.fidelity)
        )
        if command is None:
            command = default_command(lines, out_dir)
            if overrides:
                command += "  # plus per-strategy overrides (see config_key in results.jsonl)"
        md, js = write_summary(out_dir, info, budgets, command, results=lines)
        png = plot_curves(lines, out_dir / CURVES_PNG, info)
    output = BenchOutput(
        out_dir=out_dir,
        results=out_dir / RESULTS_FILE,
        summary_md=md,
        summary_json=js,
        curves=png,
        runs=len(lines),
        new_runs=len(lines) - skipped,
        skipped=skipped,
        failed=len(failures),
    )
    if failures:
        raise BenchRunError(_failure_message(failures, len(specs), out_dir), failures, output)
    return output


__all__ = [
    "BenchOutput",
    "BenchRunError",
    "DEFAULT_BUDGETS",
    "HarnessWarning",
    "RunSpec",
    "bench",
    "describe_benchmark",
    "config_key_of",
    "default_command",
    "format_seeds",
    "make_benchmark",
    "make_specs",
    "parse_seeds",
    "plot_curves",
    "read_results",
    "render_summary",
    "run_bench",
    "run_one",
    "summarize",
    "write_summary",
]
