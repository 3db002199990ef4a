"""A bench runs each search as one job on an executor: a failed or timed-out run is retried with
the same seed and then given up (recorded in errors.jsonl) while the others finish, a killed
worker loses nothing, and the same command again completes the bench exactly."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from seminas.execution import FaultPolicy, LocalExecutor
from seminas.experiments.bench import BenchRunError, make_specs, read_results, run_bench, run_one
from seminas.experiments.bench.testing import FaultyBenchWork
from seminas.progress import CallbackProgress


def _without_time(line: dict) -> dict:
    return {k: v for k, v in line.items() if k != "wall_seconds"}


@pytest.fixture(scope="module")
def specs(nb201):
    """Three tiny runs (5 queries each) and their lines computed here, undisturbed."""
    specs = make_specs("nb201", "cifar10", "rs", 5, "0-2")
    return specs, {s.seed: _without_time(run_one(s)) for s in specs}


def _kill_when_ready(pid_file: Path) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_run_that_raises_then_times_out_is_given_up_while_the_others_finish(
    specs, tmp_path, capfd
):
    specs, reference = specs
    out = tmp_path / "bench"
    work = FaultyBenchWork(specs, tmp_path / "faults", {0: ["raise", "hang"]})
    seen: list = []
    progress = CallbackProgress(lambda what, total, unit: seen.append((what, total, unit)),
                                lambda n, note: seen.append(n))
    with LocalExecutor(2, FaultPolicy(retries=1, timeout=2.0)) as executor:
        with pytest.raises(BenchRunError, match="1 of 3 runs failed") as err:
            run_bench(specs, out, executor=executor, work=work)
        assert executor.stats["given_up"] == 1 and executor.stats["failed_attempts"] == 2
        assert work.attempts(0) == 2  # retried once, with the same spec
        assert {ln["seed"]: _without_time(ln) for ln in err.value.output} == {
            1: reference[1], 2: reference[2]}
        (failure,) = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()]
        assert failure["spec"]["seed"] == 0 and failure["error"].startswith("timeout: ")
        assert [a["kind"] for a in failure["attempts"]] == ["error", "timeout"]
        assert "injected failure (seed 0, attempt 1)" in failure["attempts"][0]["error"]
        err_text = capfd.readouterr().err
        assert "trying again" in err_text and "run failed (rs budget=5 seed=0 on" in err_text
        # the same bench again (its faults spent) runs only the missing run, and the whole is
        # what an undisturbed bench gives; how far it is goes to a Progress (nothing drawn)
        lines = run_bench(specs, out, executor=executor, work=work, progress=progress)
    assert seen == [("bench (2 local workers, 2 already done)", 1, "runs"), 1]
    assert [_without_time(ln) for ln in lines] == [reference[s] for s in (0, 1, 2)]
    assert len(read_results(out)) == 3 and work.attempts(0) == 3


def test_a_worker_killed_mid_bench_loses_nothing(specs, tmp_path):
    specs, reference = specs
    work = FaultyBenchWork(specs, tmp_path / "faults", {1: ["wait-kill"]})
    killer = _kill_when_ready(tmp_path / "faults" / "pid-1")
    with LocalExecutor(2, FaultPolicy(retries=0)) as executor:  # a death uses no retry
        lines = run_bench(specs, tmp_path / "bench", executor=executor, work=work)
        assert executor.stats["worker_deaths"] == 1 and executor.stats["given_up"] == 0
    killer.join(timeout=5)
    assert work.attempts(1) == 2  # the same attempt again, on a new worker
    assert [_without_time(ln) for ln in lines] == [reference[s] for s in (0, 1, 2)]
    assert not (tmp_path / "bench" / "errors.jsonl").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--run-timeout", "0"], "--run-timeout"),
        (["--retries", "-1"], "--retries"),
        (["--executor", "slurm"], "--executor"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
        (["--executor", "ray", "--ray-address", "nonsense"], "is not HOST:PORT"),
    ],
)
def test_bad_run_options_are_one_line_before_any_run(tmp_path, capsys, extra, message):
    from seminas.cli import main

    out = tmp_path / "b"
    try:
        code = main(["bench", "--strategies", "rs", "--budget", "5", "--seeds", "0", "--quiet",
                     "--out", str(out), *extra])
    except SystemExit as exc:  # refused by the parser itself
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (out / "results.jsonl").exists()
