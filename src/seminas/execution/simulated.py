"""Table lookups that take time: ``--simulate-time SCALE``.

A tabular query answers in microseconds, so a search on a table never shows what parallel
workers, a Ray cluster or a lost node do to it. :class:`SimulatedTime` answers exactly as the
table does, but only after sleeping ``cost_seconds * SCALE`` -- the training time the record
stands for, scaled -- in the process that evaluates (a local worker, a Ray task). The results
are the table's, so a simulated search gives the same trials as a plain one; only the wall
time changes. The sleep happens in :meth:`SimulatedTime.evaluate`, which is what executors call.
"""

from __future__ import annotations

import time
from typing import Any

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import SeminasError


class SimulatedTime(Evaluator):
    """``inner``'s records, each after ``cost_seconds * scale`` seconds of sleep (none for a
    record without a cost). Other attributes (``lookup``, ``records``...) are ``inner``'s."""

    def __init__(self, inner: Evaluator, scale: float) -> None:
        if not scale >= 0:
            raise SeminasError(f"--simulate-time must be 0 or more, got {scale}")
        super().__init__()
        self.inner = inner
        self.scale = float(scale)
        self.space = inner.space
        self.search_metric_name = inner.search_metric_name
        self.report_metric_name = inner.report_metric_name

    def __getattr__(self, name: str) -> Any:
        # only called for names not found here; "inner" itself is missing while unpickling
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _sleep(self, record: Record) -> Record:
        if self.scale > 0 and record.cost_seconds:
            time.sleep(record.cost_seconds * self.scale)
        return record

    def _evaluate(self, arch: Any) -> Record:
        return self._sleep(self.inner.evaluate(arch))

    def _evaluate_at(self, arch: Any, query: int) -> Record:
        return self._sleep(self.inner.evaluate(arch, query=query))

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "simulate_time": self.scale}


def simulated(evaluator: Evaluator, scale: float | None) -> Evaluator:
    """``evaluator`` itself when ``scale`` is 0 or None, else wrapped in :class:`SimulatedTime`."""
    return SimulatedTime(evaluator, scale) if scale else evaluator
