"""Where evaluations run: the local process pool and Ray, faults, studies, the CLI options."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from seminas.cli import main
from seminas.execution import ExecutorBackend, FaultPolicy, LocalExecutor, failed_record
from seminas.execution.base import AttemptFailure, Job, Outcome
from seminas.execution.testing import FaultyEvaluator, hashed_score
from seminas.spaces.nb201 import NB201Space
from seminas.strategies import make_strategy, run_search
from seminas.study import Study, evaluator_spec, make_config, run_study


def _kill_when_ready(state_dir: Path, query: int) -> threading.Thread:
    """Kill (SIGKILL) the process that evaluates ``query`` once it has written its pid."""

    def kill() -> None:
        pid_file = state_dir / f"pid-{query}"
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _reference(budget: int, seed: int = 0):
    """The same search evaluated here, serially, without faults."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return run_search(make_strategy("rs"), FaultyEvaluator(NB201Space(), tmp), budget, seed)


def test_local_pool_survives_every_fault_and_loses_nothing(tmp_path):
    # query 0 raises once, 1 gives NaN twice (given up), 2 hangs once (timeout, killed),
    # 3's worker is killed from outside, 4's worker dies by itself
    plan = {0: ["raise"], 1: ["nan", "nan"], 2: ["hang"], 3: ["wait-kill"], 4: ["exit"]}
    evaluator = FaultyEvaluator(NB201Space(), tmp_path, plan)
    executor = LocalExecutor(2, FaultPolicy(retries=1, timeout=2.5))
    _kill_when_ready(tmp_path, 3)
    hung_pids: list[int] = []
    backend = ExecutorBackend(executor)
    backend.on_failure = lambda job, f: hung_pids.append(int(f.worker.split(":")[1])) if (
        f.kind == "timeout") else None
    try:
        result = run_search(make_strategy("rs"), evaluator, 8, seed=0, backend=backend)
    finally:
        executor.close()
    # the search went on: 8 successful trials; the NaN query is a recorded failure, not a trial
    assert len(result.trials) == 8
    assert [t.number for t in result.trials] == [0, 2, 3, 4, 5, 6, 7, 8]
    (failure,) = result.diagnostics["failures"]
    assert failure["number"] == 1 and failure["error"].startswith("non-finite")
    assert [a["attempt"] for a in failure["attempts"]] == [1, 2]
    assert "stopped" not in result.diagnostics
    # the same proposals as an undisturbed search, and the same results for them
    reference = _reference(8).trials
    assert [t.arch_id for t in result.trials[:7]] == [
        t.arch_id for t in reference if t.number != 1
    ]
    assert all(t.search_metric == hashed_score(t.arch_id) for t in result.trials)
    stats = executor.stats
    assert stats["worker_deaths"] == 2 and stats["given_up"] == 1
    assert stats["evaluated"] == 8
    # attempts really made: 0 twice (raise, ok), 1 twice (nan, nan), 2 twice (hang, ok),
    # 3 twice (killed, ok), 4 twice (died, ok); the others once
    assert [evaluator.attempts(q) for q in range(9)] == [2, 2, 2, 2, 2, 1, 1, 1, 1]
    # the timed-out evaluation was killed, not abandoned
    assert hung_pids and not any(_alive(pid) for pid in hung_pids)


def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    serial = _reference(14, seed=3)
    evaluator = FaultyEvaluator(NB201Space(), tmp_path)
    with LocalExecutor(2) as executor:
        parallel = run_search(make_strategy("rs"), evaluator, 14, seed=3,
                              backend=ExecutorBackend(executor))
    assert [(t.arch_id, t.search_metric) for t in parallel.trials] == [
        (t.arch_id, t.search_metric) for t in serial.trials
    ]


class _InProcess:
    """A backend that evaluates here, announcing ``parallelism`` workers and failing the
    planned queries as an executor gives them up (fast: strategy and context logic only)."""

    def __init__(self, parallelism: int = 1, fail=(), max_consecutive_failures: int = 10):
        self.parallelism = parallelism
        self.fail = set(fail)
        self.max_consecutive_failures = max_consecutive_failures
        self.batches: list[int] = []

    def evaluate(self, ctx, batch):
        self.batches.append(len(batch))
        for c in batch:
            if c.number in self.fail:
                failure = AttemptFailure(1, "error", "RuntimeError: boom", 0.0)
                yield failed_record(c.arch_id, Outcome(Job(c.number, c.arch), None, [failure]))
            else:
                yield ctx.evaluator.evaluate(c.arch, query=c.number)


def test_evolution_hands_over_one_child_per_worker(tmp_path):
    evaluator = FaultyEvaluator(NB201Space(), tmp_path)
    backend = _InProcess(parallelism=2, fail={5})
    result = run_search(make_strategy("re", population_size=4, tournament_size=2),
                        evaluator, 12, seed=0, backend=backend)
    # initial population of 4, then cycles of 2 children (one per worker); query 5 failed
    assert backend.batches == [4, 2, 2, 2, 2, 1]
    assert len(result.trials) == 12 and len({t.arch_id for t in result.trials}) == 12
    assert [t.iteration for t in result.trials] == [0, 0, 0, 0, 1, 2, 2, 3, 3, 4, 4, 5]
    assert result.best.search_metric == max(t.search_metric for t in result.trials)
    failed = result.diagnostics["failures"][0]
    assert failed["number"] == 5 and failed["arch_id"] not in {t.arch_id for t in result.trials}


def test_a_search_whose_evaluations_keep_failing_stops_in_one_line(tmp_path):
    evaluator = FaultyEvaluator(NB201Space(), tmp_path)
    backend = _InProcess(fail=range(100))
    result = run_search(make_strategy("re", population_size=3), evaluator, 20, seed=0,
                        backend=backend)
    assert result.trials == [] and result.best is None
    assert result.diagnostics["stopped"] == (
        "stopped: every evaluation so far failed (3; last: error: RuntimeError: boom)"
    )
    # after some successes, K failures in a row stop it too (and nothing finished is lost)
    backend = _InProcess(fail=range(3, 100), max_consecutive_failures=5)
    result = run_search(make_strategy("rs", batch_size=1), evaluator, 20, seed=0,
                        backend=backend)
    assert [t.number for t in result.trials] == [0, 1, 2]
    assert result.diagnostics["stopped"].startswith("stopped after 5 failed evaluations in a row")
    assert len(result.diagnostics["failures"]) == 5


def test_a_study_records_each_result_as_it_comes_and_replays_failures(tmp_path):
    # query 0 is slow, 1 fast: with 2 workers, 1 is stored before 0; query 2 is given up
    plan = {0: ["slow"], 2: ["raise", "raise"]}
    evaluator = FaultyEvaluator(NB201Space(), tmp_path / "state", plan, slow=5.0)
    strategy = make_strategy("rs", batch_size=4)
    config = make_config(strategy, evaluator_spec("nb201"), 6, 0, parallelism=2)
    study, _ = Study.create_or_open(tmp_path / "s.db", config)
    with LocalExecutor(2, FaultPolicy(retries=1)) as executor:
        result = run_study(study, evaluator, executor=executor)
    rows = {r.number: r for r in study.storage.trials()}
    assert rows[1].finished < rows[0].finished
    assert rows[2].status == "failed" and rows[2].extra["gave_up"] is True
    assert rows[2].attempts == 2 and "injected failure" in rows[2].error
    assert [a["attempt"] for a in rows[2].extra["attempts"]] == [1, 2]
    assert study.storage.counts() == {"pending": 0, "running": 0, "done": 6, "failed": 1}
    assert [t.number for t in result.trials] == [0, 1, 3, 4, 5, 6]
    study.close()
    # resuming replays everything, the failure included, without evaluating again
    attempts = [evaluator.attempts(q) for q in range(7)]
    with Study.open(tmp_path / "s.db") as again, LocalExecutor(2) as executor:
        replay = run_study(again, evaluator, executor=executor)
        assert executor.stats["evaluated"] == 0
    assert [evaluator.attempts(q) for q in range(7)] == attempts
    assert [(t.arch_id, t.search_metric) for t in replay.trials] == [
        (t.arch_id, t.search_metric) for t in result.trials
    ]
    assert replay.diagnostics["failures"][0]["number"] == 2


@pytest.fixture(scope="module")
def cifar_batches(tmp_path_factory):
    """A real CIFAR-10 python-batch folder of 200 training and 50 test images."""
    data = np.load(need("cifar10/cifar10-10k.npz"), allow_pickle=False)
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    folder.mkdir()

    def pick(y, k):
        return np.concatenate([np.flatnonzero(y == c)[:k] for c in range(10)])

    for name, xs, ys, k in (("data_batch_1", "x_train", "y_train", 20),
                            ("test_batch", "x_test", "y_test", 5)):
        idx = pick(data[ys], k)
        x = data[xs][idx].transpose(0, 3, 1, 2).reshape(len(idx), -1)
        batch = {b"data": x, b"labels": data[ys][idx].astype(int).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def test_cli_search_trains_in_parallel_into_a_study(tmp_path, cifar_batches, capsys):
    study = tmp_path / "train.db"
    args = ["search", "--space", "nb201", "--strategy", "rs", "--evaluator", "train",
            "--data", str(cifar_batches), "--epochs", "1", "--channels", "2", "--cells", "1",
            "--budget", "3", "--workers", "2", "--study", str(study), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "validation accuracy (%) after training" in out and "per query" in out
    with Study.open(study) as s:
        rows = s.storage.trials()
        assert [r.status for r in rows] == ["done"] * 3
        assert all(r.params and r.cost_seconds > 0 for r in rows)
        assert s.config["evaluator"]["evaluator"] == "train"
        assert s.config["parallelism"] == 2
    # resuming with another number of workers is refused in one line
    assert main(["resume", str(study), "--workers", "3", "--quiet"]) == 2
    assert "use --workers 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "/no/such/folder"], "unknown data source"),
        (["--data", "nope", "--workers", "2"], "unknown data source"),  # before any worker
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach the Ray cluster"),
        (["--executor", "ray", "--ray-address", "nonsense"], "is not HOST:PORT"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    ],
)
def test_cli_bad_training_and_execution_options(extra, message, capsys):
    need("cifar10/cifar10-10k.npz")
    args = ["search", "--strategy", "rs", "--budget", "2", "--quiet", "--evaluator", "train"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_simulated_time_sleeps_per_query_and_changes_no_result(capsys):
    import json

    from seminas.execution.simulated import SimulatedTime

    base = ["search", "--space", "nb201", "--strategy", "rs", "--budget", "4", "--quiet",
            "--json"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*base, "--simulate-time", "2e-4"]) == 0
    slow = json.loads(capsys.readouterr().out)
    assert slow["trials"] == plain["trials"]
    assert slow["evaluator"] == {**plain["evaluator"], "simulate_time": 2e-4}
    slept = sum(t["cost_seconds"] for t in plain["trials"]) * 2e-4  # about 1.4 s
    assert slow["wall_seconds"] >= slept > 10 * plain["wall_seconds"]
    # it travels to worker processes whole (unpickling must not recurse into __getattr__)
    from seminas.benchmarks.factory import make_evaluator

    table = make_evaluator("nb201")
    copy = pickle.loads(pickle.dumps(SimulatedTime(table, 0.5)))
    arch = table.space.sample(1, np.random.default_rng(0))[0]
    assert copy.scale == 0.5 and copy.lookup(arch) == table.lookup(arch)


def test_cli_ray_not_installed(monkeypatch, capsys):
    import sys

    need("cifar10/cifar10-10k.npz")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["search", "--strategy", "rs", "--budget", "2", "--quiet",
                 "--evaluator", "train", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "needs Ray" in err and err.count("\n") == 1


# -- Ray -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'seminas[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")

    @ray.remote(num_cpus=1)
    def warm() -> int:  # both workers import torch and seminas before any timed task
        import torch  # noqa: F401

        import seminas.execution.testing  # noqa: F401

        time.sleep(0.5)
        return os.getpid()

    ray.get([warm.remote() for _ in range(2)])
    yield ray
    ray.shutdown()


def test_ray_tasks_give_the_local_results_and_survive_faults(ray_instance, tmp_path):
    from seminas.execution import RayExecutor

    plan = {0: ["raise"], 1: ["wait-kill"], 2: ["hang"], 3: ["nan", "nan"]}
    evaluator = FaultyEvaluator(NB201Space(), tmp_path, plan)
    _kill_when_ready(tmp_path, 1)
    executor = RayExecutor(2, FaultPolicy(retries=1, timeout=8.0))
    try:
        result = run_search(make_strategy("rs"), evaluator, 6, seed=2,
                            backend=ExecutorBackend(executor))
    finally:
        executor.close()
    assert ray_instance.is_initialized()  # an instance it did not start is left running
    assert len(result.trials) == 6
    assert [f["number"] for f in result.diagnostics["failures"]] == [3]
    stats = executor.stats
    assert stats["worker_deaths"] == 1 and stats["given_up"] == 1
    kinds = {a["kind"] for a in result.diagnostics["failures"][0]["attempts"]}
    assert kinds == {"non-finite"}
    assert [evaluator.attempts(q) for q in range(4)] == [2, 2, 2, 2]
    serial = {t.arch_id: t.search_metric for t in _reference(12, seed=2).trials}
    for trial in result.trials:
        if trial.arch_id in serial:
            assert trial.search_metric == serial[trial.arch_id]


def test_a_bench_on_ray_gives_the_local_result(ray_instance, tmp_path, capsys):
    """``seminas bench --executor ray``: each run one Ray task, the same lines as local."""
    from seminas.experiments.bench import read_results

    argv = ["bench", "--space", "nb201", "--strategies", "rs,re", "--budget", "8", "--seeds",
            "0-1", "--workers", "2", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    assert main([*argv, "--executor", "ray", "--run-timeout", "120", "--out",
                 str(tmp_path / "ray")]) == 0, capsys.readouterr().err
    assert ray_instance.is_initialized()  # an instance it did not start is left running

    def lines(out: str) -> dict:
        return {(ln["config_key"], ln["seed"]): {k: v for k, v in ln.items() if k != "wall_seconds"}
                for ln in read_results(tmp_path / out)}

    local, ray = lines("local"), lines("ray")
    assert len(local) == 4 and ray == local
