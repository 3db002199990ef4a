"""`seminas search --executor ray --ray-address` on a real Ray cluster: a head and a worker node
started with `ray start` on this machine (two raylets, one CPU each; see tests/ray_cluster.py).

The searches evaluate the NAS-Bench-201 table with ``--simulate-time`` (each lookup sleeps a
fraction of the training time it stands for, ~1.8 s here), so that two evaluations run at once,
one per node, long enough to stop a node in the middle of one. A local run of the same search
(``--executor local --workers 2``, no simulated time) is the reference every cluster run must
equal, trial for trial.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'seminas[ray]')")
pytest.importorskip("psutil", reason="psutil (in the test extra) is needed to stop a node")

from ray_cluster import RayCluster  # noqa: E402

from seminas.study import Study  # noqa: E402

pytestmark = pytest.mark.slow  # 1-2 min: a cluster start, three searches, a refused driver

SEARCH = [
    "search", "--space", "nb201", "--strategy", "re", "--set", "population_size=4",
    "--set", "tournament_size=2", "--budget", "12", "--seed", "3", "--workers", "2",
    "--quiet", "--json",
]
SIMULATE = ["--simulate-time", "0.001"]  # NB201 training times of 540-3460 s: 0.5-3.5 s
TASK = "_ray_evaluate"  # the Ray task of seminas.execution.ray_executor


def _env(base: Path) -> dict[str, str]:
    """The isolation conftest gives in-process tests, for a seminas subprocess."""
    return {
        **os.environ,
        "SEMINAS_CACHE": str(base / "cache"),
        "XDG_DATA_HOME": str(base / "xdg-absent"),
    }


class _Seminas:
    """``seminas ARGS`` in a subprocess, its output in files (a pipe nobody reads could fill)."""

    def __init__(self, args: list[str], env: dict[str, str], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.out, self.err = folder / "stdout", folder / "stderr"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "seminas.cli", *args], env=env,
                                         stdout=out, stderr=err)

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=timeout)
        return code, self.out.read_text(), self.err.read_text()

    def result(self, timeout: float = 300) -> dict:
        code, out, err = self.finish(timeout)
        assert code == 0, err[-3000:]
        return json.loads(out[out.index("{"):])

    def running(self) -> bool:
        if self.proc.poll() is None:
            return True
        raise AssertionError(f"seminas exited early: {self.err.read_text()[-3000:]}")


def _node(worker: str) -> str:
    """The node id prefix in a Ray worker name ``ray:PID@IP/NODE``."""
    assert worker.startswith("ray:") and "@" in worker and "/" in worker, worker
    return worker.rsplit("/", 1)[1]


def _rows(study: Path) -> list:
    with Study.open(study, read_only=True) as s:
        return s.storage.trials()


@pytest.fixture(scope="module")
def local_search(tmp_path_factory):
    """The reference: the same search on the local process pool, without simulated time,
    started first so that it runs while the cluster starts."""
    folder = tmp_path_factory.mktemp("local")
    run = _Seminas([*SEARCH, "--executor", "local"], _env(folder), folder)
    yield run
    if run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()


@pytest.fixture(scope="module")
def cluster(local_search):
    root = Path(tempfile.mkdtemp(prefix="snray", dir="/tmp"))  # short: Ray's socket paths
    c = RayCluster(root)
    try:
        c.start_head()
        c.add_node("worker_node")
        c.wait_for_nodes()
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def local_trials(local_search, cluster):
    return local_search.result()["trials"]


def _cluster_env(cluster: RayCluster, tmp_path: Path) -> dict[str, str]:
    auth = {k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    return {**_env(tmp_path), **auth}


def test_a_driver_without_the_clusters_token_is_refused_in_one_line(cluster, tmp_path):
    env = {**_env(tmp_path), "RAY_AUTH_MODE": "disabled", "RAY_NUM_REDIS_GET_RETRIES": "1"}
    env.pop("RAY_AUTH_TOKEN", None)
    run = _Seminas([*SEARCH, "--executor", "ray", "--ray-address", cluster.address], env, tmp_path)
    code, out, err = run.finish(timeout=120)
    assert code == 2 and out == "" and "Traceback" not in err
    # Ray's own connection warnings come first; seminas says what to do in its one line
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: the Ray cluster at {cluster.address} wants its "
                           f"authentication token: set RAY_AUTH_MODE=token"), err[-2000:]


def test_search_on_the_cluster_uses_both_nodes_and_gives_the_local_results(
    cluster, local_trials, tmp_path
):
    if not cluster.nodes["worker_node"].alive:  # a test before stopped it
        cluster.add_node("worker_node")
        cluster.wait_for_nodes()
    study = tmp_path / "cluster.db"
    args = [*SEARCH, *SIMULATE, "--executor", "ray", "--ray-address", cluster.address,
            "--study", str(study)]
    result = _Seminas(args, _cluster_env(cluster, tmp_path), tmp_path).result()
    assert result["trials"] == local_trials
    rows = _rows(study)
    assert [r.status for r in rows] == ["done"] * 12
    assert not any(r.extra.get("failed_attempts") for r in rows)
    used = [_node(r.extra["worker"]) for r in rows]
    head, worker = (cluster.nodes[n].node_id[:12] for n in ("head_node", "worker_node"))
    assert set(used) == {head, worker}
    assert min(used.count(head), used.count(worker)) >= 3  # one CPU each: they take turns


def test_a_worker_node_stopped_mid_search_loses_no_evaluation(cluster, local_trials, tmp_path):
    node = cluster.nodes["worker_node"]
    if not node.alive:
        node = cluster.add_node("worker_node")
        cluster.wait_for_nodes()
    study = tmp_path / "stopped.db"
    args = [*SEARCH, *SIMULATE, "--executor", "ray", "--ray-address", cluster.address,
            "--study", str(study)]
    search = _Seminas(args, _cluster_env(cluster, tmp_path), tmp_path)
    # stop the worker node in the middle of its third evaluation
    started, busy = 0, False
    deadline = time.monotonic() + 240
    while started < 3:
        assert search.running()
        assert time.monotonic() < deadline, "the worker node never evaluated three times"
        now = node.evaluating(TASK)
        started += now and not busy
        busy = now
        time.sleep(0.05)
    stopped_at = time.time()
    node.stop()  # `ray stop` on that node: SIGTERM to its processes, SIGKILL after 5 s
    result = search.result()

    assert result["trials"] == local_trials  # nothing lost, nothing changed
    assert not result["diagnostics"].get("failures")
    rows = _rows(study)
    assert [r.status for r in rows] == ["done"] * 12
    head, worker = node_ids = [cluster.nodes[n].node_id[:12] for n in ("head_node", "worker_node")]
    assert {_node(r.extra["worker"]) for r in rows} == set(node_ids)
    requeued = [r for r in rows if r.extra.get("failed_attempts")]
    assert requeued, "no evaluation was running on the stopped node"
    for r in requeued:
        (died,) = r.extra["failed_attempts"]  # re-queued once, without using a retry
        assert died["kind"] == "worker died" and died["attempt"] == 1
        assert _node(died["worker"]) == worker  # it was running on the stopped node ...
        assert _node(r.extra["worker"]) == head  # ... and finished on the head
    # every evaluation that started after the stop ran on the head
    assert all(_node(r.extra["worker"]) == head for r in rows if r.started > stopped_at)
