"""The local executor: a pool of worker processes on this machine.

Each worker is a separate process started with ``spawn`` (a clean interpreter: no inherited
threads or locks, the same on every platform) that receives the work once (an evaluator, a
bench's runner: a :class:`~seminas.execution.base.Work`), sets torch to one thread
(``threads``), and then runs one job at a time sent over its own pipe. Owning the processes --
rather than using ``concurrent.futures`` -- is what makes the fault policy real:

- a timed-out job is stopped by killing its process (``SIGKILL``); a fresh worker takes its
  place when the next job needs one; a Python thread could not be stopped;
- a worker that dies (its sentinel fires or its pipe breaks) is noticed at once; its job is
  re-queued and the worker replaced, while the other workers go on undisturbed
  (``concurrent.futures`` would break the whole pool);
- a worker whose parent dies (``kill -9`` of the search) exits within a fraction of a second
  (:func:`~seminas.lifecycle.die_with_parent`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from seminas.execution.base import Executor, FaultPolicy, Job, one_line
from seminas.lifecycle import die_with_parent, die_with_process

STOP = None
MAX_FAILED_STARTS = 3  # consecutive worker start failures before the search stops


def _worker_main(
    conn: Connection, work_blob: bytes, threads: int, parent: int, forked_by_server: bool
) -> None:
    """A worker process: run jobs from ``conn`` until told to stop (or the parent dies)."""
    # an orphan would train on for nobody
    (die_with_process if forked_by_server else die_with_parent)(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
        work = pickle.loads(work_blob)
        work.setup()
    except BaseException as exc:  # e.g. the work's class cannot be imported here
        conn.send((None, "init-error", one_line(exc)))
        return
    conn.send((None, "ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is STOP:
            return
        key = message.key
        try:
            reply = (key, "ok", work.run(message))
        except Exception as exc:  # every failure goes back as one line
            reply = (key, "error", one_line(exc))
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send((key, "error", f"result cannot be sent back: {one_line(exc)}"))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx: Any, blob: bytes, threads: int, index: int) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=_worker_main,
            args=(child, blob, threads, os.getpid(), ctx.get_start_method() == "forkserver"),
            daemon=True,
            name=f"seminas-worker-{index}",
        )
        self.proc.start()
        child.close()
        self.conn: Connection = parent
        self.key: int | None = None
        self.ready = False  # set when the process has loaded (and set up) the work

    @property
    def name(self) -> str:
        return f"local:{self.proc.pid}"

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=10)
        self.conn.close()


class LocalExecutor(Executor):
    """``workers`` processes on this machine (see the module docstring)."""

    kind = "local"

    def __init__(
        self,
        workers: int = 1,
        faults: FaultPolicy | None = None,
        threads: int = 1,
        start_method: str = "spawn",
    ) -> None:
        super().__init__(workers, faults)
        self.threads = max(1, int(threads))
        self._ctx = mp.get_context(start_method)
        self._pool: list[_Worker] = []
        self._blob = b""
        self._started = 0
        self._failed_starts = 0

    def _new_worker(self) -> _Worker:
        self._started += 1
        return _Worker(self._ctx, self._blob, self.threads, self._started)

    def _start(self) -> None:
        self._blob = pickle.dumps(self.work)
        self._pool = []  # started on first need: a fully cached search starts no process

    def _stop(self) -> None:
        for w in self._pool:
            try:
                w.conn.send(STOP)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 5
        for w in self._pool:
            w.proc.join(timeout=max(0.1, deadline - time.monotonic()))
            w.kill()
        self._pool = []

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (for tests and monitoring)."""
        return [w.proc.pid for w in self._pool if w.proc.pid is not None]

    def worker_of(self, key: int) -> int | None:
        """Process id of the worker running job ``key``, if it is running."""
        for w in self._pool:
            if w.key == key:
                return w.proc.pid
        return None

    def _has_free_slot(self) -> bool:
        while len(self._pool) < self.workers:
            self._pool.append(self._new_worker())
        return any(w.key is None and w.ready for w in self._pool)

    def _launch(self, key: int, job: Job) -> str | None:
        for i, w in enumerate(self._pool):
            if w.key is None and w.ready:
                try:
                    w.conn.send(job)
                except (BrokenPipeError, OSError):
                    w.kill()  # died while idle: replace it and use the new one
                    w = self._pool[i] = self._new_worker()
                    w.conn.send(job)
                w.key = key
                return w.name
        raise RuntimeError("no free worker")  # pragma: no cover - guarded by _has_free_slot

    def _replace(self, w: _Worker) -> None:
        """End ``w``; a new worker is started when a queued job needs one (not at once: a
        job killed while the executor closes must not start a process nobody uses)."""
        w.kill()
        self._pool.remove(w)

    def _wait(self, timeout: float | None) -> list[tuple[int, str, Any]]:
        objects: list[Any] = []
        for w in self._pool:
            objects.append(w.proc.sentinel)
            if w.key is not None or not w.ready:
                objects.append(w.conn)
        ready = set(wait(objects, timeout))
        events: list[tuple[int, str, Any]] = []
        for w in list(self._pool):
            if w.conn in ready:
                try:
                    key, kind, payload = w.conn.recv()
                except (EOFError, OSError, pickle.UnpicklingError):
                    pass  # broken pipe: handled as a death below
                else:
                    if kind == "ready":
                        w.ready = True
                        self._failed_starts = 0
                    elif kind == "init-error":
                        self._failed_start(w, str(payload))
                    else:
                        w.key = None
                        events.append((key, kind, payload))
                    continue
            if w.proc.sentinel in ready or not w.proc.is_alive():
                w.proc.join(timeout=1)
                code = w.proc.exitcode
                why = f"worker process {w.proc.pid} exited with code {code}"
                if code is not None and code < 0:
                    why = f"worker process {w.proc.pid} was killed by signal {-code}"
                if w.key is not None:
                    events.append((w.key, "died", why))
                elif not w.ready:
                    self._failed_start(w, why)
                    continue
                self._replace(w)
        return events

    def _failed_start(self, w: _Worker, why: str) -> None:
        """A worker that cannot even start: retry a few times, then stop in one line."""
        self._failed_starts += 1
        if self._failed_starts >= MAX_FAILED_STARTS:
            from seminas.errors import SeminasError

            raise SeminasError(
                f"worker processes fail to start ({self._failed_starts} times; last: {why}); "
                f"the work (an evaluator, a bench run) must be importable and picklable"
            )
        self._replace(w)

    def _kill(self, key: int) -> None:
        for w in self._pool:
            if w.key == key:
                self._replace(w)
                return
