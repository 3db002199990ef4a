"""Running a search on a study, and workers that evaluate for it.

Exact resume by deterministic replay. A strategy is a deterministic function of its seed and
of the records it receives, so a resumed search simply runs again from the start. Each batch a
strategy hands to :meth:`SearchContext.evaluate` becomes trial rows, written as ``pending``
before anything is evaluated; for query number *k*:

- the study already holds row *k*: it must name the same architecture, else the search has
  diverged and is stopped; a finished row's stored record is returned without evaluating
  (still charged to the budget);
- otherwise the row is inserted, evaluated (here or by a worker), its result committed, and only
  then returned to the strategy -- so a result the strategy has acted on is always on disk.

Records are handed back strictly in query order, whichever worker finished first, so several
workers give the same search as one. A finished evaluation is never repeated: a claim is
atomic, and a result is accepted only from the claim's holder. The RNG states (and the
strategy's own state, e.g. the controller) are checkpointed at every batch boundary; on replay
they are compared with the stored ones to detect divergence early.

With an executor (:mod:`seminas.execution`: a local process pool or Ray), the search process
claims as many pending queries of the batch as the executor has free workers, evaluates them in
parallel and stores each result the moment it arrives (heartbeats keep all its claims alive).
A failed attempt that will be retried is noted on its row (``attempts``, ``error``); a query
given up after its retries is stored ``failed`` with ``extra.gave_up`` -- the search goes on
without it, and a resume replays it as a failure instead of retrying it, so it stays exact.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import SeminasError
from seminas.execution.backend import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    count_query,
    outcome_record,
)
from seminas.execution.base import Executor, Job, Outcome
from seminas.strategies.base import Candidate, SearchContext, SearchResult, run_search
from seminas.study.storage import Checkpoint, LeaseKeeper, Storage, StudyDiverged, TrialRow
from seminas.study.study import Study

DEFAULT_LEASE = 60.0  # seconds a claim lives without a heartbeat
POLL_MIN, POLL_MAX = 0.02, 0.5  # seconds between looks while waiting for other workers
DEAD_CHECK_EVERY = 2.0  # seconds between scans for claims of dead local processes


def new_worker_id() -> str:
    """``host:pid:random`` -- unique per process, and tells whether a local holder is alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_dead_local(worker: str) -> bool:
    """True if ``worker`` ran on this host in a process that no longer exists."""
    try:
        host, pid, _ = worker.rsplit(":", 2)
        pid_value = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname() or worker == _OWN_IDS.get(pid_value):
        return False
    return not _pid_alive(pid_value)


_OWN_IDS: dict[int, str] = {}


def release_dead_claims(storage: Storage) -> int:
    """Re-queue trials claimed by processes of this host that died (kill -9, power loss), and
    mark their sessions ``killed``. Claims of other hosts wait for their lease to run out."""
    for session in storage.sessions():
        if session.status == "running" and is_dead_local(session.worker):
            storage.update_session(session.id, status="killed")
    dead = [w for w in storage.claimants() if is_dead_local(w)]
    return storage.release(dead) if dead else 0


_STREAMS = {
    "numpy": "the search's NumPy generator",
    "torch_generator": "the search's torch generator",
}


def _streams_that_differ(stored: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The search's generators whose state differs from the checkpoint's. Only those both
    record are compared: studies written before searches owned a torch generator kept torch's
    global state (under "torch"), which says nothing about the search."""
    import torch

    out = []
    for key, name in _STREAMS.items():
        if key in stored and key in now:
            a, b = stored[key], now[key]
            same = torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
            if not same:
                out.append(name)
    return out


def _environment_changes(info: dict[str, Any]) -> list[str]:
    """What of :func:`~seminas.study.study.environment` differs from the study's record."""
    from seminas.study.study import environment

    now = environment()
    return [f"{k} {info[k]} in the study, {now[k]} now" for k in now
            if k in info and info[k] != now[k]]


def _failed_row_record(row: TrialRow) -> Record:
    """A given-up trial as the search saw it: a failed record (see :mod:`seminas.execution`)."""
    return Record(
        arch_id=row.arch_id,
        search_metric=float("nan"),
        report_metric=None,
        extra={"failed": True, "error": row.error, "attempts": row.extra.get("attempts", [])},
    )


def evaluate_claimed(
    storage: Storage,
    evaluator: Evaluator,
    row: TrialRow,
    worker: str,
    session: int | None,
    lease: float,
    arch: Any = None,
    simulate_time: float = 0.0,
    on_lease_lost: Callable[[int, str], None] | None = None,
) -> bool:
    """Evaluate a trial this worker has claimed and store the result (or the error).

    Returns False if the claim was lost meanwhile (the result is then dropped, never stored
    twice). An evaluation error is stored with the trial and raised again. If the lease could
    not be kept alive (a warning said why), ``on_lease_lost(number, reason)`` is told.
    """
    keeper = LeaseKeeper(storage, worker, lease, [row.number])
    try:
        with keeper:
            if arch is None:
                arch = evaluator.space.from_native(row.arch)
            record = evaluator.evaluate(arch, query=row.number)
            if record.arch_id != row.arch_id:
                raise SeminasError(
                    f"the evaluator returned {record.arch_id} for query {row.number}, "
                    f"which the study records as {row.arch_id}"
                )
            if simulate_time > 0 and record.cost_seconds:
                time.sleep(record.cost_seconds * simulate_time)
    except Exception as exc:
        storage.fail(row.number, worker, f"{exc.__class__.__name__}: {exc}")
        raise
    if on_lease_lost is not None and keeper.is_lost(row.number):
        on_lease_lost(row.number, keeper.lost[row.number])
    return storage.finish(row.number, worker, record, session)


class StudyBackend:
    """The :class:`~seminas.strategies.base.EvaluationBackend` of a search run on a study."""

    def __init__(
        self,
        study: Study,
        evaluator: Evaluator,
        local: bool = True,
        lease: float = DEFAULT_LEASE,
        kind: str = "search",
        executor: Executor | None = None,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        self.study = study
        self.storage = study.storage
        self.evaluator = evaluator
        self.local = local
        self.lease = lease
        self.executor = executor if local else None
        self.max_consecutive_failures = max_consecutive_failures
        self._inflight: dict[int, TrialRow] = {}
        self._beat: LeaseKeeper | None = None
        self.worker = new_worker_id()
        _OWN_IDS[os.getpid()] = self.worker
        self.session = self.storage.start_session(
            kind, self.worker, socket.gethostname(), os.getpid()
        )
        self.replaying = True
        self.replayed = 0
        self.evaluated = 0
        self._started = time.perf_counter()
        self.replay_seconds: float | None = None
        self._ctx: SearchContext | None = None
        self._last_dead_check = 0.0

    @property
    def parallelism(self) -> int:
        """Candidates per batch a strategy should hand over: the executor's workers."""
        return 1 if self.executor is None else self.executor.workers

    # -- EvaluationBackend -----------------------------------------------------------------
    def evaluate(self, ctx: SearchContext, batch: list[Candidate]) -> Iterator[Record]:
        self._ctx = ctx
        space = ctx.space
        rows = [
            TrialRow(
                number=c.number,
                arch_id=c.arch_id,
                arch=space.to_native(c.arch),
                encoding=[int(t) for t in space.encode(c.arch)],
                iteration=c.iteration,
                predicted=c.predicted,
            )
            for c in batch
        ]
        checkpoint = None
        if ctx.rng is not None:  # the search's own generators (seminas.randomness)
            rng: dict[str, Any] = {"numpy": ctx.rng.bit_generator.state}
            if getattr(ctx, "torch_rng", None) is not None:
                rng["torch_generator"] = ctx.torch_rng.get_state()
            checkpoint = Checkpoint(
                number=batch[0].number,
                iteration=batch[0].iteration,
                created=time.time(),
                rng=rng,
            )
        stored, previous = self.storage.propose(rows, checkpoint, ctx.state_provider)
        differ = []
        if previous is not None and checkpoint is not None:
            differ = _streams_that_differ(previous.rng, checkpoint.rng)
        before = f"before query {batch[0].number + 1}"
        for mine, theirs in zip(rows, stored, strict=True):
            if mine.arch_id != theirs.arch_id:
                raise self._diverged(
                    f"query {mine.number + 1} is {theirs.arch_id} in the study but the search now "
                    f"proposes {mine.arch_id}"
                    + (f" ({' and '.join(differ)} already differed {before})" if differ else "")
                )
        if differ:
            raise self._diverged(
                f"the state of {' and '.join(differ)} {before} differs from the stored one"
            )
        self._save_phases()
        archs = {c.number: c.arch for c in batch}
        first, last = batch[0].number, batch[-1].number
        for c in batch:
            yield self._result(c.number, first, last, archs)

    # -- waiting for, or doing, query k --------------------------------------------------------
    def _result(self, number: int, first: int, last: int, archs: dict[int, Any]) -> Record:
        delay = POLL_MIN
        while True:
            row = self.storage.trial(number)
            if row is None:  # only if someone deleted it under us
                raise SeminasError(f"query {number + 1} vanished from study {self.study.location}")
            if row.status == "done":
                if self.replaying:
                    self.replayed += 1
                return row.record()
            if row.status == "failed" and row.extra.get("gave_up"):
                if self.replaying:
                    self.replayed += 1
                return _failed_row_record(row)
            if self.replaying:
                self._end_replay()
            if row.status == "failed":
                raise SeminasError(
                    f"query {number + 1} ({row.arch_id}) failed on worker {row.worker}: "
                    f"{row.error}"
                )
            if self.executor is not None:
                self._fill(number, last, archs)
                if self._inflight:
                    outcome = self.executor.next_outcome(timeout=POLL_MAX)
                    if outcome is not None:
                        self._store(outcome)
                    delay = POLL_MIN
                    continue
            elif self.local:
                claimed = self.storage.claim(self.worker, self.lease, number, last)
                if claimed is not None:
                    kept = evaluate_claimed(
                        self.storage,
                        self.evaluator,
                        claimed,
                        self.worker,
                        self.session,
                        self.lease,
                        arch=archs.get(claimed.number),
                    )
                    self.evaluated += int(kept)
                    delay = POLL_MIN
                    continue
            self._check_dead()
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)

    # -- parallel evaluation on an executor -----------------------------------------------------
    def _fill(self, first: int, last: int, archs: dict[int, Any]) -> None:
        """Claim pending queries of the batch while the executor has free workers."""
        executor = self.executor
        assert executor is not None
        if executor.evaluator is not self.evaluator:
            executor.start(self.evaluator)
            executor.on_failure = self._on_failure
        while executor.free_slots > 0:
            row = self.storage.claim(self.worker, self.lease, first, last)
            if row is None:
                return
            arch = archs.get(row.number)
            if arch is None:
                arch = self.evaluator.space.from_native(row.arch)
            if self._beat is None:
                self._beat = LeaseKeeper(self.storage, self.worker, self.lease)
            self._beat.add(row.number)
            self._inflight[row.number] = row
            executor.submit(Job(row.number, arch, row.number))

    def _on_failure(self, job: Job, failure: Any) -> None:
        if failure.retry:
            self.storage.note_failure(job.key, self.worker, f"{failure.kind}: {failure.error}")

    def _store(self, outcome: Outcome) -> None:
        """Store a result the moment it arrives (or the failure of a given-up query)."""
        row = self._inflight.pop(outcome.key, None)
        if self._beat is not None:
            self._beat.discard(outcome.key)
        if row is None:
            return
        count_query(self.evaluator, outcome)
        if outcome.record is None:
            attempts = [f.to_dict() for f in outcome.failures]
            self.storage.fail(row.number, self.worker, outcome.error(), final=True,
                              attempts=attempts)
            return
        record = outcome_record(row.arch_id, outcome)
        if record.arch_id != row.arch_id:
            error = (f"the evaluator returned {record.arch_id} for query {row.number}, which "
                     f"the study records as {row.arch_id}")
            self.storage.fail(row.number, self.worker, error)
            raise SeminasError(error)
        self.evaluated += int(self.storage.finish(row.number, self.worker, record, self.session))

    def _check_dead(self) -> None:
        now = time.monotonic()
        if now - self._last_dead_check >= DEAD_CHECK_EVERY:
            self._last_dead_check = now
            release_dead_claims(self.storage)

    def _end_replay(self) -> None:
        self.replaying = False
        self.replay_seconds = time.perf_counter() - self._started
        self.storage.update_session(
            self.session, replayed=self.replayed, replay_seconds=self.replay_seconds
        )

    def _diverged(self, what: str) -> StudyDiverged:
        """Name what differs, and blame the environment only where it did change."""
        changed = _environment_changes(self.study.info)
        if changed:
            why = "this process is not the study's: " + ", ".join(changed)
        else:
            why = (
                "versions, torch threads and machine are the study's, so the study file was "
                "changed or the strategy depends on more than its seed and the stored results "
                "(e.g. a process-global random generator)"
            )
        return StudyDiverged(f"study {self.study.location} diverged: {what}; {why}")

    def _save_phases(self) -> None:
        if self._ctx is not None:
            self.storage.update_session(self.session, phases=dict(self._ctx.phase_seconds))

    # -- the end -------------------------------------------------------------------------------
    def close(self, status: str) -> None:
        """Give back unfinished claims and book the session's times."""
        try:
            if self._inflight and self.executor is not None:
                self.executor.cancel(list(self._inflight))
                self._inflight.clear()
            if self._beat is not None:
                self._beat.stop()
                self._beat = None
            self.storage.release([self.worker])
            if self._ctx is not None and self._ctx.phase != "done":
                self._ctx.close_phase()  # an interruption: book the phase it stopped in
            if self.replaying:
                self.replay_seconds = time.perf_counter() - self._started
            self.storage.update_session(
                self.session,
                status=status,
                phases=None if self._ctx is None else dict(self._ctx.phase_seconds),
                replayed=self.replayed,
                replay_seconds=self.replay_seconds,
            )
        finally:
            _OWN_IDS.pop(os.getpid(), None)


def run_study(
    study: Study,
    evaluator: Evaluator | None = None,
    *,
    data_dir: str | None = None,
    local: bool = True,
    lease: float = DEFAULT_LEASE,
    on_event: Callable[[SearchContext], None] | None = None,
    on_start: Callable[[StudyBackend], None] | None = None,
    executor: Executor | None = None,
) -> SearchResult:
    """Run (or continue) the study's search to its budget and mark the study complete -- or
    ``stopped``, with the reason, when evaluations kept failing (session status ``stopped``).

    ``local=False`` leaves every evaluation to ``seminas worker`` processes. The result equals
    that of an uninterrupted :func:`run_search` with the same config and seed. ``executor``
    evaluates each batch in parallel (local processes, Ray) and stores results as they come;
    the caller closes it.
    """
    if evaluator is None:
        evaluator = study.evaluator(data_dir=data_dir)
    strategy = study.strategy()
    storage = study.storage
    reseed = getattr(evaluator, "reseed", None)
    if callable(reseed):
        reseed(study.seed)
    release_dead_claims(storage)
    storage.retry_failed()
    # a resumed study is no longer stopped: workers waiting on it must keep claiming
    storage.set_state("stopped", None)
    backend = StudyBackend(study, evaluator, local=local, lease=lease, executor=executor)
    if on_start is not None:
        on_start(backend)
    status = "failed"
    try:
        result = run_search(strategy, evaluator, study.budget, study.seed, on_event, backend)
        stopped = result.diagnostics.get("stopped")
        status = "stopped" if stopped else "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        backend.close(status)
    storage.set_state("diagnostics", result.diagnostics)
    storage.set_state("stopped", stopped or None)  # why it ended before its budget, if it did
    storage.set_state("complete", not stopped)
    return result


@dataclass
class WorkerStats:
    worker: str
    evaluated: int = 0
    lost: int = 0  # results dropped because the claim had expired and was taken over
    seconds: float = 0.0
    leases_lost: int = 0  # evaluations whose lease could not be renewed (a warning said why)


def run_worker(
    study: Study,
    evaluator: Evaluator | None = None,
    *,
    data_dir: str | None = None,
    lease: float = DEFAULT_LEASE,
    poll: float = 0.2,
    idle_timeout: float | None = None,
    max_trials: int | None = None,
    simulate_time: float = 0.0,
    on_trial: Callable[[TrialRow, bool], None] | None = None,
) -> WorkerStats:
    """Evaluate the study's pending trials until the study is complete (or stopped).

    Any number of workers (and the search itself) may run at once, on this or other machines
    that reach the same storage. ``idle_timeout`` stops after that many seconds without work;
    ``simulate_time`` sleeps ``cost_seconds * simulate_time`` after each tabular lookup, to
    study parallel searches on a benchmark whose evaluations are instant.
    """
    if evaluator is None:
        evaluator = study.evaluator(data_dir=data_dir)
    storage = study.storage
    worker = new_worker_id()
    _OWN_IDS[os.getpid()] = worker
    session = storage.start_session("worker", worker, socket.gethostname(), os.getpid())
    stats = WorkerStats(worker)
    start = time.perf_counter()
    busy = 0.0
    idle_since = time.monotonic()
    last_dead_check = 0.0
    status = "failed"

    def lease_lost(number: int, why: str) -> None:
        stats.leases_lost += 1

    try:
        while max_trials is None or stats.evaluated < max_trials:
            row = storage.claim(worker, lease)
            if row is None:
                if storage.get_state("complete", False) or storage.get_state("stopped"):
                    break
                now = time.monotonic()
                if idle_timeout is not None and now - idle_since >= idle_timeout:
                    break
                if now - last_dead_check >= DEAD_CHECK_EVERY:
                    last_dead_check = now
                    release_dead_claims(storage)
                time.sleep(poll)
                continue
            t0 = time.perf_counter()
            kept = evaluate_claimed(
                storage, evaluator, row, worker, session, lease, simulate_time=simulate_time,
                on_lease_lost=lease_lost,
            )
            busy += time.perf_counter() - t0
            if kept:
                stats.evaluated += 1
            else:
                stats.lost += 1
            if on_trial is not None:
                on_trial(row, kept)
            idle_since = time.monotonic()
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        stats.seconds = time.perf_counter() - start
        try:
            storage.release([worker])
            storage.update_session(
                session,
                status=status,
                phases={"evaluation": busy, "waiting": max(0.0, stats.seconds - busy)},
            )
        finally:
            _OWN_IDS.pop(os.getpid(), None)
    return stats
