"""What every executor shares: jobs, work, attempts, the fault policy, and the bookkeeping.

An executor runs *jobs* on several workers and hands back one :class:`Outcome` per job, as each
finishes. What a job means is up to the :class:`Work` the executor is started with: a small
picklable object sent once to every worker, whose :meth:`Work.run` does one job there. An
:class:`EvaluatorWork` evaluates one candidate architecture per job (a search, a study); a
bench's work runs one whole search per job (:mod:`seminas.experiments.bench.work`). Subclasses
only provide worker slots (:meth:`Executor._launch`, :meth:`Executor._wait`,
:meth:`Executor._kill`); the fault semantics live here, identical for every executor and work:

- an **attempt fails** when the work raises, returns a result its :meth:`Work.check` refuses
  (for an evaluator: a non-finite search metric) or runs longer than ``timeout`` seconds (the
  work is then killed, not merely abandoned). A failed attempt is reported through
  ``on_failure`` as it happens and retried, up to ``retries`` more times, with the *same*
  job: a transient fault (a timeout under load, a lost machine) then gives exactly the result an
  undisturbed run gives, and a deterministic one (a diverging training) fails again and is given
  up;
- a **worker that dies** mid-job (killed, out of memory, a crashed Ray node) is detected and its
  job re-queued at the front; this uses no retry, but a job that killed ``max_requeues + 1``
  workers is given up (it most likely crashes its process itself);
- a **given-up job** still yields an :class:`Outcome`, with ``result = None`` and every failed
  attempt, so that callers record it and go on. Nothing finished is ever lost or re-run.

A result the work already has (:meth:`Work.cached`, e.g. the training evaluator's cache) is
answered at submission without using a worker.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from seminas.benchmarks.base import Evaluator, Record

FAILURE_KINDS = ("error", "non-finite", "timeout", "worker died")


@dataclass(frozen=True)
class FaultPolicy:
    """How failures are handled (see the module docstring)."""

    retries: int = 1  # extra attempts after a failed one
    timeout: float | None = None  # seconds one attempt may run
    max_requeues: int = 2  # worker deaths tolerated per job

    def __post_init__(self) -> None:
        from seminas.errors import SeminasError

        if self.retries < 0:
            raise SeminasError(f"--retries must be 0 or more, got {self.retries}")
        if self.timeout is not None and not self.timeout > 0:
            raise SeminasError(f"a timeout (--eval-timeout, --run-timeout) must be a positive "
                               f"number of seconds, got {self.timeout}")
        if self.max_requeues < 0:
            raise SeminasError(f"max_requeues must be 0 or more, got {self.max_requeues}")


@dataclass(frozen=True)
class Job:
    """One unit of work: ``key`` identifies it to the caller (e.g. the query number), ``payload``
    is what the work runs on (an architecture, a bench's run spec; it must pickle)."""

    key: int
    payload: Any
    query: int | None = None  # an evaluator's query number (``evaluate(arch, query=...)``)

    @property
    def arch(self) -> Any:
        """The payload of an evaluation job: the candidate architecture."""
        return self.payload


class Work(ABC):
    """What an executor runs: sent once to each worker (so it must pickle), :meth:`setup` there
    once, then :meth:`run` once per job. The parent keeps its own copy for :meth:`cached` and
    :meth:`check`."""

    def setup(self) -> None:  # noqa: B027 - optional hook, no-op default
        """Once per worker, before its first job (loading data, say): not part of any job's
        time, so a timeout measures the job alone."""

    @abstractmethod
    def run(self, job: Job) -> Any:
        """Do ``job`` in a worker and return its result (picklable, not None); an exception is
        a failed attempt."""

    def cached(self, job: Job) -> Any | None:
        """A result known without running ``job`` (answered at submission), else None."""
        return None

    def check(self, result: Any) -> tuple[str, str] | None:
        """``(kind, one line)`` when ``result`` must count as a failed attempt, else None."""
        return None

    def use_threads(self, threads: int) -> None:  # noqa: B027 - optional hook, no-op default
        """A worker granted ``threads`` CPUs (a Ray task's request) may use them all."""


class EvaluatorWork(Work):
    """An :class:`~seminas.benchmarks.base.Evaluator` as work: one evaluation per job, and a
    non-finite search metric is a failed attempt."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def run(self, job: Job) -> Record:
        return self.evaluator.evaluate(job.payload, query=job.query)

    def cached(self, job: Job) -> Record | None:
        lookup = getattr(self.evaluator, "cached_record", None)
        return lookup(job.payload) if callable(lookup) else None

    def check(self, result: Any) -> tuple[str, str] | None:
        metric = getattr(result, "search_metric", None)
        try:
            finite = metric is not None and math.isfinite(float(metric))
        except (TypeError, ValueError):
            finite = False
        return None if finite else ("non-finite", f"search metric is {metric!r}")

    def use_threads(self, threads: int) -> None:
        if threads > 1 and isinstance(getattr(self.evaluator, "threads", None), int):
            self.evaluator.threads = threads  # a training uses the CPUs its task asked for


def as_work(target: Work | Evaluator) -> Work:
    """``target`` itself if it is work, else the evaluator wrapped in :class:`EvaluatorWork`."""
    return target if isinstance(target, Work) else EvaluatorWork(target)


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt (or a worker death) of a job."""

    attempt: int  # 1-based attempt number
    kind: str  # one of FAILURE_KINDS
    error: str  # one line
    seconds: float
    worker: str | None = None
    retry: bool = False  # the job goes back to the queue after this failure

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "kind": self.kind,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "worker": self.worker,
            "retry": self.retry,
        }


@dataclass
class Outcome:
    """What became of a job: its result, or ``None`` after every attempt failed."""

    job: Job
    result: Any | None
    failures: list[AttemptFailure] = field(default_factory=list)
    cached: bool = False
    worker: str | None = None  # where the successful attempt ran (e.g. ray:PID@IP/NODE)

    @property
    def record(self) -> Record | None:
        """The result of an evaluation job: its record."""
        return self.result

    @property
    def key(self) -> int:
        return self.job.key

    @property
    def failed(self) -> bool:
        return self.result is None

    def error(self) -> str:
        """The last failure, in one line."""
        if not self.failures:
            return ""
        last = self.failures[-1]
        return f"{last.kind}: {last.error}"


@dataclass
class _State:
    job: Job
    failures: list[AttemptFailure] = field(default_factory=list)
    deaths: int = 0
    attempt: int = 0  # attempts started (deaths do not start a new numbered attempt)
    same_attempt: bool = False  # re-queued after a worker death: restart the same attempt
    started: float | None = None
    worker: str | None = None


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, for storing with a failed attempt."""
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


class Executor(ABC):
    """Runs jobs on ``workers`` slots, with the fault policy of the module docstring."""

    kind: str = "executor"
    # True if the executor reports ("started", worker) when an evaluation really begins (after
    # queueing and worker start-up); the timeout then counts from there, not from submission
    reports_start: bool = False

    def __init__(self, workers: int = 1, faults: FaultPolicy | None = None) -> None:
        from seminas.errors import SeminasError

        if int(workers) < 1:
            raise SeminasError(f"--workers must be at least 1, got {workers}")
        self.workers = int(workers)
        self.faults = faults or FaultPolicy()
        self.work: Work | None = None
        self._target: Any = None  # what start() was given (the work, or an evaluator)
        self.on_failure: Callable[[Job, AttemptFailure], None] | None = None
        self._states: dict[int, _State] = {}
        self._queue: deque[int] = deque()
        self._running: set[int] = set()
        self._ready: deque[Outcome] = deque()
        self.stats = {"evaluated": 0, "cached": 0, "failed_attempts": 0, "given_up": 0,
                      "worker_deaths": 0}

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def evaluator(self) -> Evaluator | None:
        """The evaluator the executor was started with (None for other work)."""
        return self.work.evaluator if isinstance(self.work, EvaluatorWork) else None

    def start(self, target: Work | Evaluator) -> None:
        """Start the workers for ``target``, a :class:`Work` or an evaluator (idempotent for the
        same one)."""
        if self._target is target:
            return
        if self.work is not None:
            self.close()
        self._target = target
        self.work = as_work(target)
        self._start()

    def close(self) -> None:
        """Stop every worker; unfinished jobs are dropped."""
        self.cancel_all()
        if self.work is not None:
            self._stop()
        self.work = None
        self._target = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs -----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Jobs submitted whose outcome has not been handed back yet."""
        return len(self._states) + len(self._ready)

    @property
    def free_slots(self) -> int:
        return max(0, self.workers - len(self._running) - len(self._queue))

    def submit(self, job: Job) -> None:
        if self.work is None:
            raise RuntimeError("start the executor before submitting jobs")
        if job.key in self._states:
            raise ValueError(f"job {job.key} is already submitted")
        known = self.work.cached(job)
        if known is not None:
            self.stats["cached"] += 1
            self._ready.append(Outcome(job, known, cached=True))
            return
        self._states[job.key] = _State(job)
        self._queue.append(job.key)

    def next_outcome(self, timeout: float | None = None) -> Outcome | None:
        """The next finished job (any order), waiting up to ``timeout`` seconds (None: until
        one finishes). Returns None on timeout or when nothing is pending."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._ready:
                return self._ready.popleft()
            if not self._states:
                return None
            self._dispatch()
            now = time.monotonic()
            wait = None if end is None else max(0.0, end - now)
            deadline = self._next_deadline()
            if deadline is not None:
                wait = max(0.0, deadline - now) if wait is None else min(wait, deadline - now)
            for key, kind, payload in self._wait(wait):
                self._handle(key, kind, payload)
            self._check_timeouts()
            if not self._ready and end is not None and time.monotonic() >= end:
                return None

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Submit ``jobs`` and yield their outcomes as they finish."""
        keys = set()
        for job in jobs:
            self.submit(job)
            keys.add(job.key)
        try:
            while keys:
                outcome = self.next_outcome()
                if outcome is None:  # pragma: no cover - only if a subclass loses a job
                    raise RuntimeError(f"executor lost jobs {sorted(keys)}")
                keys.discard(outcome.key)
                yield outcome
        finally:
            if keys:
                self.cancel(keys)

    def cancel(self, keys: Iterable[int]) -> None:
        """Drop jobs: queued ones are removed, running ones killed."""
        keys = list(keys)
        for key in keys:
            state = self._states.pop(key, None)
            if state is None:
                continue
            if key in self._running:
                self._running.discard(key)
                self._kill(key)
            else:
                try:
                    self._queue.remove(key)
                except ValueError:
                    pass
        drop = set(keys)
        self._ready = deque(o for o in self._ready if o.key not in drop)

    def cancel_all(self) -> None:
        self.cancel(list(self._states))
        self._ready.clear()

    # -- bookkeeping ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.workers and self._has_free_slot():
            key = self._queue.popleft()
            state = self._states[key]
            if not state.same_attempt:
                state.attempt += 1
            state.same_attempt = False
            state.started = None if self.reports_start else time.monotonic()
            state.worker = self._launch(key, state.job)
            self._running.add(key)

    def _next_deadline(self) -> float | None:
        if self.faults.timeout is None:
            return None
        starts = [self._states[k].started for k in self._running]
        known = [t for t in starts if t is not None]
        return min(known) + self.faults.timeout if known else None

    def _check_timeouts(self) -> None:
        if self.faults.timeout is None:
            return
        now = time.monotonic()
        for key in list(self._running):
            state = self._states[key]
            if state.started is not None and now - state.started >= self.faults.timeout:
                self._running.discard(key)
                self._kill(key)
                self._fail(
                    state, "timeout", f"still running after {self.faults.timeout:g} s (killed)"
                )

    def _handle(self, key: int, kind: str, payload: Any) -> None:
        state = self._states.get(key)
        if state is None or key not in self._running:
            return  # a cancelled or timed-out job reporting late
        if kind == "started":  # the evaluation itself begins now (see reports_start)
            state.started = time.monotonic()
            state.worker = f"{self.kind}:{payload}"
            return
        self._running.discard(key)
        if kind == "ok":
            assert self.work is not None
            refused = ("error", "the work returned no result") if payload is None else (
                self.work.check(payload)
            )
            if refused is not None:
                self._fail(state, *refused)
                return
            del self._states[key]
            self.stats["evaluated"] += 1
            self._ready.append(
                Outcome(state.job, payload, list(state.failures), worker=state.worker)
            )
        elif kind == "error":
            self._fail(state, "error", str(payload))
        elif kind == "died":
            self.stats["worker_deaths"] += 1
            state.deaths += 1
            seconds = time.monotonic() - (state.started or time.monotonic())
            give_up = state.deaths > self.faults.max_requeues
            failure = AttemptFailure(state.attempt, "worker died", str(payload), seconds,
                                     state.worker, retry=not give_up)
            state.failures.append(failure)
            if self.on_failure is not None:
                self.on_failure(state.job, failure)
            if give_up:
                self._give_up(state)
            else:
                state.started = None
                state.same_attempt = True  # the same attempt starts again on another worker
                self._queue.appendleft(key)
        else:  # pragma: no cover - a subclass bug
            raise ValueError(f"unknown event {kind!r}")

    def _fail(self, state: _State, kind: str, error: str) -> None:
        seconds = time.monotonic() - (state.started or time.monotonic())
        failed_attempts = 1 + sum(1 for f in state.failures if f.kind != "worker died")
        give_up = failed_attempts > self.faults.retries
        failure = AttemptFailure(state.attempt, kind, error, seconds, state.worker,
                                 retry=not give_up)
        state.failures.append(failure)
        self.stats["failed_attempts"] += 1
        if self.on_failure is not None:
            self.on_failure(state.job, failure)
        if give_up:
            self._give_up(state)
        else:
            state.started = None
            self._queue.append(state.job.key)

    def _give_up(self, state: _State) -> None:
        self._states.pop(state.job.key, None)
        self.stats["given_up"] += 1
        self._ready.append(Outcome(state.job, None, list(state.failures)))

    # -- what a subclass provides ---------------------------------------------------------------
    def _has_free_slot(self) -> bool:
        return True

    @abstractmethod
    def _start(self) -> None:
        """Start workers for ``self.work``."""

    @abstractmethod
    def _stop(self) -> None:
        """Stop all workers."""

    @abstractmethod
    def _launch(self, key: int, job: Job) -> str | None:
        """Start running ``job`` on a free worker; returns the worker's name."""

    @abstractmethod
    def _wait(self, timeout: float | None) -> list[tuple[int, str, Any]]:
        """Wait up to ``timeout`` seconds for events ``(key, "ok"|"error"|"died", payload)``:
        a result, an error line, or why the worker died."""

    @abstractmethod
    def _kill(self, key: int) -> None:
        """Stop the running job ``key`` for good (its worker may be replaced)."""

    def describe(self) -> dict[str, Any]:
        return {
            "executor": self.kind,
            "workers": self.workers,
            "retries": self.faults.retries,
            "eval_timeout": self.faults.timeout,
        }
