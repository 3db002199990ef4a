"""Worker processes end with their parent, and a bench stops promptly on Ctrl-C and SIGTERM.

Every command runs as a real subprocess in its own session (so its process group holds the
command and every process it starts, and the test can kill all of them even when it fails).
Processes are found through ``/proc`` on Linux, ``ps`` elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import need

SEMINAS = [sys.executable, "-m", "seminas.cli"]
ORPHAN_DEADLINE = 5.0  # seconds every descendant may take to exit after its parent's SIGKILL
# seconds a bench may take to exit after Ctrl-C / SIGTERM: measured ~1.5 s on a quiet machine and
# 5.3 s with every core busy; a bench that waited for its queued runs would take minutes
STOP_DEADLINE = 10.0


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def default_ctrl_c() -> None:
    """The child's default Ctrl-C handling (a test started in the background of a
    non-interactive shell inherits SIGINT ignored, and Python keeps it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(argv: list[str], **kwargs) -> subprocess.Popen:
    """``argv`` as the leader of a new session and process group (its id is the pid)."""
    return subprocess.Popen(
        argv, env=env(), start_new_session=True, preexec_fn=default_ctrl_c, text=True, **kwargs
    )


def group_members(pgid: int) -> dict[int, int]:
    """Live (not zombie) processes of process group ``pgid``: pid -> parent pid."""
    members: dict[int, int] = {}
    if Path("/proc/self/stat").exists():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # ended meanwhile
            state, ppid, pgrp = fields[0], int(fields[1]), int(fields[2])
            if pgrp == pgid and state not in ("Z", "X"):
                members[int(entry.name)] = ppid
        return members
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    for row in out.splitlines():
        pid, ppid, pgrp, state = row.split()[:4]
        if int(pgrp) == pgid and not state.startswith("Z"):
            members[int(pid)] = int(ppid)
    return members


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
    except OSError:
        return "?"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 where /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def workers_of(proc: subprocess.Popen) -> list[int]:
    """The multiprocessing workers the command started (not its resource tracker)."""
    return [
        pid
        for pid, ppid in group_members(proc.pid).items()
        if ppid == proc.pid and "resource_tracker" not in cmdline(pid)
    ]


def wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen, limit: float = 180):
    deadline = time.monotonic() + limit
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the command ended (code {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {limit:.0f} s")
        time.sleep(0.1)


def gone_within(pgid: int, seconds: float) -> tuple[float, dict[int, int]]:
    """Seconds until process group ``pgid`` is empty (or ``seconds``), and who is left."""
    t0 = time.monotonic()
    left = group_members(pgid)
    while left and time.monotonic() - t0 < seconds:
        time.sleep(0.05)
        left = group_members(pgid)
    return time.monotonic() - t0, left


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def complete_lines(path: Path) -> list[str]:
    """The run lines of ``path`` that are complete (a line being written has no newline yet),
    after the results store's version header."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text[: text.rfind("\n") + 1].splitlines()
    if lines and '"seminas_results"' in lines[0]:
        lines = lines[1:]
    return lines


def bench_args(out: Path, strategy: str, budget: int) -> list[str]:
    return [*SEMINAS, "bench", "--space", "nb201", "--strategies", strategy,
            "--budget", str(budget), "--seeds", "0-999", "--workers", "2",
            "--out", str(out), "--quiet"]


def kill_parent_and_check(proc: subprocess.Popen) -> float:
    """SIGKILL the command (only it); every process it started must be gone in seconds."""
    pgid = proc.pid
    children = group_members(pgid)
    assert len(children) >= 3, children  # the command, its resource tracker, worker(s)
    proc.kill()
    proc.wait(timeout=30)
    took, left = gone_within(pgid, ORPHAN_DEADLINE)
    assert not left, (
        f"still running {took:.1f} s after their parent's SIGKILL: "
        + "; ".join(f"{pid} {cmdline(pid)}" for pid in left)
    )
    return took


# -- orphans -----------------------------------------------------------------------------------
def test_bench_workers_and_resource_tracker_end_with_a_killed_bench(nb201_data, tmp_path):
    out = tmp_path / "bench"
    proc = start(bench_args(out, "re", 2000), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # both workers exist and runs are finishing: the workers are busy when the parent dies
        wait_for("two bench workers", lambda: len(workers_of(proc)) >= 2, proc)
        wait_for("a finished run", lambda: len(complete_lines(out / "results.jsonl")) >= 1, proc)
        took = kill_parent_and_check(proc)
        print(f"bench: every worker gone {took:.2f} s after the parent's SIGKILL")
    finally:
        kill_group(proc.pid)
        proc.communicate()


def test_training_workers_end_with_a_killed_search(tmp_path):
    need("cifar10/cifar10-10k.npz")
    argv = [*SEMINAS, "search", "--space", "nb201", "--strategy", "rs", "--evaluator", "train",
            "--data", "cifar10-10k", "--epochs", "1", "--budget", "4", "--workers", "2",
            "--quiet"]
    proc = start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        wait_for("two training workers", lambda: len(workers_of(proc)) >= 2, proc)
        # kill while they train: each has loaded torch and the data and is computing
        def training() -> bool:
            return all(cpu_seconds(pid) > 3.0 for pid in workers_of(proc))

        wait_for("busy training workers", training, proc)
        took = kill_parent_and_check(proc)
        print(f"training: every worker gone {took:.2f} s after the parent's SIGKILL")
    finally:
        kill_group(proc.pid)
        proc.communicate()


WATCHED = '''
import multiprocessing as mp, os, sys, threading, time
from seminas.execution import lifecycle

def worker(parent, tick):
    if os.environ.get("WATCHDOG_ONLY"):  # the portable watchdog alone (as on macOS)
        lifecycle._set_death_signal = lambda: False
    lifecycle.die_with_parent(parent)
    while True:
        with open(tick, "a") as fh:
            fh.write("tick ")
        time.sleep(0.05)

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    tick = sys.argv[1]
    # started from a thread that ends once the worker runs (its parent-death signal armed):
    # the kernel then signals the worker, which must ignore it while this process lives
    def launch():
        ctx.Process(target=worker, args=(os.getpid(), tick), daemon=True).start()
        while not os.path.exists(tick):
            time.sleep(0.01)
    t = threading.Thread(target=launch)
    t.start()
    t.join()
    print("started", flush=True)
    time.sleep(600)
'''


@pytest.mark.parametrize("death_signal", [True, False], ids=["death-signal", "watchdog-only"])
def test_a_worker_outlives_its_forking_thread_but_not_its_parent(tmp_path, death_signal):
    script = tmp_path / "watched.py"
    script.write_text(textwrap.dedent(WATCHED))
    tick = tmp_path / "tick"
    extra = {} if death_signal else {"WATCHDOG_ONLY": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tick)], env={**env(), **extra},
        start_new_session=True, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)  # the forking thread ended a second ago: the worker still ticks
        first = tick.stat().st_size
        time.sleep(0.3)
        assert tick.stat().st_size > first and len(workers_of(proc)) == 1
        took = kill_parent_and_check(proc)
        print(f"watched worker ({'death signal' if death_signal else 'watchdog'}) gone in "
              f"{took:.2f} s")
    finally:
        kill_group(proc.pid)
        proc.communicate()


# -- Ctrl-C and SIGTERM --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signum", "whole_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stopped_bench_says_so_once_keeps_its_runs_and_exits_at_once(
    nb201_data, tmp_path, signum, whole_group, code
):
    """Ctrl-C reaches the whole foreground process group (as from a terminal); SIGTERM (kill,
    SLURM, Kubernetes) only the bench. Both: one message with the resume hint, every worker
    ended, the finished runs intact, exit within seconds."""
    out = tmp_path / "bench"
    results = out / "results.jsonl"
    # runs of about a second each, with more queued behind them: a bench that waited for its
    # workers (and their queued runs) before exiting would take many seconds
    proc = start(bench_args(out, "re", 4000), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("a finished run", lambda: len(complete_lines(results)) >= 1, proc)
        wait_for("two bench workers", lambda: len(workers_of(proc)) >= 2, proc)
        before = complete_lines(results)
        (os.killpg if whole_group else os.kill)(proc.pid, signum)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
        print(f"bench exited {took:.2f} s after {signal.Signals(signum).name}")
        assert proc.returncode == code, err
        said = [ln for ln in err.splitlines() if "interrupted" in ln]
        assert said == [
            f"interrupted: finished runs are saved in {results}; run the same command again "
            f"to do only the missing ones"
        ], err
        assert "Traceback" not in err, err
        assert took <= STOP_DEADLINE, f"took {took:.1f} s to exit"
        # its workers were ended (the resource tracker follows once the last of them is gone)
        _, left = gone_within(proc.pid, 2.0)
        assert not left, f"outlived the bench: {[cmdline(pid) for pid in left]}"
        after = complete_lines(results)
        assert after[: len(before)] == before
        assert results.read_text(encoding="utf-8").endswith("\n")
        assert all(json.loads(ln)["strategy"] == "re" for ln in after)
    finally:
        kill_group(proc.pid)
        proc.communicate()


@pytest.fixture(scope="module")
def nb201_data():
    for name in ("12ep.csv", "test-200ep.csv", "cifar10-valid-200ep.csv"):
        need(f"nasbench201/{name}")
