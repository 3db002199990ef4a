"""SemiNAS -- and every other seminas strategy -- as an Optuna sampler.

``optuna.create_study(sampler=SemiNASSampler("seminas", seed=0))`` searches an objective's
categorical and integer parameters with SemiNAS; ``"gbdt"``, ``"weaknas"``, ``"re"``, ``"rs"``
(any name of :func:`seminas.strategies.strategy_names`) run the other strategies through the
same adapter. Nothing is written by hand on the seminas side: the search space is read from the
trials' distributions and its tokens from the categories (:mod:`seminas.spaces.categorical`).
``docs/optuna.md`` is the user's guide; this docstring is the exact contract.

The search space
    Given ``search_space`` (``{name: distribution}``), that is the space from trial 0 on.
    Otherwise it is the distributions of the *discovery trial* ``D``: the lowest-numbered trial
    that ended COMPLETE while every trial before it ended PRUNED or FAILED (usually trial 0).
    Trials up to ``D`` are sampled independently; deciding whether a trial comes after ``D``
    may wait for earlier trials to finish (see "Waiting"). Of those distributions the space keeps
    the categorical and integer ones with 2 to ``max_choices`` values, sorted by name (as
    Optuna's ``IntersectionSearchSpace`` sorts them); float parameters, and any parameter a
    trial suggests outside the space, are sampled independently.

Trials and queries
    The strategy runs as in :func:`seminas.strategies.run_search` (same seed: the same NumPy
    and torch generators), in a background thread, against a backend that answers each of its
    queries from the study. Query ``k`` of the search *is* trial ``start + k`` (``start`` is 0
    with ``search_space``, else ``D + 1``). Optuna allocates trial numbers atomically in every
    storage, so however many threads (``n_jobs``) or processes share the study, each proposed
    configuration goes to exactly one trial: pending trials are handed out without duplicates,
    and every process computes the same proposals, because the strategy only sees the seed and
    the stored outcomes of earlier trials.

    The outcome of trial ``start + k`` is the label of query ``k``: its value (negated for
    ``direction="minimize"``: strategies maximise). A FAIL trial is a failed evaluation
    (:class:`~seminas.strategies.base.SearchContext`): no label, never proposed again, the
    budget not charged; ``max_consecutive_failures`` failures in a row end the search. A PRUNED
    trial is labelled with its last intermediate value (the value Optuna stores for it) with
    ``pruned="last"``, and is a failed evaluation with ``pruned="fail"`` or when it reported
    nothing. A trial whose parameters in the space differ from its query's (enqueued fixed
    parameters, a conditional objective that skipped one, or a trial that had to be sampled
    independently, below) is a failed evaluation of that query, so all processes agree.
    Non-finite values are failures too. Each sampled trial carries the system attributes
    ``seminas:query``, ``seminas:iteration`` and ``seminas:predicted`` (the strategy's guess).

Waiting
    The strategy advances only while Optuna asks for a trial whose query it has not proposed
    yet (it never runs while objectives of a single-threaded study run). Inside
    ``study.optimize`` (``wait=None``, the default) such a trial waits for the outcomes its
    query depends on -- the rest of the current batch, possibly running in other threads or
    processes -- for at most ``wait_timeout`` seconds (``None``: as long as it takes; use a
    storage with heartbeats so that dead workers' trials end as FAIL). With ask-and-tell
    (``study.ask()`` outside ``optimize``, where waiting could deadlock the caller) it does not
    wait for other trials. A trial that cannot get its query in time is sampled independently
    (and its query becomes a failure, above), with a warning.

Determinism
    The same seed, settings and objective give the same parameters for every trial number,
    sequentially or with ``n_jobs > 1`` (as long as no trial had to be sampled independently
    because of a timeout); independent samples are drawn from a generator derived from the
    seed, the trial number and the parameter's name, so replicas never repeat each other and
    :meth:`SemiNASSampler.reseed_rng` has nothing to change. Every process sharing a study must
    use the same strategy, settings and seed: the first writes them into the study's system
    attributes (``seminas:sampler``) and the others are refused if theirs differ
    (``seed=None`` adopts the study's seed, or draws a fresh one for a new study).

The end of a search
    After ``budget`` queries (default: the size of the space), a strategy error, or too many
    failures, later trials are sampled independently (one warning says why). The background
    thread ends with the search, on :meth:`SemiNASSampler.close` (or leaving ``with
    SemiNASSampler(...)``), when the sampler is garbage-collected, or after ``idle_timeout``
    seconds without a request; a later request then replays the search from the stored trials
    (exactly: the strategy is deterministic), as a new process resuming the study does.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

try:
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
    from optuna.samplers import BaseSampler, RandomSampler
    from optuna.study import Study, StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "seminas.integrations.optuna needs Optuna: pip install 'seminas[optuna]'"
    ) from exc

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.categorical import CategoricalSpace, Parameter
from seminas.strategies.base import (
    BudgetExhausted,
    Candidate,
    SearchContext,
    Strategy,
    TooManyFailures,
)

SYSTEM_ATTR = "seminas:sampler"
PRUNED_POLICIES = ("last", "fail")
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_MAX_EMPTY_BATCHES = 100


class SamplerWarning(UserWarning):
    """A trial was sampled independently instead of by the search (the message says why)."""


class _Stop(BaseException):
    """Unwinds the strategy's thread (not an Exception: no strategy may swallow it)."""


# -- the search space from Optuna distributions -----------------------------------------------
def parameter_of(name: str, dist: BaseDistribution, max_choices: int) -> Parameter | None:
    """The seminas parameter of an Optuna distribution, or ``None`` where the search leaves it to
    independent sampling (floats, a single value, more than ``max_choices`` values)."""
    if isinstance(dist, CategoricalDistribution):
        if not 2 <= len(dist.choices) <= max_choices:
            return None
        try:
            return Parameter(name, tuple(dist.choices))
        except SeminasError:  # e.g. a value listed twice
            return None
    if isinstance(dist, IntDistribution):
        count = (dist.high - dist.low) // dist.step + 1
        if not 2 <= count <= max_choices:
            return None
        return Parameter.integer(name, dist.low, dist.high, dist.step, dist.log)
    return None


def space_from_distributions(
    distributions: Mapping[str, BaseDistribution], max_choices: int = 1024
) -> tuple[CategoricalSpace | None, dict[str, BaseDistribution]]:
    """The categorical space of ``distributions`` (names sorted) and the distributions it
    covers; ``(None, {})`` when no parameter qualifies."""
    params, kept = [], {}
    for name in sorted(distributions):
        param = parameter_of(name, distributions[name], max_choices)
        if param is not None:
            params.append(param)
            kept[name] = distributions[name]
    if not params:
        return None, {}
    return CategoricalSpace(params), kept


class _StudyObjective(Evaluator):
    """The evaluator a search context needs; every answer comes from the study instead."""

    def __init__(self, space: CategoricalSpace) -> None:
        super().__init__()
        self.space = space

    def _evaluate(self, arch: Any) -> Record:  # pragma: no cover - the backend answers
        raise RuntimeError("queries of an Optuna search are answered by its trials")

    def describe(self) -> dict[str, Any]:
        return {
            "class": "OptunaStudy",
            "space": self.space.name,
            "parameters": self.space.describe(),
        }


# -- one running search -------------------------------------------------------------------------
class _Backend:
    """Hands each batch to the study and yields the trials' outcomes in order."""

    def __init__(self, search: _Search, parallelism: int, max_failures: int) -> None:
        self.search = search
        self.parallelism = parallelism
        self.max_consecutive_failures = max_failures

    def evaluate(self, ctx: SearchContext, batch: list[Candidate]) -> Iterator[Record]:
        search = self.search
        search._publish(batch)
        for i, candidate in enumerate(batch):
            yield search._await(candidate.number, last=i == len(batch) - 1)


class _Search:
    """A strategy running in a daemon thread, one query per trial number from ``start`` on."""

    def __init__(
        self,
        strategy: Callable[[], Strategy],
        space: CategoricalSpace,
        seed: int,
        budget: int,
        exclude: set[str],
        parallelism: int,
        max_failures: int,
        idle_timeout: float | None,
    ) -> None:
        self.space = space
        self.cond = threading.Condition()
        self.proposed: dict[int, Candidate] = {}
        self.results: dict[int, Record] = {}
        self.wanted = -1  # highest query number a trial has asked for
        self.next_number = 0  # first query number not yet proposed
        self.finished = False
        self.reason = ""
        self.stopping = False
        self.idle_timeout = idle_timeout
        self.last_activity = time.monotonic()
        self._empty_batches = 0
        self._make_strategy = strategy
        self._seed = seed
        self._budget = budget
        self._exclude = exclude
        self._parallelism = parallelism
        self._max_failures = max_failures
        self.thread: threading.Thread | None = None

    # -- the strategy's side ------------------------------------------------------------------
    def start(self) -> None:
        with self.cond:
            if self.thread is not None:
                return
            self.thread = threading.Thread(
                target=self._run, name="seminas-optuna-search", daemon=True
            )
        self.thread.start()

    def _run(self) -> None:
        from seminas.randomness import torch_generator

        reason = "the strategy ended"
        try:
            rng = np.random.default_rng(self._seed)
            ctx = SearchContext(
                self.space,
                _StudyObjective(self.space),
                self._budget,
                backend=_Backend(self, self._parallelism, self._max_failures),
                rng=rng,
                torch_rng=torch_generator(self._seed),
            )
            ctx.evaluated_ids.update(self._exclude)
            self._make_strategy().run(ctx, rng)
        except BudgetExhausted:
            reason = f"the search spent its budget of {self._budget} queries"
        except TooManyFailures as exc:
            reason = f"the search stopped: {exc}"
        except _Stop as exc:
            reason = str(exc) or "the sampler was closed"
        except SeminasError as exc:
            reason = f"the strategy stopped: {exc}"
        except Exception as exc:  # noqa: BLE001 -- reported to the user, trials go on
            reason = f"the strategy failed: {type(exc).__name__}: {exc}"
        finally:
            with self.cond:
                self.finished = True
                self.reason = reason
                self.cond.notify_all()

    def _publish(self, batch: list[Candidate]) -> None:
        with self.cond:
            if not batch:  # nothing new: go on only on demand, and not forever
                self._empty_batches += 1
                if self._empty_batches > _MAX_EMPTY_BATCHES:
                    raise _Stop("the strategy proposes nothing new (the space is exhausted)")
                self._wait_until(self._demanded)
                return
            self._empty_batches = 0
            for c in batch:
                self.proposed[c.number] = c
            self.next_number = batch[-1].number + 1
            self.cond.notify_all()

    def _await(self, number: int, last: bool) -> Record:
        """The outcome of query ``number``; after the last of a batch, wait also until a trial
        asks for a query not proposed yet (the strategy computes only on demand)."""
        with self.cond:
            self._wait_until(lambda: number in self.results)
            if last:
                self._wait_until(self._demanded)
            return self.results[number]

    def _demanded(self) -> bool:
        return self.wanted >= self.next_number

    def _wait_until(self, ready: Callable[[], bool]) -> None:
        """Wait (holding ``cond``) until ``ready()``; unwind when stopped or idle too long."""
        while True:
            if self.stopping:
                raise _Stop(self.reason)
            if ready():
                return
            idle = time.monotonic() - self.last_activity
            if self.idle_timeout is not None and idle > self.idle_timeout:
                self.stopping = True
                self.reason = "idle"
                raise _Stop("idle")
            limit = 1.0 if self.idle_timeout is None else self.idle_timeout - idle
            self.cond.wait(timeout=max(0.05, min(1.0, limit)))

    # -- the trials' side ---------------------------------------------------------------------
    def touch(self) -> None:
        with self.cond:
            self.last_activity = time.monotonic()

    def missing(self) -> list[int]:
        """Query numbers proposed but not yet answered."""
        with self.cond:
            return [n for n in self.proposed if n not in self.results]

    def feed(self, number: int, record: Record) -> None:
        with self.cond:
            if number not in self.results:
                self.results[number] = record
                self.cond.notify_all()

    def stop(self, reason: str = "the sampler was closed", join: float = 30.0) -> None:
        with self.cond:
            if not self.finished:
                self.stopping = True
                self.reason = reason
            self.cond.notify_all()
            thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(join)


# -- per study ----------------------------------------------------------------------------------
class _StudyState:
    """What the sampler knows about one study: its space, where the search starts, the search."""

    def __init__(self, sampler: SemiNASSampler, study: Study, seed: int) -> None:
        self.storage = study._storage
        self.study_id = study._study_id
        self.seed = seed
        self.maximize = study.direction == StudyDirection.MAXIMIZE
        self.lock = threading.RLock()
        self.space: CategoricalSpace | None = None
        self.distributions: dict[str, BaseDistribution] = {}
        self.start: int | None = None
        self.discovery_params: dict[str, Any] = {}
        self.search: _Search | None = None
        self.warned: set[str] = set()
        self._settings = sampler._settings
        if sampler._search_space is not None:
            self.space, self.distributions = sampler._explicit
            self.start = 0

    # -- the discovery trial ------------------------------------------------------------------
    def decide(self, number: int, wait: bool, timeout: float | None, poll: float) -> bool:
        """Whether trial ``number`` belongs to the search (``start`` known and reached)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.lock:
                if self.start is not None:
                    return number >= self.start
                pending = self._scan(number)
                if self.start is not None:
                    return number >= self.start
            if not pending:  # every earlier trial failed: this one discovers the space too
                return False
            if not wait or (deadline is not None and time.monotonic() > deadline):
                self._warn(
                    "discovery",
                    f"trial {number} was sampled independently: the trials before it had not "
                    f"finished, and their parameters define the search space",
                )
                return False
            time.sleep(poll)

    def _scan(self, number: int) -> bool:
        """Find the discovery trial among trials before ``number``; True if one is pending."""
        trials = sorted(
            self.storage.get_all_trials(self.study_id, deepcopy=False), key=lambda t: t.number
        )
        for t in trials:
            if t.number >= number:
                break
            if t.state == TrialState.COMPLETE:
                space, kept = space_from_distributions(
                    t.distributions, self._settings["max_choices"]
                )
                self.space, self.distributions = space, kept
                self.discovery_params = {k: t.params[k] for k in kept}
                self.start = t.number + 1
                return False
            if t.state not in (TrialState.PRUNED, TrialState.FAIL):
                return True
        return False

    # -- the search -----------------------------------------------------------------------------
    def current_search(self) -> _Search:
        with self.lock:
            if self.search is None or (self.search.finished and self.search.reason == "idle"):
                assert self.space is not None
                exclude = set()
                arch = (
                    self.space.try_validate(self.discovery_params)
                    if self.discovery_params
                    else None
                )
                if arch is not None:
                    exclude.add(self.space.arch_id(arch))
                s = self._settings
                budget = (
                    self.space.size if s["budget"] is None else min(s["budget"], self.space.size)
                )
                self.search = _Search(
                    s["make_strategy"],
                    self.space,
                    self.seed,
                    budget,
                    exclude,
                    s["parallelism"],
                    s["max_consecutive_failures"],
                    s["idle_timeout"],
                )
            return self.search

    def record(
        self,
        candidate: Candidate,
        trial_number: int,
        params: Mapping[str, Any],
        state: TrialState,
        values: Sequence[float] | None,
    ) -> Record:
        """The outcome of ``candidate``'s trial as the strategy sees it (see the module
        docstring); the same from ``after_trial`` and from the storage."""
        assert self.space is not None
        key = candidate.arch_id
        mismatch = []
        for param, index in zip(self.space.parameters, candidate.arch.indices, strict=True):
            try:
                same = param.name in params and param.index(params[param.name]) == index
            except InvalidArchitectureError:
                same = False
            if not same:
                mismatch.append(param.name)
        reason = None
        value = None if not values else float(values[0])
        if mismatch:
            reason = (
                f"trial {trial_number} ran other values than proposed for {', '.join(mismatch)}"
            )
        elif state == TrialState.COMPLETE:
            pass
        elif (
            state == TrialState.PRUNED and self._settings["pruned"] == "last" and value is not None
        ):
            pass
        elif state == TrialState.PRUNED:
            reason = f"trial {trial_number} was pruned"
            value = None
        else:
            reason = f"trial {trial_number} failed"
        if reason is None and (value is None or not math.isfinite(value)):
            reason = f"trial {trial_number} has no finite value ({value!r})"
        if reason is not None:
            return Record(
                key,
                float("nan"),
                None,
                extra={"failed": True, "error": reason, "attempts": [], "trial": trial_number},
            )
        assert value is not None
        metric = value if self.maximize else -value
        return Record(key, metric, None, extra={"trial": trial_number, "state": state.name})

    def sync(self, search: _Search) -> None:
        """Answer the search's pending queries whose trials have finished (any process)."""
        missing = search.missing()
        if not missing or self.start is None:
            return
        wanted = {self.start + n: n for n in missing}
        for t in self.storage.get_all_trials(self.study_id, deepcopy=False, states=_FINISHED):
            n = wanted.get(t.number)
            if n is not None:
                candidate = search.proposed[n]
                search.feed(n, self.record(candidate, t.number, t.params, t.state, t.values))

    def candidate(
        self, number: int, wait: bool, timeout: float | None, poll: float
    ) -> Candidate | None:
        """The query of trial ``number``, or ``None`` (the module docstring says when)."""
        assert self.start is not None
        k = number - self.start
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            # a search that went idle still answers the queries it proposed (a replay would
            # propose the same); only a query beyond them needs a fresh search
            search = self.search if self.search is not None else self.current_search()
        with search.cond:
            search.wanted = max(search.wanted, k)
            search.last_activity = time.monotonic()
            search.cond.notify_all()
        search.start()
        while True:
            with search.cond:
                search.last_activity = time.monotonic()
                if k in search.proposed:
                    return search.proposed[k]
                if search.finished:
                    if search.reason == "idle":  # replay: a fresh search from the stored trials
                        search = self.current_search()
                        with search.cond:
                            search.wanted = max(search.wanted, k)
                        search.start()
                        continue
                    self._warn(
                        "finished",
                        f"trial {number} and later ones are sampled independently: {search.reason}",
                    )
                    return None
            self.sync(search)
            with search.cond:
                if k in search.proposed or search.finished:
                    continue
                blocked = any(n not in search.results for n in search.proposed)
                if blocked and not wait:
                    self._warn(
                        "nowait",
                        f"trial {number} was sampled independently: its query "
                        f"needs the outcome of trials not told yet (tell them "
                        f"before asking for more, or raise parallelism)",
                    )
                    return None
                if deadline is not None and time.monotonic() > deadline:
                    self._warn(
                        "timeout",
                        f"trial {number} was sampled independently: its "
                        f"query was not ready within {timeout} s",
                    )
                    return None
                search.cond.wait(timeout=poll if blocked else 1.0)

    def _warn(self, kind: str, message: str) -> None:
        with self.lock:
            if kind in self.warned:
                return
            self.warned.add(kind)
        warnings.warn(message, SamplerWarning, stacklevel=4)

    def close(self) -> None:
        with self.lock:
            search = self.search
        if search is not None:
            search.stop()


def _close_all(studies: dict) -> None:
    for state in list(studies.values()):
        state.close()


# -- the sampler --------------------------------------------------------------------------------
class SemiNASSampler(BaseSampler):
    """An Optuna sampler that runs a seminas strategy over the categorical and integer
    parameters of the objective (the module docstring is the exact contract).

    Args:
        strategy: a strategy name (``seminas``, ``nao``, ``gbdt``, ``semi-gbdt``, ``weaknas``,
            ``re``, ``rs`` or a plugin's) or a :class:`~seminas.strategies.base.Strategy`.
        seed: seeds the search and the independent samples; ``None`` adopts the study's seed or
            draws a fresh one.
        preset: ``"fast"`` (default): the strategy's settings for NAS-Bench-201-sized budgets
            (100-500 trials; its ``fast`` preset where it has one); ``None``: its plain
            defaults; else a preset name of the strategy.
        search_space: ``{name: distribution}`` to search from trial 0 instead of inferring the
            space from the first completed trial.
        budget: trials the strategy proposes (default: the size of the space).
        parallelism: queries handed out at once by strategies that batch by it (``rs``, ``re``);
            set it to the number of trials that run at once.
        pruned: ``"last"`` (a pruned trial's label is its last intermediate value) or ``"fail"``.
        max_consecutive_failures: failed trials in a row after which the search stops.
        wait: whether a trial waits for the outcomes its query needs (``None``: inside
            ``study.optimize`` only).
        wait_timeout: longest such wait in seconds (``None``: no limit).
        idle_timeout: seconds without a request after which the background thread ends (a later
            request replays the search); ``None``: never.
        max_choices: parameters with more values than this are sampled independently.
        poll_interval: seconds between reads of the storage while waiting.
        **options: the strategy's options (override the preset).
    """

    def __init__(
        self,
        strategy: str | Strategy = "seminas",
        *,
        seed: int | None = None,
        preset: str | None = "fast",
        search_space: Mapping[str, BaseDistribution] | None = None,
        budget: int | None = None,
        parallelism: int = 1,
        pruned: str = "last",
        max_consecutive_failures: int = 10,
        wait: bool | None = None,
        wait_timeout: float | None = None,
        idle_timeout: float | None = 120.0,
        max_choices: int = 1024,
        poll_interval: float = 0.05,
        **options: Any,
    ) -> None:
        from seminas.strategies import make_strategy, resolve_preset

        if pruned not in PRUNED_POLICIES:
            raise SeminasError(
                f"pruned must be one of {', '.join(PRUNED_POLICIES)}, got {pruned!r}"
            )
        for label, value, low in (
            ("budget", budget, 1),
            ("parallelism", parallelism, 1),
            ("max_consecutive_failures", max_consecutive_failures, 1),
            ("max_choices", max_choices, 2),
        ):
            if value is not None and (not isinstance(value, int) or value < low):
                raise SeminasError(f"{label} must be an integer >= {low}, got {value!r}")
        if isinstance(strategy, Strategy):
            if options or preset not in (None, "fast"):
                raise SeminasError("give options and presets to the strategy you pass, not here")
            name, config = strategy.name, strategy.config
            cls = type(strategy)

            def build() -> Strategy:
                return cls(config)
        else:
            name = str(strategy)
            chosen = resolve_preset(name, "fast", "nb201") if preset == "fast" else preset
            make_strategy(name, chosen, **options)  # check the name, preset and options now

            def build() -> Strategy:
                return make_strategy(name, chosen, **options)

        probe = build()
        self.strategy_name = name
        self.strategy_config = probe.config_dict()
        self._seed = seed if seed is None else int(seed)
        self._search_space = None if search_space is None else dict(search_space)
        self._explicit: tuple[CategoricalSpace | None, dict[str, BaseDistribution]] = (None, {})
        if self._search_space is not None:
            space, kept = space_from_distributions(self._search_space, max_choices)
            if space is None:
                raise SeminasError(
                    "search_space has no categorical or integer parameter with "
                    f"2 to {max_choices} values"
                )
            self._explicit = (space, kept)
        self._settings: dict[str, Any] = {
            "make_strategy": build,
            "budget": budget,
            "parallelism": parallelism,
            "pruned": pruned,
            "max_consecutive_failures": max_consecutive_failures,
            "idle_timeout": idle_timeout,
            "max_choices": max_choices,
        }
        self._wait = wait
        self._wait_timeout = wait_timeout
        self._poll = float(poll_interval)
        self._lock = threading.Lock()
        self._studies: dict[tuple[int, int], _StudyState] = {}
        self._storages: dict[int, Any] = {}  # keeps each storage alive while its key is used
        self._finalizer = weakref.finalize(self, _close_all, self._studies)

    # -- identity across processes ------------------------------------------------------------
    def fingerprint(self, seed: int) -> dict[str, Any]:
        """What every process sharing a study must agree on (JSON)."""
        space = None if self._search_space is None else self._explicit[0].describe()
        s = self._settings
        raw = {
            "strategy": self.strategy_name,
            "config": self.strategy_config,
            "seed": seed,
            "search_space": space,
            "budget": s["budget"],
            "parallelism": s["parallelism"],
            "pruned": s["pruned"],
            "max_consecutive_failures": s["max_consecutive_failures"],
            "max_choices": s["max_choices"],
        }
        return json.loads(json.dumps(raw, default=str))

    def _state(self, study: Study) -> _StudyState:
        key = (id(study._storage), study._study_id)
        with self._lock:
            state = self._studies.get(key)
            if state is not None:
                return state
            if study._is_multi_objective():
                raise SeminasError("SemiNASSampler searches single-objective studies only")
            attrs = study._storage.get_study_system_attrs(study._study_id)
            stored = attrs.get(SYSTEM_ATTR)
            seed = self._seed
            if seed is None:
                seed = (
                    int(stored["seed"])
                    if isinstance(stored, dict) and "seed" in stored
                    else int(np.random.SeedSequence().generate_state(1)[0])
                )
            mine = self.fingerprint(seed)
            if stored is None:
                study._storage.set_study_system_attr(study._study_id, SYSTEM_ATTR, mine)
            elif stored != mine:
                diff = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
                raise SeminasError(
                    f"study {study.study_name!r} is searched by a SemiNASSampler with other "
                    f"settings ({', '.join(diff)} differ): every process must use the same "
                    f"strategy, options and seed"
                )
            state = _StudyState(self, study, seed)
            self._studies[key] = state
            self._storages[id(study._storage)] = study._storage
            return state

    def _should_wait(self, study: Study) -> bool:
        if self._wait is not None:
            return self._wait
        return bool(getattr(getattr(study, "_thread_local", None), "in_optimize_loop", False))

    # -- Optuna's sampler interface -----------------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        state = self._state(study)
        if not state.decide(trial.number, self._should_wait(study), self._wait_timeout, self._poll):
            return {}
        if state.space is None:
            state._warn(
                "nospace",
                "the objective has no categorical or integer parameter the "
                "search can use: every trial is sampled independently",
            )
            return {}
        return dict(state.distributions)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        state = self._state(study)
        candidate = state.candidate(
            trial.number, self._should_wait(study), self._wait_timeout, self._poll
        )
        if candidate is None:
            return {}
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, "seminas:query", candidate.number)
        storage.set_trial_system_attr(trial._trial_id, "seminas:iteration", candidate.iteration)
        storage.set_trial_system_attr(trial._trial_id, "seminas:predicted", candidate.predicted)
        assert state.space is not None
        return state.space.values(candidate.arch)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        seed = self._seed if self._seed is not None else self._state(study).seed
        entropy = [int(seed) & 0xFFFFFFFF, int(trial.number), zlib.crc32(param_name.encode())]
        derived = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        return RandomSampler(seed=derived).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        st = self._studies.get((id(study._storage), study._study_id))
        if st is None or st.start is None or st.search is None:
            return
        search = st.search
        search.touch()
        k = trial.number - st.start
        candidate = search.proposed.get(k)
        if candidate is not None:
            search.feed(k, st.record(candidate, trial.number, trial.params, state, values))

    def reseed_rng(self) -> None:
        """Nothing to do: the search and the independent samples derive their randomness from
        the seed and the trial number, so replicas never draw the same values."""

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """End the background threads now (a later trial would replay the search)."""
        with self._lock:
            states = list(self._studies.values())
        for state in states:
            state.close()
            with state.lock:
                state.search = None

    def __enter__(self) -> SemiNASSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search_diagnostics(self, study: Study) -> dict[str, Any]:
        """Where the search of ``study`` stands (for users and tests)."""
        st = self._studies.get((id(study._storage), study._study_id))
        if st is None:
            return {"started": False}
        search = st.search
        return {
            "started": search is not None,
            "start": st.start,
            "space": None if st.space is None else st.space.describe(),
            "proposed": 0 if search is None else len(search.proposed),
            "answered": 0 if search is None else len(search.results),
            "finished": None if search is None else search.finished,
            "reason": None if search is None else search.reason,
        }

    def search_labels(self, study: Study) -> dict[int, float | None]:
        """What the search learnt from each of its trials so far: trial number -> the label it
        got (the value, negated when minimising; a pruned trial's last intermediate value), or
        ``None`` where the trial counted as a failed evaluation."""
        st = self._studies.get((id(study._storage), study._study_id))
        if st is None or st.search is None or st.start is None:
            return {}
        with st.search.cond:
            results = dict(st.search.results)
        return {
            st.start + n: None if r.failed else float(r.search_metric)
            for n, r in sorted(results.items())
        }


# -- NAS-Bench-201 as an Optuna objective ---------------------------------------------------------
def nb201_objective(benchmark: Any) -> Callable[[optuna.Trial], float]:
    """NAS-Bench-201 written as an Optuna objective: six categorical parameters ``"1<-0"``,
    ``"2<-0"``, ... ``"3<-2"`` (the operation on the edge into node i from node j, in the
    space's edge order, which is also their sorted order). Returns the search metric
    (validation accuracy, maximise) and records the test accuracy as the user attribute
    ``test_accuracy``."""
    from seminas.spaces.nb201 import EDGES, OPS

    names = [f"{target}<-{source}" for source, target in EDGES]

    def objective(trial: optuna.Trial) -> float:
        ops = tuple(trial.suggest_categorical(name, OPS) for name in names)
        record = benchmark.evaluate(ops)
        trial.set_user_attr("test_accuracy", record.report_metric)
        return float(record.search_metric)

    return objective


__all__ = [
    "SYSTEM_ATTR",
    "SamplerWarning",
    "SemiNASSampler",
    "nb201_objective",
    "parameter_of",
    "space_from_distributions",
]
