"""Worker processes that end with the process that started them, and signals that stop a run.

A worker process (a training, a bench run) must not outlive its parent: after ``kill -9`` of
``seminas bench`` or ``seminas search --workers N``, nothing would ever read what an orphan
computes, yet it would keep its memory and train for minutes. :func:`die_with_parent`, called
first thing in every worker (the pool's initializer), makes sure it does not, two ways:

- on Linux the kernel signals the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
  which ends it at once. The kernel sends that signal when the *thread* that forked the worker
  ends, even if the process lives on, so the signal is not a plain ``SIGKILL``: its handler
  checks that the parent really is gone (the parent process id changed) and otherwise ignores it;
- everywhere (macOS too) a daemon thread polls ``os.getppid()`` and ends the worker once it is
  no longer the parent's id (an orphan is adopted by ``init`` or a subreaper).

Python's multiprocessing resource tracker needs nothing: it exits when the last process holding
its pipe (the parent and every worker) is gone.

:func:`stop_signals` turns ``SIGTERM`` (what SLURM, Kubernetes and ``kill`` send) into the same
:class:`Interrupted` exception as Ctrl-C, so a stopped run is recorded and reported the same way.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

WATCH_INTERVAL = 0.2  # seconds between two checks of the parent in the watchdog thread
ORPHAN_EXIT_CODE = 1
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# The parent-death signal: one that nothing else in a worker uses, so its handler can tell.
_DEATH_SIGNAL = getattr(signal, "SIGUSR2", None)

_orphan_check: Callable[[], bool] | None = None  # set in a watched worker: "is it orphaned?"


def _orphaned() -> None:
    """End this worker now: no cleanup can help a parent that is gone, and an ``atexit`` join
    (of a pool, a queue's feeder thread) could hang."""
    os._exit(ORPHAN_EXIT_CODE)


def _on_death_signal(signum: int, frame: Any) -> None:
    if _orphan_check is not None and _orphan_check():
        _orphaned()
    # else: only the parent's thread that forked us ended; the parent itself is alive


def _set_death_signal() -> bool:
    """Ask Linux to signal this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux") or _DEATH_SIGNAL is None:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False  # a Python signal handler can only be installed from the main thread
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        signal.signal(_DEATH_SIGNAL, _on_death_signal)
        return libc.prctl(_PR_SET_PDEATHSIG, int(_DEATH_SIGNAL), 0, 0, 0) == 0
    except (OSError, AttributeError, ValueError):
        return False


def _watchdog(check: Callable[[], bool], interval: float) -> None:
    while not check():
        time.sleep(interval)
    _orphaned()


def _arm(check: Callable[[], bool], interval: float) -> None:
    global _orphan_check
    if _orphan_check is not None:
        return  # already watched (an initializer that runs twice)
    _orphan_check = check
    _set_death_signal()
    if check():  # the parent died before the signal was armed
        _orphaned()
    threading.Thread(
        target=_watchdog, args=(check, interval), name="seminas-parent-watchdog", daemon=True
    ).start()


def die_with_parent(parent_pid: int | None = None, interval: float = WATCH_INTERVAL) -> None:
    """Make this worker process exit as soon as its parent, ``parent_pid``, dies.

    ``parent_pid`` is the parent's id as the parent saw it (``os.getpid()`` there, passed in
    the worker's arguments), which also catches a parent that died before the worker got here;
    ``None`` takes the current parent. Call it once, early, in the worker's main thread.
    """
    parent = os.getppid() if parent_pid is None else int(parent_pid)
    _arm(lambda: os.getppid() != parent, interval)


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie not yet reaped by its parent counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, someone else's
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False  # no /proc (macOS): it answered the signal, so it is there


def die_with_process(pid: int, interval: float = WATCH_INTERVAL) -> None:
    """Make this worker exit as soon as process ``pid`` (the main program) or its own parent
    dies: for a worker whose parent is a fork server, which holds on while workers live."""
    parent = os.getppid()
    _arm(lambda: os.getppid() != parent or _gone(pid), interval)


def start_manager(ctx: Any = None) -> Any:
    """A started ``multiprocessing`` manager (its queues and dicts live in a server process)
    whose server process also ends with this one: ``ctx.Manager()`` would outlive a ``kill -9``.
    Use it as ``with start_manager(ctx) as manager:``."""
    import multiprocessing
    from multiprocessing.managers import SyncManager

    manager = SyncManager(ctx=ctx or multiprocessing.get_context())
    manager.start(die_with_parent, (os.getpid(),))
    return manager


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or ``SIGTERM``; its message (if any) says what was kept and how to
    continue, and :attr:`signum` which signal it was (for the exit code ``128 + signum``)."""

    def __init__(self, message: str = "", signum: int = int(signal.SIGINT)) -> None:
        super().__init__(message)
        self.message = message
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """The shell's exit code of a process stopped by ``exc``: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Interrupted(signum=signum)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block, ``SIGTERM`` raises :class:`Interrupted` like Ctrl-C raises
    ``KeyboardInterrupt``; the previous handler is restored after. Does nothing outside the main
    thread (signal handlers live there) or where the signal is ignored on purpose (``nohup``)."""
    term = getattr(signal, "SIGTERM", None)
    if term is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(term)
    if previous is signal.SIG_IGN:
        yield
        return
    signal.signal(term, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(term, previous)
