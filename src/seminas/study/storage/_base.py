"""The :class:`Storage` contract every study backend implements, and the rows it hands out.

Nothing here knows about SQL or files. The contract that makes several processes safe:

- trial ``number`` is the key: a query position is written once (:meth:`Storage.propose`
  inserts what is missing and returns what is stored, so a replaying search can compare);
- a pending trial is taken by exactly one worker (:meth:`Storage.claim` is one atomic step)
  for a lease that the worker keeps alive with :meth:`Storage.heartbeat`; a claim whose lease
  ran out may be taken again;
- a result is accepted only from the worker that holds the claim (:meth:`Storage.finish`), so a
  late worker whose claim was taken over cannot write a second result;
- a resumed search gives back what dead workers held (:meth:`Storage.release`) and retries the
  failures that were not given up for good (:meth:`Storage.retry_failed`).

Times (``lease_until``, ``created``...) are seconds since the epoch on the caller's clock, so
machines that share one study need synchronised clocks. Every method is atomic; a failure of
the backend itself (locked, unreachable, damaged, read-only) is raised as :class:`StudyError`
with one line that names the study and what to do.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from seminas.benchmarks.base import Record
from seminas.errors import SeminasError
from seminas.study.storage._codec import from_blob, given_up_extra

FORMAT_VERSION = 1  # bump when the schema or the meaning of a field changes
STATUSES = ("pending", "running", "done", "failed")


class StudyError(SeminasError):
    """A study that cannot be used as asked (missing, foreign, damaged, locked, read-only)."""


class StudyDiverged(StudyError):
    """A resumed search proposes something other than what the study recorded."""


class StudyNotReady(StudyError):
    """The study is not written yet: its creation is under way, or was interrupted."""


class StudyWarning(UserWarning):
    """Something went wrong that the search survives, but the user should know about (e.g. a
    lease that could not be renewed, so another worker may redo an evaluation)."""


@dataclass
class TrialRow:
    """One query position of a study, from proposal to result."""

    number: int
    arch_id: str
    arch: Any  # the space's native notation (JSON)
    encoding: list[int]
    iteration: int
    predicted: float | None = None
    status: str = "pending"
    worker: str | None = None
    lease_until: float | None = None
    attempts: int = 0
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    search_metric: float | None = None
    report_metric: float | None = None
    cost_seconds: float | None = None
    params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def record(self) -> Record:
        """The stored result as the evaluator returned it."""
        if self.status != "done" or self.search_metric is None:
            raise ValueError(f"trial {self.number} has no result (status {self.status})")
        return Record(
            arch_id=self.arch_id,
            search_metric=self.search_metric,
            report_metric=self.report_metric,
            cost_seconds=self.cost_seconds,
            params=self.params,
            extra=dict(self.extra),
        )

    @property
    def gave_up(self) -> bool:
        """Failed for good: given up after its retries, part of the search's history."""
        return self.status == "failed" and bool(self.extra.get("gave_up"))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in TRIAL_FIELDS}

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> TrialRow:
        """A row from a database's columns in :data:`TRIAL_FIELDS` order (``arch``,
        ``encoding`` and ``extra`` as JSON text), the same for every implementation."""
        data = dict(zip(TRIAL_FIELDS, values, strict=True))
        data["arch"] = json.loads(data["arch"])
        data["encoding"] = json.loads(data["encoding"])
        data["extra"] = json.loads(data["extra"]) if data["extra"] else {}
        return cls(**data)


TRIAL_FIELDS = tuple(TrialRow.__dataclass_fields__)


@dataclass
class Checkpoint:
    """What a search held at a batch boundary: RNG states and, optionally, its own state."""

    number: int  # queries charged before this batch
    iteration: int
    created: float
    rng: dict[str, Any]  # generator states, e.g. {"numpy": bit-generator state, ...}
    state: dict[str, Any] | None = None  # e.g. controller and optimizer state dicts

    @classmethod
    def from_columns(cls, values: Sequence[Any], where: str) -> Checkpoint:
        """A stored checkpoint from its columns ``(number, iteration, created, rng, state)``,
        the same for every implementation (``rng`` and ``state`` as the bytes of
        :func:`~._codec.to_blob`, or a buffer of them); a blob that cannot be read is a
        :class:`StudyError` that names ``where`` the study is."""
        number, iteration, created, rng, state = values
        try:
            rng = from_blob(bytes(rng))
            state = None if state is None else from_blob(bytes(state))
        except Exception as exc:  # a damaged or foreign blob: never unpickle beyond weights
            raise StudyError(
                f"checkpoint at query {number} in {where} cannot be read ({exc.__class__.__name__})"
            ) from None
        return cls(int(number), int(iteration), float(created), rng, state)


@dataclass(frozen=True)
class SessionUpdate:
    """What one :meth:`Storage.update_session` books, its values normalised; a field left None
    (``phases``: empty) is not changed."""

    status: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    replayed: int | None = None
    replay_seconds: float | None = None

    @property
    def ends(self) -> bool:
        """Whether the new status ends the session now: ``running`` has not ended, and
        ``killed`` is noticed later by another process, so when it died is unknown."""
        return self.status not in ("running", "killed")


@dataclass
class SessionRow:
    """One process that worked on the study (a search, a resume, a worker)."""

    id: int
    kind: str
    worker: str
    host: str
    pid: int
    started: float
    ended: float | None
    status: str
    evaluated: int
    replayed: int
    replay_seconds: float | None


class Storage(ABC):
    """Everything a study keeps. Implementations make each method atomic."""

    location: str  # where the study lives, as the user named it (a path, a URL)
    read_only: bool = False  # opened only to read: every writing method raises StudyError

    # -- the file or database itself ---------------------------------------------------------
    @abstractmethod
    def format_version(self) -> int:
        """The study format this storage holds (see :data:`FORMAT_VERSION`)."""

    def reopen(self) -> Storage:
        """A handle for another thread (heartbeats). Implementations whose handles must not
        be shared between threads return a new one, which the caller closes."""
        return self

    def close(self) -> None:  # noqa: B027 - optional for implementations without resources
        """Release the connection."""

    # -- the study ---------------------------------------------------------------------------
    @abstractmethod
    def create(self, config: dict[str, Any], info: dict[str, Any]) -> bool:
        """Store a new study's config; False (and no change) if the study already exists, so
        that the caller compares the stored config with its own."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether a study has been created here (its config is stored)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The config the study was created with."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Descriptive facts recorded at creation (versions, metric names): never compared."""

    @abstractmethod
    def set_state(self, key: str, value: Any) -> None:
        """Store one JSON value of the study's state (status, diagnostics, how it runs)."""

    @abstractmethod
    def get_state(self, key: str, default: Any = None) -> Any: ...

    # -- trials ------------------------------------------------------------------------------
    @abstractmethod
    def propose(
        self,
        rows: Sequence[TrialRow],
        checkpoint: Checkpoint | None = None,
        state: Callable[[], dict[str, Any] | None] | None = None,
    ) -> tuple[list[TrialRow], Checkpoint | None]:
        """Insert the rows (and checkpoint) not stored yet; return what is stored for each row,
        and the checkpoint that was already stored at that position, if any (``state`` is called
        only when a new checkpoint is written)."""

    @abstractmethod
    def trial(self, number: int) -> TrialRow | None: ...

    @abstractmethod
    def trials(self, status: str | None = None) -> list[TrialRow]:
        """All trials (or those with ``status``) in query order."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of trials per status (every status of :data:`STATUSES`)."""

    # -- claims and leases -------------------------------------------------------------------
    @abstractmethod
    def claim(
        self, worker: str, lease_seconds: float, first: int | None = None, last: int | None = None
    ) -> TrialRow | None:
        """Atomically take the lowest-numbered pending trial (or one whose lease ran out)
        between ``first`` and ``last``; its ``attempts`` grow by one."""

    @abstractmethod
    def heartbeat(self, number: int, worker: str, lease_seconds: float) -> bool:
        """Extend a claim to ``lease_seconds`` from now; False if the worker no longer holds it."""

    @abstractmethod
    def finish(self, number: int, worker: str, record: Record, session: int | None) -> bool:
        """Store a result; False (nothing written) if ``worker`` no longer holds the claim."""

    def fail(
        self,
        number: int,
        worker: str,
        error: str,
        final: bool = False,
        attempts: Sequence[dict[str, Any]] | None = None,
    ) -> bool:
        """Mark a claimed trial failed; False (nothing written) if ``worker`` no longer holds
        the claim. ``final``: the evaluation was given up after its retries and the search went
        on without it -- part of the search's history, so it stays failed on resume (``extra``
        keeps ``gave_up`` and the ``attempts``)."""
        return self._fail(number, worker, error, given_up_extra(final, attempts))

    @abstractmethod
    def _fail(self, number: int, worker: str, error: str, extra: str | None) -> bool:
        """:meth:`fail`'s write: status ``failed`` with ``error``, and ``extra`` (JSON text)
        in place of the row's own unless it is None."""

    def note_failure(self, number: int, worker: str, error: str) -> bool:
        """Record a failed attempt of a running trial that will be retried (attempts + 1, the
        error kept); optional for implementations."""
        return False

    @abstractmethod
    def release(self, workers: Sequence[str]) -> int:
        """Put the running trials of ``workers`` back to pending; returns how many."""

    @abstractmethod
    def claimants(self) -> list[str]:
        """Workers holding running trials."""

    # -- resume ------------------------------------------------------------------------------
    @abstractmethod
    def retry_failed(self) -> int:
        """Put failed trials back to pending (a resumed search tries them again), except the
        ones given up for good (``fail(final=True)``); returns how many."""

    # -- checkpoints -------------------------------------------------------------------------
    @abstractmethod
    def checkpoints(self) -> list[tuple[int, int, float, bool]]:
        """``(number, iteration, created, has_state)`` of each checkpoint, in order."""

    @abstractmethod
    def load_checkpoint(self, number: int | None = None) -> Checkpoint | None:
        """The checkpoint at ``number`` (default: the latest one that holds a state)."""

    # -- sessions and phase timings ----------------------------------------------------------
    @abstractmethod
    def start_session(self, kind: str, worker: str, host: str, pid: int) -> int: ...

    def update_session(
        self,
        session: int,
        *,
        status: str | None = None,
        phases: dict[str, float] | None = None,
        replayed: int | None = None,
        replay_seconds: float | None = None,
    ) -> None:
        """Book a session's status (``running``, ``finished``, ``stopped``, ``interrupted``,
        ``failed``, or ``killed`` when another process found it dead), phase times, replay."""
        self._update_session(
            int(session),
            SessionUpdate(
                status=status,
                phases={phase: float(s) for phase, s in (phases or {}).items()},
                replayed=None if replayed is None else int(replayed),
                replay_seconds=None if replay_seconds is None else float(replay_seconds),
            ),
        )

    @abstractmethod
    def _update_session(self, session: int, update: SessionUpdate) -> None:
        """:meth:`update_session`'s write, as one transaction."""

    @abstractmethod
    def sessions(self) -> list[SessionRow]: ...

    @abstractmethod
    def phase_seconds(self, kinds: Sequence[str] | None = None) -> dict[str, float]:
        """Wall time per phase, summed over sessions (of the given kinds)."""

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
