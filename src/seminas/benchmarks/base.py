"""Evaluators turn an architecture into a :class:`Record`; tabular benchmarks look it up.

Every evaluator counts what it is asked (total and unique queries) so strategies are charged
honestly. Metrics are accuracies in percent. A metric the data lacks is ``None`` (missing), never
a made-up value; an architecture outside a table raises :class:`UnknownArchitectureError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from seminas.spaces.base import SearchSpace


@dataclass(frozen=True)
class Record:
    """The outcome of one evaluation."""

    arch_id: str
    search_metric: float  # what strategies maximise (validation accuracy, %)
    report_metric: float | None  # what papers report (test accuracy, %), None if missing
    cost_seconds: float | None = None  # training time the evaluation stands for
    params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> bool:
        """True for the placeholder of an evaluation given up after failing (see
        :mod:`seminas.execution`): its metric is NaN and ``extra`` holds the errors."""
        return bool(self.extra.get("failed"))


class Evaluator(ABC):
    """Anything that scores architectures of one space: a table, a trainer, a supernet."""

    space: SearchSpace
    search_metric_name: str = "validation accuracy (%)"
    report_metric_name: str = "test accuracy (%)"

    def __init__(self) -> None:
        self.num_queries = 0
        self._queried_ids: set[str] = set()

    @property
    def num_unique_queries(self) -> int:
        return len(self._queried_ids)

    def reset_counts(self) -> None:
        self.num_queries = 0
        self._queried_ids.clear()

    def evaluate(self, arch: Any, query: int | None = None) -> Record:
        """Score ``arch`` and charge one query.

        ``query`` is the position of this query in its search, when known. A stochastic
        evaluator derives its randomness from it (and its seed), so that a query gives the same
        result whichever process evaluates it and however often a search is resumed.
        """
        arch = self.space.validate(arch)
        record = self._evaluate(arch) if query is None else self._evaluate_at(arch, int(query))
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record

    @abstractmethod
    def _evaluate(self, arch: Any) -> Record:
        """Score an already validated architecture."""

    def _evaluate_at(self, arch: Any, query: int) -> Record:
        """Score as query number ``query`` of a search; deterministic evaluators ignore it."""
        return self._evaluate(arch)

    def describe(self) -> dict[str, Any]:
        """What a study records to identify this evaluator."""
        return {"class": type(self).__name__, "space": self.space.name}


class TabularBenchmark(Evaluator):
    """An evaluator backed by a precomputed table: queries are lookups, and the whole table is
    visible for analysis (global optimum, quantiles) without charging queries."""

    def query(self, arch: Any) -> Record:
        """Alias of :meth:`evaluate`, the usual verb for tabular benchmarks."""
        return self.evaluate(arch)

    @abstractmethod
    def lookup(self, arch: Any) -> Record:
        """The record of ``arch`` without charging a query (for analysis, never for search)."""

    def _evaluate(self, arch: Any) -> Record:
        return self.lookup(arch)

    @abstractmethod
    def __len__(self) -> int:
        """Number of architectures in the table."""

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Every record in the table (deterministic search metric where runs differ: the mean)."""
