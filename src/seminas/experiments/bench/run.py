"""Running a bench: the runs missing from ``results.jsonl``, each one job on an executor.

A run is one whole search (:class:`~seminas.experiments.bench.work.BenchWork`), so a bench has
the executors' fault semantics (:mod:`seminas.execution.base`) for free: ``--executor local``
(worker processes here) or ``ray`` (Ray tasks), a per-run timeout, and a failed attempt retried
with the same seed -- a run's line depends only on its spec, so a retry gives the line an
undisturbed run gives. A worker that dies takes its run back to the queue; a run given up is
appended to ``errors.jsonl`` and the bench goes on. Each finished run is appended (and fsynced)
the moment it arrives, so a bench that is killed loses nothing it finished, and the same command
again runs only the missing ``(config_key, seed)`` pairs: resume is exact.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.execution.base import AttemptFailure, Executor, FaultPolicy, Job, Outcome
from seminas.experiments.bench.plots import plot_curves
from seminas.experiments.bench.results import (
    BENCH_FILES,
    CURVES_PNG,
    ERRORS_FILE,
    RESULTS_FILE,
    append_error,
    append_result,
    check_one_benchmark,
    exclusive,
    read_results,
)
from seminas.experiments.bench.specs import RunSpec, make_specs
from seminas.experiments.bench.summary import DEFAULT_BUDGETS, default_command, write_summary
from seminas.experiments.bench.tables import describe_benchmark, make_benchmark
from seminas.experiments.bench.work import BenchWork
from seminas.progress import NO_PROGRESS, Progress

DEFAULT_RETRIES = 1  # as for evaluations: one more attempt of a failed run, same seed


class BenchRunError(SeminasError):
    """Some runs of a bench were given up. Everything that finished is on disk (and
    summarised)."""

    def __init__(self, message: str, failures: list[dict[str, Any]], output: Any = None) -> None:
        super().__init__(message)
        self.failures = failures
        self.output = output  # a BenchOutput when raised by bench(), else the results list


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


def default_workers() -> int:
    """The cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ExecutorChoice:
    """Where a bench's runs go and how failures are handled, for an executor the bench makes
    (as many workers as runs to do, at most) and closes itself: ``local`` processes or ``ray``
    tasks (``ray_address``: ``auto``, ``HOST:PORT``, or None for a private local instance), a
    failed run tried ``retries`` more times, a run killed after ``timeout`` seconds."""

    kind: str = "local"
    ray_address: str | None = None
    retries: int = DEFAULT_RETRIES
    timeout: float | None = None

    def __post_init__(self) -> None:
        FaultPolicy(retries=self.retries, timeout=self.timeout)  # one line for a bad value

    def make(self, workers: int) -> Executor:
        from seminas.execution import make_executor

        return make_executor(self.kind, workers, retries=self.retries, timeout=self.timeout,
                             ray_address=self.ray_address)


def _plan(
    specs: Sequence[RunSpec], path: Path
) -> tuple[list[tuple[str, int]], list[RunSpec], dict[tuple[str, int], dict[str, Any]]]:
    """(every requested key in spec order, the specs still to run, the lines already there)."""
    existing = read_results(path, repair=True)
    check_one_benchmark(
        [s.benchmark_key() for s in specs]
        + [(ln["space"], ln["dataset"], int(ln["fidelity"])) for ln in existing],
        path,
    )
    done = {(ln["config_key"], int(ln["seed"])): ln for ln in existing}
    wanted: list[tuple[str, int]] = []
    todo: list[RunSpec] = []
    queued: set[tuple[str, int]] = set()
    for spec in specs:
        key = (spec.config_key, int(spec.seed))
        wanted.append(key)
        if key not in done and key not in queued:
            queued.add(key)
            todo.append(spec)
    return wanted, todo, done


def _failure(spec: RunSpec, outcome: Outcome) -> dict[str, Any]:
    """The ``errors.jsonl`` line of a run given up: its spec and every failed attempt."""
    return {
        "spec": asdict(spec),
        "config_key": spec.config_key,
        "error": outcome.error(),
        "attempts": [f.to_dict() for f in outcome.failures],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _say_retry(specs: Sequence[RunSpec]) -> Callable[[Job, AttemptFailure], None]:
    """The executor's ``on_failure``: one stderr line per failed attempt that will be retried
    (a given-up run is reported when its outcome arrives)."""

    def on_failure(job: Job, failure: AttemptFailure) -> None:
        if failure.retry:
            print(f"run attempt {failure.attempt} failed ({specs[job.key].describe()}): "
                  f"{failure.kind}: {failure.error}; trying again", file=sys.stderr, flush=True)
    return on_failure


def _run_jobs(
    todo: list[RunSpec],
    executor: Executor,
    work: BenchWork,
    out_dir: Path,
    done: dict[tuple[str, int], dict[str, Any]],
    progress: Progress,
    skipped: int,
) -> list[dict[str, Any]]:
    """Run ``todo`` on ``executor``, appending each line as it arrives; the failures."""
    from seminas.lifecycle import Interrupted, stop_signals

    path = out_dir / RESULTS_FILE
    failures: list[dict[str, Any]] = []
    n = executor.workers
    what = f"bench ({n} {executor.kind} worker{'' if n == 1 else 's'}"
    progress.start(what + (f", {skipped} already done)" if skipped else ")"), len(todo), "runs")
    # SIGTERM (kill, SLURM, Kubernetes) stops a bench like Ctrl-C: runs kept, resume hint
    with stop_signals():
        try:
            executor.start(work)
            executor.on_failure = _say_retry(todo)
            for outcome in executor.run(Job(i, spec) for i, spec in enumerate(todo)):
                spec = todo[outcome.key]
                if outcome.result is not None:
                    line = outcome.result
                    append_result(path, line)
                    done[(line["config_key"], int(line["seed"]))] = line
                else:
                    failure = _failure(spec, outcome)
                    failures.append(failure)
                    append_error(out_dir / ERRORS_FILE, failure)
                    print(f"run failed ({spec.describe()}): {failure['error']}",
                          file=sys.stderr, flush=True)
                progress.advance(1, f"{len(failures)} failed" if failures else None)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (stop_signals)
            executor.cancel_all()  # their workers end now; those runs are redone next time
            raise Interrupted(
                f"interrupted: finished runs are saved in {path}; run the same command "
                f"again to do only the missing ones",
                signum=getattr(exc, "signum", signal.SIGINT),
            ) from None
        finally:
            progress.finish()
    return failures


def _execute(
    specs: Sequence[RunSpec],
    out_dir: Path,
    workers: int | None,
    executor: Executor | ExecutorChoice | None,
    progress: Progress,
    work: BenchWork | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Run what is missing from ``results.jsonl``; return (lines for ``specs`` in spec order,
    failures, number of runs skipped because they were already there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted, todo, done = _plan(specs, out_dir / RESULTS_FILE)
    skipped = len(set(wanted) & set(done))
    failures: list[dict[str, Any]] = []
    if todo:
        own = not isinstance(executor, Executor)
        if not isinstance(executor, Executor):
            n = max(1, min(workers or default_workers(), len(todo)))
            executor = (executor or ExecutorChoice()).make(n)
        try:
            failures = _run_jobs(todo, executor, work or BenchWork(todo), out_dir, done,
                                 progress, skipped)
        finally:
            if own:
                executor.close()
    return [done[k] for k in dict.fromkeys(wanted) if k in done], failures, skipped


def _failure_message(failures: list[dict[str, Any]], total: int, out: Path) -> str:
    first = failures[0]["error"]
    return (
        f"{len(failures)} of {total} runs failed (first: {first}); details in "
        f"{out / ERRORS_FILE}, finished runs are in {out / RESULTS_FILE}"
    )


def run_bench(
    specs: Sequence[RunSpec],
    out_dir: str | os.PathLike,
    workers: int | None = None,
    progress: Progress | None = None,
    *,
    executor: Executor | ExecutorChoice | None = None,
    work: BenchWork | None = None,
) -> list[dict[str, Any]]:
    """Run ``specs`` in parallel, appending each finished run to ``out_dir/results.jsonl``.

    Runs already in the file (same ``config_key`` and seed) are skipped, so adding seeds to a
    study only pays for the new ones. Returns the lines for ``specs`` in spec order.

    The runs go to ``executor``: one made (and closed) here as an :class:`ExecutorChoice` says
    -- by default ``workers`` local processes (default: the cores), one retry -- or an
    :class:`~seminas.execution.base.Executor` handed in (left open for its owner to close).
    ``work`` runs each spec in a worker (default: a
    :class:`~seminas.experiments.bench.work.BenchWork`; a subclass may, say, inject faults).

    A run given up does not stop the others; it goes to stderr and ``errors.jsonl``, and once
    all runs are done a :class:`BenchRunError` reports how many failed (its ``output`` is the
    lines). Ctrl-C or ``SIGTERM`` ends the running runs at once and raises
    :class:`~seminas.lifecycle.Interrupted` (a ``KeyboardInterrupt``) whose message says where
    the finished runs are.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out):
        lines, failures, _ = _execute(list(specs), out, workers, executor,
                                      progress or NO_PROGRESS, work)
    if failures:
        raise BenchRunError(_failure_message(failures, len(specs), out), failures, lines)
    return lines


def bench(
    space: str,
    dataset: str | None,
    strategies: Sequence[str] | str,
    budget: int,
    seeds: Sequence[int] | str,
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    executor: Executor | ExecutorChoice | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    fidelity: int | None = None,
    data_dir: str | os.PathLike | None = None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    command: str | None = None,
    progress: Progress | None = None,
) -> BenchOutput:
    """``seminas bench``: run strategies x seeds (skipping runs already in ``out``), then write
    ``summary.md``, ``summary.json`` and ``curves.png`` for exactly the requested runs.

    ``preset`` applies to each strategy that defines it (others run their defaults).
    ``overrides`` maps a strategy name to config overrides. ``executor`` (see :func:`run_bench`)
    decides where runs go, with what timeout and retries. If some runs were given up, the files
    are still written for the others and a :class:`BenchRunError` (a ``SeminasError``) is
    raised at the end, its ``output`` the :class:`BenchOutput`.
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

    out_dir = check_output_dir(out, files=BENCH_FILES)  # a file in the way: refused before any run
    first = specs[0]
    # the table once here: a missing or damaged data file is one line before any worker starts
    table = make_benchmark(first.space, first.dataset, first.data_dir, first.fidelity)
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(out_dir):
        lines, failures, skipped = _execute(specs, out_dir, workers, executor,
                                            progress or NO_PROGRESS)
        if not lines:
            raise BenchRunError(_failure_message(failures, len(specs), out_dir), failures)
        info = describe_benchmark(table)
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
