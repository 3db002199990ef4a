"""What every search strategy shares: one interface, one query accounting, one result format.

A strategy never touches the evaluator directly. It hands batches of candidates to a
:class:`SearchContext`, which validates them, charges each one against the budget (duplicates and
later-discarded candidates included), records the outcome as a :class:`Trial`, and stops the search
with :class:`BudgetExhausted` the moment the budget is spent -- so no strategy can exceed it.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from seminas.benchmarks.base import Evaluator, Record
from seminas.spaces.base import SearchSpace


class BudgetExhausted(Exception):
    """Raised inside a strategy's loop when the last query of the budget has been spent."""


@dataclass(frozen=True)
class Trial:
    """One charged evaluation."""

    number: int  # 0-based position in the query sequence
    arch_id: str
    arch: Any  # the space's native notation (JSON-serialisable)
    search_metric: float
    report_metric: float | None
    cost_seconds: float | None
    iteration: int  # the strategy's iteration that proposed it (0 = initial sample)


@dataclass
class SearchResult:
    strategy: str
    config: dict[str, Any]
    seed: int
    budget: int
    evaluator: dict[str, Any]
    trials: list[Trial]
    wall_seconds: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Trial | None:
        """Best by search metric; the earliest wins ties."""
        best = None
        for t in self.trials:
            if best is None or t.search_metric > best.search_metric:
                best = t
        return best

    def trajectory(self) -> list[tuple[float, float | None]]:
        """After each query: the best search metric so far and that architecture's report metric."""
        out, best = [], None
        for t in self.trials:
            if best is None or t.search_metric > best.search_metric:
                best = t
            out.append((best.search_metric, best.report_metric))
        return out

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        traj = self.trajectory()
        return {
            "strategy": self.strategy,
            "config": self.config,
            "seed": self.seed,
            "budget": self.budget,
            "evaluator": self.evaluator,
            "num_queries": len(self.trials),
            "wall_seconds": self.wall_seconds,
            "best": None if best is None else asdict(best),
            "trajectory": {
                "best_search": [s for s, _ in traj],
                "best_report": [r for _, r in traj],
            },
            "trials": [asdict(t) for t in self.trials],
            "diagnostics": self.diagnostics,
        }


class SearchContext:
    """Charges, records and reports evaluations for one search."""

    def __init__(
        self,
        space: SearchSpace,
        evaluator: Evaluator,
        budget: int,
        on_event: Callable[[SearchContext], None] | None = None,
    ) -> None:
        if budget < 1:
            raise ValueError(f"budget must be at least 1, got {budget}")
        self.space = space
        self.evaluator = evaluator
        self.budget = int(budget)
        self.trials: list[Trial] = []
        self.evaluated_ids: set[str] = set()
        self.phase = "starting"
        self.diagnostics: dict[str, Any] = {}
        self._on_event = on_event

    @property
    def remaining(self) -> int:
        return self.budget - len(self.trials)

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self._emit()

    def is_evaluated(self, arch: Any) -> bool:
        return self.space.arch_id(arch) in self.evaluated_ids

    def evaluate(self, archs: Sequence[Any], iteration: int = 0) -> list[tuple[Any, Record]]:
        """Evaluate a batch in order, charging each; stops at the budget.

        Returns the (architecture, record) pairs that were evaluated. Raises
        :class:`BudgetExhausted` after recording them if the budget is now spent.
        """
        if self.remaining <= 0:
            raise BudgetExhausted
        previous_phase = self.phase
        self.phase = "evaluation"
        done = []
        for arch in list(archs)[: self.remaining]:
            arch = self.space.validate(arch)
            record = self.evaluator.evaluate(arch)
            trial = Trial(
                number=len(self.trials),
                arch_id=record.arch_id,
                arch=self.space.to_native(arch),
                search_metric=float(record.search_metric),
                report_metric=record.report_metric,
                cost_seconds=record.cost_seconds,
                iteration=iteration,
            )
            self.trials.append(trial)
            self.evaluated_ids.add(record.arch_id)
            done.append((arch, record))
            self._emit()
        self.phase = previous_phase
        if self.remaining <= 0:
            raise BudgetExhausted
        return done

    def best_search_metric(self) -> float | None:
        return max((t.search_metric for t in self.trials), default=None)

    def _emit(self) -> None:
        if self._on_event is not None:
            self._on_event(self)


class Strategy(ABC):
    """A search strategy: a name, a config dataclass, and a loop that spends a budget.

    Subclasses set ``name`` and ``Config`` (a dataclass) and implement :meth:`run`.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        base = config if config is not None else self.Config()
        known = {f.name for f in fields(base)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            from seminas.errors import SeminasError

            raise SeminasError(
                f"unknown option(s) {', '.join(unknown)} for strategy {self.name!r}; "
                f"known: {', '.join(sorted(known))}"
            )
        self.config = type(base)(**{**asdict(base), **overrides})

    @classmethod
    def from_preset(cls, preset: str | None = None, **overrides: Any) -> Strategy:
        if preset is None:
            return cls(**overrides)
        if preset not in cls.presets:
            from seminas.errors import SeminasError

            choices = ", ".join(sorted(cls.presets)) or "none"
            raise SeminasError(
                f"unknown preset {preset!r} for strategy {cls.name!r} (available: {choices})"
            )
        return cls(**{**cls.presets[preset], **overrides})

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    @abstractmethod
    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        """Propose and evaluate architectures through ``ctx`` until the budget is spent."""


def run_search(
    strategy: Strategy,
    evaluator: Evaluator,
    budget: int,
    seed: int = 0,
    on_event: Callable[[SearchContext], None] | None = None,
) -> SearchResult:
    """Run one search from a fixed seed; the same seed and config give the same result."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ctx = SearchContext(evaluator.space, evaluator, budget, on_event)
    start = time.perf_counter()
    try:
        strategy.run(ctx, rng)
    except BudgetExhausted:
        pass
    ctx.phase = "done"
    return SearchResult(
        strategy=strategy.name,
        config=strategy.config_dict(),
        seed=seed,
        budget=budget,
        evaluator=evaluator.describe(),
        trials=list(ctx.trials),
        wall_seconds=time.perf_counter() - start,
        diagnostics=ctx.diagnostics,
    )
