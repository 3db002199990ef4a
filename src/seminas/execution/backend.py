"""The bridge between a search and an executor: an :class:`EvaluationBackend` that runs each batch
in parallel and hands records back in query order.

Records come back in the order of the queries, whichever worker finished first, so a search is
the same with 1 or 8 workers (a strategy that sizes its batches by ``ctx.parallelism``, like
regularized evolution, is the same for the same number of workers). A job whose every attempt
failed comes back as a *failed record* (:func:`failed_record`): the search context records it
as a failure instead of a trial, and the strategy never sees it as a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from seminas.benchmarks.base import Record
from seminas.execution.base import AttemptFailure, Executor, Job, Outcome

DEFAULT_MAX_CONSECUTIVE_FAILURES = 10


def failed_record(arch_id: str, outcome: Outcome) -> Record:
    """The record of a given-up evaluation: NaN metric, the failures in ``extra``."""
    return Record(
        arch_id=arch_id,
        search_metric=float("nan"),
        report_metric=None,
        cost_seconds=None,
        extra={
            "failed": True,
            "error": outcome.error(),
            "attempts": [f.to_dict() for f in outcome.failures],
        },
    )


def outcome_record(arch_id: str, outcome: Outcome) -> Record:
    """The record to hand to the search: the evaluator's, with earlier failed attempts noted,
    and the worker that produced it (``extra["worker"]``: on a Ray cluster, which node)."""
    if outcome.record is None:
        return failed_record(arch_id, outcome)
    record = outcome.record
    if outcome.failures or outcome.cached or outcome.worker:
        extra = dict(record.extra)
        if outcome.worker:
            extra["worker"] = outcome.worker
        if outcome.failures:
            extra["failed_attempts"] = [f.to_dict() for f in outcome.failures]
        if outcome.cached:
            extra["cached"] = True
        record = Record(
            arch_id=record.arch_id,
            search_metric=record.search_metric,
            report_metric=record.report_metric,
            cost_seconds=record.cost_seconds,
            params=record.params,
            extra=extra,
        )
    return record


class ExecutorBackend:
    """Evaluates each batch of a search on an :class:`Executor` (local processes, Ray)."""

    def __init__(
        self,
        executor: Executor,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        on_failure: Callable[[Job, AttemptFailure], None] | None = None,
    ) -> None:
        self.executor = executor
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.on_failure = on_failure
        self.replaying = False  # for the progress bar shared with studies

    @property
    def parallelism(self) -> int:
        """How many candidates a strategy should hand over at once to keep every worker busy."""
        return self.executor.workers

    def evaluate(self, ctx: Any, batch: list[Any]) -> Iterator[Record]:
        executor = self.executor
        executor.start(ctx.evaluator)
        executor.on_failure = self.on_failure
        for c in batch:
            executor.submit(Job(c.number, c.arch, c.number))
        arrived: dict[int, Outcome] = {}
        waiting = [c.number for c in batch]
        try:
            for c in batch:
                while c.number not in arrived:
                    outcome = executor.next_outcome()
                    if outcome is None:  # pragma: no cover - the executor lost a job
                        raise RuntimeError(f"no outcome for query {c.number + 1}")
                    arrived[outcome.key] = outcome
                    count_query(ctx.evaluator, outcome)
                waiting.remove(c.number)
                yield outcome_record(c.arch_id, arrived.pop(c.number))
        finally:
            if waiting:  # the search stopped early (Ctrl-C, an error): drop the rest
                executor.cancel(waiting)

    def close(self) -> None:
        self.executor.close()


def count_query(evaluator: Any, outcome: Outcome) -> None:
    """Charge the search's evaluator for a query answered in another process."""
    if outcome.record is not None and hasattr(evaluator, "num_queries"):
        evaluator.num_queries += 1
        queried = getattr(evaluator, "_queried_ids", None)
        if isinstance(queried, set):
            queried.add(outcome.record.arch_id)
