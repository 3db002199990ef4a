"""Studies end, stop, wait and read the way a user needs: the storage interface and its SQLite
implementation, heartbeats that survive (and report) storage errors, SIGTERM, resuming with
external workers, a worker that meets a study still being created, read-only studies, and
one-line messages (damaged file, changed config, a closed pipe, an early plot).

Every failure here is real: a lock held by another process, a file system mounted read-only,
a corrupted page, a signal sent to a running ``seminas`` process.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from conftest import need

from seminas.cli import main
from seminas.study import Study, StudyError, evaluator_spec, make_config, run_study
from seminas.study.storage import SQLiteStorage, TrialRow

STUDY_SRC = Path(__file__).resolve().parents[1] / "src" / "seminas" / "study"
TINY_SEMINAS = {
    "initial": 10,
    "per_iteration": 10,
    "unlabeled": 100,
    "pretrain_epochs": 10,
    "epochs": 2,
    "top_k": 10,
}


@pytest.fixture(scope="module")
def nb201_data():
    for name in ("12ep.csv", "test-200ep.csv", "cifar10-valid-200ep.csv"):
        need(f"nasbench201/{name}")


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def seminas(*argv: str) -> list[str]:
    return [sys.executable, "-m", "seminas.cli", *argv]


def query(db: Path, sql: str) -> list[tuple]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []  # not created yet
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []  # being created
    finally:
        conn.close()


def done_count(db: Path) -> int:
    got = query(db, "SELECT count(*) FROM trials WHERE status = 'done'")
    return got[0][0] if got else 0


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def default_ctrl_c() -> None:
    """A child with the default SIGINT handling (a background pytest inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def one_line_error(capsys, argv, *fragments) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def rs_study(path: Path, budget: int = 20, seed: int = 2) -> Path:
    args = ["search", "--space", "nb201", "--strategy", "rs", "--budget", str(budget)]
    assert main([*args, "--seed", str(seed), "--quiet", "--study", str(path)]) == 0
    return path


# -- the storage interface ---------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_the_storage_interface_knows_no_sqlite(tmp_path):
    """The contract (and the heartbeats) are free of SQLite, and the code above the storage
    reaches SQLite only through ``open_storage``, so another implementation can slot in."""
    from seminas.study.storage import Storage, open_storage
    for name in ("_base.py", "_heartbeat.py", "_codec.py"):
        imported = _imports(STUDY_SRC / "storage" / name)
        assert not any("sqlite" in m for m in imported), (name, imported)
    above = [STUDY_SRC / name for name in ("runner.py", "study.py", "report.py")]
    commands = [STUDY_SRC.parent / "cli" / name for name in ("study.py", "study_views.py")]
    for path in [*above, *commands]:
        imported = _imports(path)
        assert not any("sqlite" in m.lower() for m in imported), (path.name, imported)
    abstract = Storage.__abstractmethods__
    assert {"claim", "heartbeat", "finish", "release", "retry_failed", "format_version",
            "exists", "create", "config"} <= abstract

    storage = open_storage(f"sqlite:///{tmp_path / 'a.db'}", create=True)
    assert isinstance(storage, SQLiteStorage) and storage.format_version() == 1
    assert not storage.exists() and storage.create({"x": 1}, {}) and storage.exists()
    storage.close()
    with pytest.raises(StudyError, match=r"no study storage for mysql:// locations"):
        open_storage("mysql://db.example/studies")  # postgresql:// has one: test_study_postgres


def test_retry_failed_reads_the_gave_up_member_as_json(tmp_path):
    """Only a trial whose ``extra`` JSON holds ``"gave_up": true`` stays failed on resume; a
    text match (the old ``LIKE '%"gave_up"%'``) also kept ones that merely mention it."""
    storage = SQLiteStorage(tmp_path / "j.db", create=True)
    storage.create({}, {})
    storage.propose([TrialRow(i, f"id{i}", f"arch{i}", [i], 0) for i in range(5)])
    extras = [
        '{"gave_up": true, "attempts": []}',  # given up for good: stays failed
        '{"gave_up": false}',  # explicitly not given up
        '{"note": "gave_up"}',  # a value that merely says it
        '{"detail": {"gave_up": true}}',  # nested, not the member
        "{}",
    ]
    conn = sqlite3.connect(tmp_path / "j.db", isolation_level=None)
    for number, extra in enumerate(extras):
        conn.execute(
            "UPDATE trials SET status = 'failed', extra = ? WHERE number = ?", (extra, number)
        )
    conn.close()
    assert storage.retry_failed() == 4
    assert [t.status for t in storage.trials()] == ["failed"] + ["pending"] * 4
    storage.close()


# -- heartbeats --------------------------------------------------------------------------------
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock: every other writer waits, then fails
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process takes the study's write lock for ``seconds`` (returns once it holds it)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _claimed_study(db: Path, lease: float, busy: float = 0.05) -> tuple[SQLiteStorage, TrialRow]:
    import numpy as np

    from seminas.spaces.nb201 import NB201Space

    space = NB201Space()
    arch = space.sample_one(np.random.default_rng(0))
    storage = SQLiteStorage(db, create=True, busy_timeout=busy)
    storage.create({}, {})
    storage.propose([TrialRow(0, space.arch_id(arch), space.to_native(arch), [], 0)])
    row = storage.claim("A", lease)
    assert row is not None
    return storage, row


def test_a_second_connection_leaves_the_first_ones_locks_alone(tmp_path):
    """Opening the study again in this process (a heartbeat does) must not drop the locks of
    the open connection: the old header check read the file with ``open()``, whose close
    released every POSIX lock of the process, so the lock holder here, exiting, took itself
    for the last user, removed the write-ahead log, and the first connection then read a
    "malformed" database."""
    from seminas.benchmarks.base import Record

    db = tmp_path / "locks.db"
    storage, row = _claimed_study(db, lease=0.2)
    locker = hold_write_lock(db, 1.0)
    storage.reopen().close()
    SQLiteStorage(db, busy_timeout=0.05).close()
    locker.wait()
    time.sleep(0.3)  # the lease runs out: another worker takes the query over
    other = SQLiteStorage(db, busy_timeout=5)
    assert other.claim("B", 60).number == 0
    other.close()
    assert storage.finish(0, "A", Record(row.arch_id, 1.0, None), None) is False
    assert storage.trial(0).worker == "B" and storage.counts()["running"] == 1
    storage.close()


def test_a_heartbeat_retries_a_storage_error_and_keeps_the_lease(tmp_path):
    from seminas.study.storage import LeaseKeeper, StudyWarning

    db = tmp_path / "hb.db"
    storage, row = _claimed_study(db, lease=3.0)  # renewed every second
    locker = hold_write_lock(db, 1.5)  # the first renewal meets the lock, a retry gets through
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with LeaseKeeper(storage, "A", 3.0, [row.number]) as keeper:
            locker.wait()
            released = time.time()
            wait_for(lambda: storage.trial(0).lease_until > released + 2.0, 5, "a renewal")
    assert keeper.errors >= 1  # the lock really got in the way...
    assert not keeper.lost and not [w for w in caught if w.category is StudyWarning]  # ...and
    storage.close()  # was ridden out


def test_a_lost_lease_is_reported_and_its_result_dropped_once_taken_over(tmp_path):
    """The lock outlasts the lease: the heartbeat gives up (a warning), another worker takes
    the query over once the lock is gone, and the late result is dropped, never stored twice."""
    from seminas.execution.testing import FaultyEvaluator
    from seminas.spaces.nb201 import NB201Space
    from seminas.study.runner import evaluate_claimed
    from seminas.study.storage import StudyWarning

    db = tmp_path / "lost.db"
    storage, row = _claimed_study(db, lease=1.2)
    evaluator = FaultyEvaluator(NB201Space(), tmp_path / "state", delay=4.0)
    locker = hold_write_lock(db, 2.5)
    taken: list[TrialRow] = []

    def other_worker() -> None:
        locker.wait()
        other = SQLiteStorage(db, busy_timeout=5)
        taken.append(other.claim("B", 60))
        other.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    told: list[tuple[int, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = evaluate_claimed(
            storage, evaluator, row, "A", None, 1.2, on_lease_lost=lambda *lost: told.append(lost)
        )
    thread.join()
    reports = [str(w.message) for w in caught if w.category is StudyWarning]
    assert len(reports) == 1 and "query 1 could not be renewed" in reports[0], reports
    assert "locked" in reports[0] and str(db) in reports[0]
    assert told and told[0][0] == 0 and "locked" in told[0][1]
    assert taken[0] is not None and taken[0].number == 0 and taken[0].attempts == 2
    assert kept is False  # A's late result was not stored over B's claim
    assert storage.trial(0).status == "running" and storage.trial(0).worker == "B"
    storage.close()


# -- how a search ends -------------------------------------------------------------------------
def test_a_study_whose_every_evaluation_failed_is_shown_stopped(tmp_path, capsys):
    from seminas.execution import FaultPolicy, LocalExecutor
    from seminas.execution.testing import FaultyEvaluator
    from seminas.spaces.nb201 import NB201Space
    from seminas.strategies import make_strategy
    from seminas.study import run_worker

    evaluator = FaultyEvaluator(NB201Space(), tmp_path / "state", {0: ["raise"], 1: ["raise"]})
    config = make_config(make_strategy("rs", batch_size=2), evaluator_spec("nb201"), 2, 0)
    db = tmp_path / "failed.db"
    study, _ = Study.create_or_open(db, config)
    with LocalExecutor(1, FaultPolicy(retries=0), start_method="fork") as executor:
        result = run_study(study, evaluator, executor=executor)
    assert result.trials == [] and result.diagnostics["stopped"]
    assert not study.complete()
    assert run_worker(study, evaluator, poll=0.01, idle_timeout=30).evaluated == 0  # no wait
    study.close()

    assert main(["show", str(db)]) == 0
    out = capsys.readouterr().out
    assert "(complete)" not in out and "(stopped)" in out
    assert "every evaluation so far failed (2; last: error: RuntimeError: injected" in out
    assert "0 of 2 done (2 failed)" in out
    assert main(["show", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "stopped" and data["stopped"].startswith("stopped: every evaluation")
    assert [s["status"] for s in data["sessions"]] == ["stopped", "finished"]

    # resumed, the study is no longer stopped while it runs: its workers keep claiming
    study = Study.open(db)
    seen = []
    with LocalExecutor(1, FaultPolicy(retries=0), start_method="fork") as executor:
        run_study(study, evaluator, executor=executor,
                  on_start=lambda backend: seen.append(study.storage.get_state("stopped")))
    study.close()
    assert seen == [None]


def test_sigterm_is_handled_like_ctrl_c(tmp_path, nb201_data):
    """SLURM and Kubernetes stop a job with SIGTERM: the study records the interruption, the
    command says how to continue and exits 143 (128 + 15), and the resume is exact."""
    args = ["--space", "nb201", "--strategy", "rs", "--budget", "60", "--seed", "1"]
    reference = tmp_path / "ref.db"
    assert main(["search", *args, "--quiet", "--study", str(reference)]) == 0
    db = tmp_path / "term.db"
    proc = subprocess.Popen(
        seminas("search", *args, "--quiet", "--study", str(db)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
        preexec_fn=default_ctrl_c,
    )
    wait_for(lambda: done_count(db) >= 10 or proc.poll() is not None, what="10 queries")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, (proc.returncode, err)
    assert "terminated (SIGTERM)" in err and f"seminas resume {db}" in err
    assert "Traceback" not in err
    assert query(db, "SELECT status FROM sessions") == [("interrupted",)]
    saved = done_count(db)
    assert 10 <= saved < 60
    assert main(["resume", str(db), "--quiet"]) == 0
    columns = "SELECT number, arch_id, status, search_metric FROM trials ORDER BY number"
    assert query(db, columns) == query(reference, columns)
    evaluated = query(db, "SELECT evaluated, replayed FROM sessions ORDER BY id")
    assert sum(e for e, _ in evaluated) == 60 and evaluated[-1][1] == saved


def test_resume_keeps_workers_external(tmp_path, nb201_data):
    """A search started with --workers-external and resumed leaves evaluation to workers."""
    db = tmp_path / "ext.db"
    first = subprocess.Popen(
        seminas("search", "--space", "nb201", "--strategy", "rs", "--budget", "20", "--quiet",
                "--study", str(db), "--workers-external"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
        preexec_fn=default_ctrl_c,
    )
    wait_for(lambda: query(db, "SELECT count(*) FROM trials") not in ([], [(0,)]),
             what="the first proposals")
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 130
    resume = subprocess.Popen(
        seminas("resume", str(db), "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
    )
    wait_for(lambda: query(db, "SELECT count(*) FROM sessions WHERE status = 'running'")
             == [(1,)], what="the resumed search")
    time.sleep(1.5)  # a resume that evaluated itself would be done by now (20 lookups)
    assert done_count(db) == 0 and resume.poll() is None
    worker = subprocess.run(
        seminas("worker", str(db), "--poll", "0.02", "--quiet"),
        capture_output=True, text=True, env=env(), timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    out, err = resume.communicate(timeout=120)
    assert resume.returncode == 0, err
    assert "evaluated by `seminas worker` processes as before" in err
    assert json.loads(worker.stdout)["evaluated"] == 20
    assert json.loads(out)["num_queries"] == 20
    by_kind = query(db, "SELECT kind, evaluated FROM sessions ORDER BY id")
    assert by_kind == [("search", 0), ("search", 0), ("worker", 20)]


# -- a worker and a study being created ----------------------------------------------------------
def test_a_worker_waits_for_a_study_being_created(tmp_path, capsys, nb201_data):
    from seminas.strategies import make_strategy

    config = make_config(make_strategy("rs"), evaluator_spec("nb201"), 5, 0)
    db = tmp_path / "new.db"
    SQLiteStorage(db, create=True).close()  # the file and its tables exist, the study not yet

    def finish_creating() -> None:
        time.sleep(1.0)
        storage = SQLiteStorage(db)
        storage.create(config, {})
        storage.set_state("complete", True)  # nothing for the worker to do then
        storage.close()

    thread = threading.Thread(target=finish_creating)
    thread.start()
    assert main(["worker", str(db), "--quiet"]) == 0  # waits up to 5 s by default
    thread.join()
    assert json.loads(capsys.readouterr().out)["evaluated"] == 0

    # a creation that really was interrupted: say so, and how to continue it
    broken = tmp_path / "broken.db"
    SQLiteStorage(broken, create=True).close()
    started = time.monotonic()
    line = one_line_error(
        capsys, ["worker", str(broken), "--wait", "0.5"], "its creation was interrupted",
        f"run the same `seminas search ... --study {broken}` again",
    )
    assert time.monotonic() - started >= 0.5 and "waited 0.5 s" in line
    rs_study(broken, budget=5)  # ... which indeed creates and runs it
    with Study.open(broken) as study:
        assert study.complete() and len(study.done()) == 5


# -- read-only studies -----------------------------------------------------------------------
READ_ONLY_SCRIPT = """
import contextlib, io, json, os, sys
from seminas.cli import main
folder = sys.argv[1]
try:
    open(os.path.join(folder, "probe"), "w")
    writable = True
except OSError:
    writable = False
results = {"writable": writable}
for name, argv in json.loads(sys.argv[2]).items():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results[name] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(results))
"""


def run_in_read_only_folder(folder: Path, commands: dict[str, list[str]]) -> dict:
    """Run ``commands`` (seminas argv lists) in one process that sees ``folder`` on a read-only
    bind mount. The kernel then refuses every write there with EROFS, for root too -- the
    tests run as root, who ignores permission bits, so ``chmod`` would prove nothing. The mount
    lives in a private mount namespace (``unshare``), so nothing outside the test sees it."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux unshare for a read-only bind mount")
    mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, str(folder),
            sys.executable, "-c", READ_ONLY_SCRIPT, str(folder), json.dumps(commands)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=300)
    if proc.returncode != 0 and "Traceback" not in proc.stderr:
        pytest.skip(f"no read-only bind mount here (unshare/mount refused: {proc.stderr.strip()})")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results.pop("writable") is False  # the folder really is read-only in there
    return results


def test_show_export_and_plot_read_a_read_only_study(tmp_path, nb201_data):
    folder = tmp_path / "readonly"
    folder.mkdir()
    db = rs_study(folder / "rs.db")
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    # a second study whose last write is still in its write-ahead log (no -shm index): as a
    # study copied while a search was writing it
    live = tmp_path / "live.db"
    shutil.copyfile(db, live)
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("UPDATE trials SET search_metric = 99.5 WHERE number = 0")
    shutil.copyfile(live, folder / "live.db")
    shutil.copyfile(f"{live}-wal", folder / "live.db-wal")
    conn.close()
    plots = tmp_path / "plots"
    results = run_in_read_only_folder(folder, {
        "show": ["show", str(db)],
        "show_json": ["show", str(db), "--json"],
        "export": ["export", str(db), "--all"],
        "export_live": ["export", str(folder / "live.db"), "--all"],
        "plot": ["plot", str(db), "--out", str(plots)],
        "plot_default": ["plot", str(db)],
        "resume": ["resume", str(db), "--quiet"],
    })
    for name in ("show", "show_json", "export", "export_live", "plot"):
        code, out, err = results[name]
        assert code == 0 and "readonly" not in err and "unable to open" not in err, (name, err)
    assert "(complete)" in results["show"][1] and "20 of 20 done" in results["show"][1]
    assert json.loads(results["show_json"][1])["queries"]["done"] == 20
    assert len(json.loads(results["export"][1])) == 20
    assert json.loads(results["export_live"][1])[0]["search_metric"] == 99.5  # the log was read
    assert (plots / "best.png").read_bytes()[:4] == b"\x89PNG"
    for name, fragment in (("plot_default", "choose another folder with --out"),
                           ("resume", "copy it to a writable place to continue it")):
        code, _, err = results[name]
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and fragment in lines[0], (name, err)
    assert sorted(p.name for p in folder.iterdir()) == ["live.db", "live.db-wal", "rs.db"]


# -- messages ----------------------------------------------------------------------------------
def test_a_damaged_study_is_one_line_naming_the_file(tmp_path, capsys, nb201_data):
    good = rs_study(tmp_path / "good.db", budget=30)
    data = good.read_bytes()
    integrity_reports = 0
    for page in range(1, len(data) // 4096):
        damaged = bytearray(data)
        damaged[page * 4096 : page * 4096 + 8] = bytes([13, 0, 0, 0, 200, 0, 0, 0])
        path = tmp_path / f"damaged-{page}.db"
        path.write_bytes(bytes(damaged))
        code = main(["show", str(path)])
        err = capsys.readouterr().err
        if code == 0:
            continue  # a page whose header the show does not need
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert f"study {path} is damaged (" in lines[0]
        assert lines[0].endswith("restore it from a copy, or start a new study file")
        assert "***" not in lines[0]
        integrity_reports += "free space corruption" in lines[0] or "never used" in lines[0]
    assert integrity_reports >= 3  # SQLite's several-line integrity reports were among them


def test_a_changed_config_lists_what_matters_first_and_briefly(tmp_path, capsys, nb201_data):
    from seminas.strategies import make_strategy

    db = tmp_path / "s.db"
    strategy = make_strategy("seminas", **TINY_SEMINAS)
    Study.create_or_open(db, make_config(strategy, evaluator_spec("nb201"), 40, 0))[0].close()
    base = ["search", "--space", "nb201", "--quiet", "--study", str(db)]
    line = one_line_error(
        capsys, [*base, "--strategy", "rs", "--budget", "40"],
        'another config: strategy "seminas" in the study, "rs" now.', f"seminas resume {db}",
    )
    short = line.replace(str(db), "FILE")  # what the user reads besides the file's name
    assert len(short) < 200 and "options." not in line and "(unset)" not in line, short
    sets = [a for k in ("initial", "per_iteration", "top_k") for a in ("--set", f"{k}=20")]
    line = one_line_error(
        capsys, [*base, "--strategy", "seminas", "--budget", "60", "--seed", "3", *sets],
        "another config: budget 40 in the study, 60 now; seed 0 in the study, 3 now; options.",
        "; and ",
    )
    assert len(line.replace(str(db), "FILE")) < 350, line


@pytest.mark.parametrize("argv", [["show"], ["export", "--all"], ["show", "--json"]])
def test_a_closed_pipe_ends_quietly(tmp_path, argv, nb201_data):
    """``seminas show FILE | head -1``: the reader goes away; exit 0 and nothing on stderr."""
    db = rs_study(tmp_path / "p.db")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails
    try:
        proc = subprocess.run(
            seminas(argv[0], str(db), *argv[1:]), stdout=write, stderr=subprocess.PIPE,
            text=True, env=env(), timeout=120,
        )
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == "", (proc.returncode, proc.stderr)


def test_plot_of_a_seminas_study_before_its_first_prediction(tmp_path, capsys, nb201_data):
    from seminas.strategies import make_strategy

    strategy = make_strategy("seminas", **TINY_SEMINAS)
    db = tmp_path / "early.db"
    study, _ = Study.create_or_open(db, make_config(strategy, evaluator_spec("nb201"), 40, 0))

    def stop_after_the_first_iteration(ctx):
        if len(ctx.trials) == TINY_SEMINAS["initial"]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(study, on_event=stop_after_the_first_iteration)
    study.close()
    assert main(["plot", str(db), "--out", str(tmp_path / "plots")]) == 0
    captured = capsys.readouterr()
    assert [Path(p).name for p in captured.out.split()] == ["best.png"]
    assert "does not predict accuracy" not in captured.err
    assert "no predictions yet: 10 of 40 queries are finished" in captured.err
    assert "plot again later" in captured.err


def test_random_corruption_never_gives_more_than_one_line(tmp_path, capsys, nb201_data):
    good = rs_study(tmp_path / "g.db", budget=30)
    rng = random.Random(5)
    data = bytearray(good.read_bytes())
    for offset in range(4096, len(data), 1499):
        data[offset : offset + 32] = bytes(rng.getrandbits(8) for _ in range(32))
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    for command in (["show"], ["export"], ["resume", "--quiet"], ["worker"]):
        code = main([command[0], str(bad), *command[1:]])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(bad) in err, err
