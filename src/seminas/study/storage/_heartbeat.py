"""Keeping claims alive while evaluations run: a heartbeat thread per evaluating process.

Every ``lease / 3`` seconds the thread renews the lease of each trial it holds
(:meth:`Storage.heartbeat`). A storage error (a lock held too long by another process, a disk
that went away, a file that became read-only) is retried with exponential backoff, at most
:data:`RETRIES` times and never past the moment the lease runs out; then it is reported, never
swallowed: a :class:`StudyWarning` says which queries may now be taken over and redone by
another worker, and :attr:`LeaseKeeper.lost` tells the evaluation's owner, whose result is
then kept only if nobody took the query over meanwhile (:meth:`Storage.finish` checks).
A claim found taken over (the heartbeat returns False) is reported the same way.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable

from seminas.errors import SeminasError
from seminas.study.storage._base import Storage, StudyWarning

RETRIES = 5  # renewal attempts after a storage error, before the failure is reported
BACKOFF = 0.25  # seconds before the first retry; doubles each time, at most lease / 3


class LeaseKeeper:
    """Renews the leases of the trials ``worker`` holds, in a daemon thread.

    Use as a context manager around one evaluation (``numbers=[n]``), or keep one for many
    parallel evaluations and :meth:`add` / :meth:`discard` their numbers.
    """

    def __init__(
        self,
        storage: Storage,
        worker: str,
        lease: float,
        numbers: Iterable[int] = (),
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        self.storage, self.worker, self.lease = storage, worker, float(lease)
        self.retries, self.backoff = int(retries), float(backoff)
        self.interval = self.lease / 3
        self.lost: dict[int, str] = {}  # number -> why its lease may be gone
        self.failure: str | None = None  # the storage error that stopped the heartbeats
        self.errors = 0  # storage errors met so far (each retried, the last one reported)
        self._renewed: dict[int, float] = {}  # number -> when its lease was last renewed
        now = time.time()
        for n in numbers:
            self._renewed[int(n)] = now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="lease-keeper")
        self._thread.start()

    # -- the owner's side ----------------------------------------------------------------------
    def add(self, number: int) -> None:
        """Keep ``number`` alive too (claimed just now)."""
        with self._lock:
            self._renewed[int(number)] = time.time()
            if self.failure is not None:  # the heartbeats have stopped: say so for this one too
                self.lost[int(number)] = self.failure

    def discard(self, number: int) -> None:
        """Stop renewing ``number`` (its evaluation ended)."""
        with self._lock:
            self._renewed.pop(int(number), None)

    def is_lost(self, number: int) -> bool:
        """Whether the lease of ``number`` may have run out (reported by a warning)."""
        with self._lock:
            return int(number) in self.lost

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> LeaseKeeper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        own: Storage | None = None
        try:
            while not self._stop.wait(self.interval):
                with self._lock:
                    numbers = sorted(self._renewed)
                if not numbers:
                    continue
                if own is None:
                    own = self._open()
                    if own is None:
                        return
                if not self._renew(own, numbers):
                    return
        finally:
            if own is not None and own is not self.storage:
                try:
                    own.close()
                except SeminasError:
                    pass

    def _open(self) -> Storage | None:
        try:
            return self.storage.reopen()
        except SeminasError as exc:
            with self._lock:
                numbers = sorted(self._renewed)
            self._report(numbers, f"{exc.__class__.__name__}: {exc}", attempts=1)
            return None

    def _renew(self, own: Storage, numbers: list[int]) -> bool:
        """One round of renewals, retried on storage errors; False once reported and stopped."""
        delay = self.backoff
        for attempt in range(1, self.retries + 2):
            try:
                for number in numbers:
                    held = own.heartbeat(number, self.worker, self.lease)
                    with self._lock:
                        if number not in self._renewed:
                            continue  # finished meanwhile
                        if held:
                            self._renewed[number] = time.time()
                        else:
                            self._renewed.pop(number)
                            self._warn_taken_over(number)
                return True
            except SeminasError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
                self.errors += 1
            with self._lock:
                oldest = min((self._renewed.get(n, time.time()) for n in numbers), default=0.0)
            expired = time.time() - oldest >= self.lease
            if attempt > self.retries or expired or self._stop.is_set():
                self._report(numbers, error, attempt)
                return False
            if self._stop.wait(min(delay, self.interval)):
                return True
            delay *= 2
        return True

    def _warn_taken_over(self, number: int) -> None:
        why = "another worker took it over after its lease ran out"
        self.lost[number] = why
        warnings.warn(
            f"study {self.storage.location}: query {number + 1} is no longer held by "
            f"{self.worker} ({why}); its result here will be dropped",
            StudyWarning,
            stacklevel=2,
        )

    def _report(self, numbers: list[int], error: str, attempts: int) -> None:
        with self._lock:
            held = [n for n in numbers if n in self._renewed] or sorted(self._renewed)
            self.failure = error
            for n in held:
                self.lost[n] = error
        queries = ", ".join(str(n + 1) for n in held)
        warnings.warn(
            f"study {self.storage.location}: the lease of quer{'ies' if len(held) > 1 else 'y'} "
            f"{queries} could not be renewed ({attempts} attempt{'s' * (attempts > 1)}; {error}); "
            f"once it runs out another worker may evaluate {'them' if len(held) > 1 else 'it'} "
            f"again, and a result from here is kept only if none did",
            StudyWarning,
            stacklevel=2,
        )
