"""What every search strategy shares: one interface, one query accounting, one result format.

A strategy never touches the evaluator directly. It hands batches of candidates to a
:class:`SearchContext`, which validates them, charges each one against the budget (duplicates and
later-discarded candidates included), records the outcome as a :class:`Trial`, and stops the search
with :class:`BudgetExhausted` the moment the budget is spent -- so no strategy can exceed it.

Where an evaluation actually happens is pluggable: by default the context calls the evaluator in
process; an :class:`EvaluationBackend` (a study, see :mod:`seminas.study`) can instead record each
candidate, hand it to other processes, or answer it from a stored result. Strategies never know.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import SeminasError
from seminas.spaces.base import SearchSpace

if TYPE_CHECKING:
    import torch


class BudgetExhausted(Exception):
    """Raised inside a strategy's loop when the last query of the budget has been spent."""


class TooManyFailures(SeminasError):
    """Evaluations keep failing (see :meth:`SearchContext.evaluate`): the search stops."""


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
    predicted: float | None = None  # the strategy's own prediction when it proposed it, if any


@dataclass(frozen=True)
class Candidate:
    """One architecture a strategy asked to evaluate, with its place in the query sequence."""

    number: int
    arch: Any  # validated, in the space's own type
    arch_id: str
    iteration: int
    predicted: float | None = None


class EvaluationBackend(Protocol):
    """Turns a batch of candidates into records, in order (see :class:`SearchContext`).

    An implementation may evaluate here, wait for other processes, or return stored records;
    it must yield exactly one record per candidate, in the order given.
    """

    def evaluate(self, ctx: SearchContext, batch: list[Candidate]) -> Iterator[Record]: ...


class LocalEvaluation:
    """The default backend: call the evaluator in this process, one candidate at a time."""

    def evaluate(self, ctx: SearchContext, batch: list[Candidate]) -> Iterator[Record]:
        for c in batch:
            yield ctx.evaluator.evaluate(c.arch, query=c.number)


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
    """Charges, records and reports evaluations for one search.

    Failed evaluations (a backend gave a candidate up after its retries, see
    :mod:`seminas.execution`) are recorded in :attr:`failures` and
    ``diagnostics["failures"]``, not as trials: they take a query number but do not use the
    budget, are never returned to the strategy as a label, and are never proposed again. The
    search stops with :class:`TooManyFailures` after ``max_consecutive_failures`` failures in a
    row, or when a whole batch fails before anything has succeeded.
    """

    def __init__(
        self,
        space: SearchSpace,
        evaluator: Evaluator,
        budget: int,
        on_event: Callable[[SearchContext], None] | None = None,
        backend: EvaluationBackend | None = None,
        rng: np.random.Generator | None = None,
        torch_rng: torch.Generator | None = None,
    ) -> None:
        if budget < 1:
            raise ValueError(f"budget must be at least 1, got {budget}")
        check_budget = getattr(space, "check_budget", None)  # more queries than cells: refused
        if check_budget is not None:
            check_budget(int(budget))
        self.space = space
        self.evaluator = evaluator
        self.budget = int(budget)
        self.trials: list[Trial] = []
        self.evaluated_ids: set[str] = set()
        self.phase = "starting"
        self.diagnostics: dict[str, Any] = {}
        # predictions a strategy wants checked against the truth after the search; it never
        # sees the truth itself (see :meth:`record_predictions`)
        self.prediction_probes: list[dict[str, Any]] = []
        self.phase_seconds: dict[str, float] = {}  # wall time spent in each phase so far
        self.backend: EvaluationBackend = backend if backend is not None else LocalEvaluation()
        # The search's own generators (see seminas.randomness): the strategy draws from these
        # and nothing else, and a backend can checkpoint their states.
        self.rng = rng
        self.torch_rng = torch_rng
        # A strategy may set this to a callable returning its own state (e.g. controller
        # weights); a backend that keeps checkpoints stores it at each batch boundary.
        self.state_provider: Callable[[], dict[str, Any]] | None = None
        # how many candidates to hand over at once to keep the backend's workers busy
        self.parallelism = max(1, int(getattr(self.backend, "parallelism", 1) or 1))
        self.failures: list[dict[str, Any]] = []
        self.max_consecutive_failures = int(getattr(self.backend, "max_consecutive_failures", 10))
        self._consecutive_failures = 0
        self._next_number = 0  # query numbers: trials and failures alike
        self._on_event = on_event
        self._phase_started = time.perf_counter()

    def record_predictions(
        self, key: str, iteration: int, archs: Sequence[Any], predicted: Sequence[float]
    ) -> None:
        """Ask for a diagnostic: after the search, whoever ran it and holds the truth (a tabular
        benchmark's free lookup, which a strategy must never use) stores Kendall tau between
        ``predicted`` and the true search metric of ``archs`` as ``key`` in iteration
        ``iteration``'s diagnostics. Nothing here reaches the strategy, and nothing is charged."""
        self.prediction_probes.append(
            {"key": key, "iteration": int(iteration), "archs": list(archs),
             "predicted": [float(p) for p in predicted]}
        )

    @property
    def remaining(self) -> int:
        return self.budget - len(self.trials)

    def set_phase(self, phase: str) -> None:
        self._switch_phase(phase)
        self._emit()

    def _switch_phase(self, phase: str) -> None:
        now = time.perf_counter()
        self.phase_seconds[self.phase] = (
            self.phase_seconds.get(self.phase, 0.0) + now - self._phase_started
        )
        self._phase_started = now
        self.phase = phase

    def close_phase(self) -> None:
        """Book the time of the current phase (call before reading :attr:`phase_seconds`)."""
        self._switch_phase(self.phase)

    def is_evaluated(self, arch: Any) -> bool:
        return self.space.arch_id(arch) in self.evaluated_ids

    def evaluate(
        self,
        archs: Sequence[Any],
        iteration: int = 0,
        predicted: Iterable[float] | None = None,
    ) -> list[tuple[Any, Record]]:
        """Evaluate a batch in order, charging each; stops at the budget.

        ``predicted`` optionally gives the strategy's predicted search metric of each
        architecture, kept with the trial so that studies can judge the predictor.
        Returns the (architecture, record) pairs that were evaluated. Raises
        :class:`BudgetExhausted` after recording them if the budget is now spent.
        """
        if self.remaining <= 0:
            raise BudgetExhausted
        archs = list(archs)[: self.remaining]
        given = [] if predicted is None else list(predicted)
        guesses = [None if p is None else float(p) for p in given]
        guesses += [None] * (len(archs) - len(guesses))
        batch = []
        for i, arch in enumerate(archs):
            arch = self.space.validate(arch)
            key = self.space.arch_id(arch)
            batch.append(Candidate(self._next_number + i, arch, key, iteration, guesses[i]))
        previous_phase = self.phase
        self._switch_phase("evaluation")
        done = []
        failed = 0
        records = self.backend.evaluate(self, batch)
        for candidate, record in zip(batch, records, strict=False):
            self._next_number += 1
            if record.failed:
                failed += 1
                self._record_failure(candidate, record)
                continue
            self._consecutive_failures = 0
            trial = Trial(
                number=candidate.number,
                arch_id=record.arch_id,
                arch=self.space.to_native(candidate.arch),
                search_metric=float(record.search_metric),
                report_metric=record.report_metric,
                cost_seconds=record.cost_seconds,
                iteration=iteration,
                predicted=candidate.predicted,
            )
            self.trials.append(trial)
            self.evaluated_ids.add(record.arch_id)
            done.append((candidate.arch, record))
            self._emit()
        if len(done) + failed != len(batch):
            raise RuntimeError(
                f"evaluation backend returned {len(done) + failed} of {len(batch)} records"
            )
        self._switch_phase(previous_phase)
        if failed:
            self._check_failures(failed == len(batch))
        if self.remaining <= 0:
            raise BudgetExhausted
        return done

    def _record_failure(self, candidate: Candidate, record: Record) -> None:
        self._consecutive_failures += 1
        self.evaluated_ids.add(candidate.arch_id)
        self.failures.append(
            {
                "number": candidate.number,
                "arch_id": candidate.arch_id,
                "arch": self.space.to_native(candidate.arch),
                "iteration": candidate.iteration,
                "error": record.extra.get("error"),
                "attempts": record.extra.get("attempts", []),
            }
        )
        self.diagnostics["failures"] = self.failures
        self._emit()

    def _check_failures(self, whole_batch: bool) -> None:
        last = self.failures[-1]["error"]
        if self._consecutive_failures >= self.max_consecutive_failures:
            raise TooManyFailures(
                f"stopped after {self._consecutive_failures} failed evaluations in a row "
                f"(last: {last})"
            )
        if whole_batch and not self.trials:
            raise TooManyFailures(
                f"stopped: every evaluation so far failed ({len(self.failures)}; last: {last})"
            )

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
        # Every option is checked against its declaration (seminas.options): one line naming
        # the option, the value and what is allowed, wherever the strategy is built.
        from seminas.options import OptionError, Options, check_keys, validate

        owner = f"strategy {self.name!r}"
        try:
            base = config if config is not None else self.Config()
            check_keys(type(base), overrides, owner)
            self.config = type(base)(**{**asdict(base), **overrides})
            if not isinstance(self.config, Options):  # a plain dataclass: check its types
                validate(self.config)
        except OptionError as exc:
            raise exc.within(owner) from None

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
        """Propose and evaluate architectures through ``ctx`` until the budget is spent.

        Draw random numbers only from ``rng`` and ``ctx.torch_rng`` (hand them to whatever
        needs randomness), never from a process-global generator: that keeps a search exact
        whatever else runs in the process."""


def fill_prediction_diagnostics(ctx: SearchContext, evaluator: Evaluator) -> None:
    """Kendall tau of each recorded probe against the truth, where the evaluator can look the
    truth up for free (a tabular benchmark); elsewhere the probes are dropped."""
    lookup = getattr(evaluator, "lookup", None)
    probes, ctx.prediction_probes = ctx.prediction_probes, []
    if not callable(lookup) or not probes:
        return
    from scipy.stats import kendalltau

    by_iteration = {d.get("iteration"): d for d in ctx.diagnostics.get("iterations", [])}
    for probe in probes:
        truth = [lookup(a).search_metric for a in probe["archs"]]
        tau = float(kendalltau(probe["predicted"], truth)[0])
        if probe["iteration"] in by_iteration:  # recorded by the strategy's own diagnostics
            by_iteration[probe["iteration"]][probe["key"]] = tau


def run_search(
    strategy: Strategy,
    evaluator: Evaluator,
    budget: int,
    seed: int = 0,
    on_event: Callable[[SearchContext], None] | None = None,
    backend: EvaluationBackend | None = None,
) -> SearchResult:
    """Run one search from a fixed seed; the same seed and config give the same result.

    ``backend`` decides where evaluations happen (default: the evaluator, in this process).
    The search owns its randomness: a NumPy generator (passed to :meth:`Strategy.run`) and a
    torch generator (``ctx.torch_rng``), both seeded from ``seed``; the process-global
    generators are neither seeded nor drawn from (:mod:`seminas.randomness`).
    """
    from seminas.randomness import torch_generator

    rng = np.random.default_rng(seed)
    ctx = SearchContext(
        evaluator.space, evaluator, budget, on_event, backend=backend, rng=rng,
        torch_rng=torch_generator(seed),
    )
    start = time.perf_counter()
    try:
        strategy.run(ctx, rng)
    except BudgetExhausted:
        pass
    except TooManyFailures as exc:  # keep what finished; callers report the reason
        ctx.diagnostics["stopped"] = str(exc)
    ctx.close_phase()
    ctx.phase = "done"
    fill_prediction_diagnostics(ctx, evaluator)
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
