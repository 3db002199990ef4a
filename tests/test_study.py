"""Studies: exact resume after SIGKILL, several workers on one file, clear errors, reports.

Searches run as real ``seminas`` processes that are killed with SIGKILL at random points; the
resumed study must equal an uninterrupted one query for query. Kept small (the whole file runs
in well under a minute on two busy cores): tiny SemiNAS settings, rs/re elsewhere.

The kill, Ctrl-C, several-worker and claim tests run twice: on an SQLite file and on a real
PostgreSQL server that the test session starts (``pg_server`` in conftest.py); the study read
back from either must equal the same uninterrupted SQLite reference.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import need

from seminas.cli import main
from seminas.study import Study, StudyError, evaluator_spec, make_config, run_study, run_worker
from seminas.study.storage import SQLiteStorage, open_storage

TINY = {
    "initial": 10,
    "per_iteration": 10,
    "unlabeled": 100,
    "pretrain_epochs": 10,
    "epochs": 2,
    "top_k": 10,
}
SETS = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={v}")]
SEMINAS_ARGS = ["--space", "nb201", "--strategy", "seminas", "--budget", "40", "--seed", "0", *SETS]
RE_ARGS = ["--space", "nb201", "--strategy", "re", "--budget", "1500", "--seed", "1"]
COLUMNS = "number, arch_id, iteration, status, search_metric, report_metric, predicted"


def env() -> dict[str, str]:
    """The subprocesses' environment, read when called (so it has the test's cache dir)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def nb201_data():
    for name in ("12ep.csv", "test-200ep.csv", "cifar10-valid-200ep.csv"):
        need(f"nasbench201/{name}")


def seminas(*argv: str) -> list[str]:
    return [sys.executable, "-m", "seminas.cli", *argv]


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    """Where a test keeps its studies: ``where(name)`` is an SQLite file in ``tmp_path``, or
    the study ``name`` in a new database of the session's PostgreSQL server."""
    if request.param == "sqlite":
        return lambda name: tmp_path / f"{name}.db"
    url = request.getfixturevalue("pg_database")
    return lambda name: f"{url}?study={name}"


def on_server(db) -> bool:
    return str(db).startswith("postgresql")


_SERVER_CONNECTIONS: dict = {}  # the helpers' own connections, by database URL


def query(db, sql: str) -> list[tuple]:
    """Rows of ``sql`` read straight from a study, not through seminas: from its SQLite file,
    or from its PostgreSQL database, where ``trials`` and ``sessions`` then name this study's
    rows of the tables it shares with other studies."""
    if not on_server(db):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    url, _, name = str(db).partition("?study=")
    conn = _SERVER_CONNECTIONS.get(url)
    if conn is None or conn.closed:
        conn = _SERVER_CONNECTIONS[url] = psycopg.connect(url, autocommit=True)
    scoped = (
        "WITH s AS (SELECT id FROM seminas_studies WHERE name = %(name)s), "
        "trials AS (SELECT * FROM seminas_trials WHERE study IN (SELECT id FROM s)), "
        "sessions AS (SELECT * FROM seminas_sessions WHERE study IN (SELECT id FROM s)) "
    )
    return [tuple(r) for r in conn.execute(scoped + sql, {"name": name}).fetchall()]


def rows(path: Path) -> list[tuple]:
    return query(path, f"SELECT {COLUMNS} FROM trials ORDER BY number")


def done_count(path: Path) -> int:
    if on_server(path):
        import psycopg

        try:
            return query(path, "SELECT count(*) FROM trials WHERE status = 'done'")[0][0]
        except psycopg.Error:
            return 0  # not created yet
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM trials WHERE status = 'done'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created yet


def sessions(path: Path) -> list[tuple]:
    return query(path, "SELECT kind, status, evaluated, replayed FROM sessions ORDER BY id")


def default_ctrl_c() -> None:
    """Give the child the default Ctrl-C handling: a test run in the background of a
    non-interactive shell (CI, ``pytest &``) inherits SIGINT ignored, and Python then keeps it
    ignored, as any Unix program should."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_until(argv: list[str], db: Path, target: int, rng: random.Random, sig=signal.SIGKILL):
    """Start ``argv``, send ``sig`` once ``target`` queries are on disk (plus a random few ms);
    returns (returncode, stderr)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), text=True,
        preexec_fn=default_ctrl_c,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if done_count(db) >= target:
            time.sleep(rng.uniform(0.0, 0.05))
            break
        time.sleep(0.003)
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def in_process_threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    return lambda: torch.set_num_threads(old)


@pytest.fixture(scope="module")
def seminas_reference(nb201_data, tmp_path_factory):
    """An uninterrupted tiny SemiNAS study, run in this process through the CLI."""
    path = tmp_path_factory.mktemp("ref") / "seminas.db"
    restore = in_process_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    try:
        assert main(["search", *SEMINAS_ARGS, "--study", str(path), "--quiet", "--json"]) == 0
    finally:
        restore()
    return path


# -- exact resume after SIGKILL ------------------------------------------------------------
def _kill_and_resume(db, args: list[str], reference: Path, seed: int, signals):
    """Interrupt a search once per signal, at random points, continue it each time; the
    final study at ``db`` must equal the uninterrupted ``reference``."""
    budget = int(args[args.index("--budget") + 1])
    rng = random.Random(seed)
    # one random point per stretch of the first half of the budget: the second half leaves
    # a fast search (RE: ~5 ms a query) time to receive the signal before it finishes
    stretch = (budget // 2) / len(signals)
    edges = [1 + round(i * stretch) for i in range(len(signals) + 1)]
    targets = [rng.randrange(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]
    first = seminas("search", *args, "--study", str(db), "--quiet")
    progress = []
    for i, (target, sig) in enumerate(zip(targets, signals, strict=True)):
        # alternate the two ways of continuing: the same command again, and `seminas resume`
        argv = first if i % 2 == 0 else seminas("resume", str(db), "--quiet")
        code, err = run_until(argv, db, target, rng, sig)
        if sig == signal.SIGINT:  # Ctrl-C: exit 130 and a hint how to continue
            assert code == 130, (code, err)
            assert f"seminas resume {db}" in err and "Traceback" not in err
        else:
            assert code == -signal.SIGKILL, (code, err)
        progress.append(done_count(db))
    out = subprocess.run(
        seminas("resume", str(db), "--quiet", "--json"),
        capture_output=True, text=True, env=env(), timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)

    assert progress == sorted(progress) and progress[-1] < budget, (targets, progress)
    assert rows(db) == rows(reference)  # same evaluations, same order, same values
    ids = [t["arch_id"] for t in result["trials"]]
    assert len(ids) == len(set(ids)) == budget
    assert [r[1] for r in rows(db)] == ids
    with Study.open(reference) as ref:
        assert result["best"]["arch_id"] == ref.best()[0].arch_id
    # no finished evaluation was repeated: evaluations summed over all sessions = the budget
    runs = sessions(db)
    assert sum(s[2] for s in runs) == budget
    assert runs[-1][1] == "finished"
    assert all(s[1] in ("killed", "interrupted") for s in runs[:-1])
    assert runs[-1][3] == progress[-1]  # the last session replayed exactly what was on disk


def test_seminas_survives_sigkill_at_random_points(where, seminas_reference):
    _kill_and_resume(
        where("killed"), SEMINAS_ARGS, seminas_reference, seed=7, signals=[signal.SIGKILL] * 2
    )


def test_evolution_survives_sigkill_and_ctrl_c(tmp_path, where, nb201_data):
    reference = tmp_path / "ref.db"
    assert main(["search", *RE_ARGS, "--study", str(reference), "--quiet"]) == 0
    _kill_and_resume(
        where("killed"), RE_ARGS, reference, seed=11, signals=[signal.SIGKILL, signal.SIGINT]
    )


# -- several workers ---------------------------------------------------------------------------
def test_two_workers_and_a_dead_one_share_a_study(tmp_path, where, nb201_data):
    from seminas.strategies import make_strategy

    strategy = make_strategy("rs", None, batch_size=10)
    spec = evaluator_spec("nb201", dataset="cifar10", fidelity=200)
    config = make_config(strategy, spec, 30, 5)
    reference = tmp_path / "ref.db"
    with Study.create_or_open(reference, config)[0] as study:
        run_study(study)
    db = where("shared")
    Study.create_or_open(db, config)[0].close()

    # the search proposes and waits; a first worker takes one query and dies holding it
    search = subprocess.Popen(
        seminas("resume", str(db), "--workers-external", "--quiet", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
    )
    doomed = subprocess.Popen(
        seminas("worker", str(db), "--simulate-time", "1", "--poll", "0.02", "--quiet"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if query(db, "SELECT count(*) FROM trials WHERE status = 'running'")[0][0]:
            break
        time.sleep(0.01)
    doomed.kill()
    doomed.wait()
    workers = [
        subprocess.Popen(
            seminas("worker", str(db), "--simulate-time", "5e-5", "--poll", "0.02", "--quiet"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
        )
        for _ in range(2)
    ]
    stats = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        stats.append(json.loads(out))
    out, err = search.communicate(timeout=120)
    assert search.returncode == 0, err

    assert rows(db) == rows(reference)  # nothing lost, same search as one process
    assert sum(s["evaluated"] for s in stats) == 30  # nothing done twice...
    assert all(s["evaluated"] > 0 and s["dropped"] == 0 for s in stats)  # ...and both worked
    attempts = [a for (a,) in query(db, "SELECT attempts FROM trials ORDER BY number")]
    finishers = {w for (w,) in query(db, "SELECT DISTINCT worker FROM trials")}
    assert sorted(attempts)[-1] == 2 and attempts.count(2) == 1  # the dead worker's query
    assert finishers == {s["worker"] for s in stats}
    assert json.loads(out)["num_queries"] == 30


def test_the_nb101_run_choice_survives_resume(tmp_path):
    """NB101 draws one of three runs per query: resumed studies draw the same runs."""
    from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101
    from seminas.strategies import make_strategy, run_search

    path = tmp_path / "nasbench_only108.tfrecord"
    write_synthetic_nb101(path, synthetic_specs(300, seed=0), seed=0)
    strategy = make_strategy("rs", None, batch_size=8)
    spec = evaluator_spec("nb101", nb101_file=path, epochs=108, seed=3)
    config = make_config(strategy, spec, 40, 3)
    db = tmp_path / "nb101.db"
    with Study.create_or_open(db, config)[0] as study:
        evaluator = study.evaluator()
        reference = run_search(strategy, evaluator, 40, 3)

        def stop_at_17(ctx):
            if len(ctx.trials) == 17:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_study(study, evaluator, on_event=stop_at_17)
    with Study.open(db) as study:
        assert len(study.done()) == 17
        resumed = run_study(study, study.evaluator())
        stored = [t.extra["run"] for t in study.done()]
    assert resumed.to_dict()["trials"] == reference.to_dict()["trials"]
    assert len(set(stored)) > 1  # the runs really differ between queries


def test_claims_are_exclusive_and_only_the_holder_may_answer(where):
    from seminas.benchmarks.base import Record
    from seminas.study import TrialRow

    storage = open_storage(where("s"), create=True)
    assert storage.create({"x": 1}, {}) and not storage.create({"x": 2}, {})
    proposed = [TrialRow(i, f"id{i}", f"arch{i}", [1, 2], 0) for i in range(3)]
    storage.propose(proposed)
    record = Record("id0", 90.0, 91.0, 10.0)
    a, b = storage.claim("A", 60), storage.claim("B", 60)
    assert (a.number, b.number) == (0, 1)
    assert not storage.finish(0, "B", record, None)  # not B's claim
    assert storage.finish(0, "A", record, None)
    assert not storage.finish(0, "A", record, None)  # answered once only
    stale = storage.claim("C", -1.0)  # a claim whose lease has already run out...
    taken = storage.claim("D", 60)  # ...is taken over
    assert stale.number == taken.number == 2 and taken.attempts == 2
    assert not storage.finish(2, "C", record, None) and storage.finish(2, "D", record, None)
    assert storage.release(["B"]) == 1 and storage.claim("E", 60).number == 1
    again, _ = storage.propose([TrialRow(0, "other", "x", [], 0)])  # stored rows win
    assert again[0].arch_id == "id0" and again[0].record() == record
    assert storage.counts() == {"pending": 0, "running": 1, "done": 2, "failed": 0}
    storage.close()


# -- refusing what cannot be continued ------------------------------------------------------------
def one_line_error(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def test_changed_config_is_refused_naming_the_differences(tmp_path, capsys, nb201_data):
    db = tmp_path / "rs.db"
    base = ["search", "--space", "nb201", "--strategy", "rs", "--seed", "2", "--quiet"]
    assert main([*base, "--budget", "20", "--study", str(db)]) == 0
    capsys.readouterr()
    line = one_line_error(
        capsys,
        [*base, "--budget", "30", "--set", "batch_size=5", "--study", str(db)],
        "budget 20 in the study, 30 now",
    )
    assert "options.batch_size 10 in the study, 5 now" in line
    assert f"seminas resume {db}" in line
    # the same config continues (here: a complete study, replayed without any evaluation)
    assert main([*base, "--budget", "20", "--study", str(db)]) == 0
    assert [s[2] for s in sessions(db)] == [20, 0]


def test_journal_mode_for_network_disks(tmp_path, nb201_data):
    args = ["search", "--space", "nb201", "--strategy", "rs", "--budget", "5", "--quiet"]
    for mode in ("wal", "delete"):
        db = tmp_path / f"{mode}.db"
        assert main([*args, "--study", str(db), "--study-journal", mode]) == 0
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == mode


def test_bad_study_files_give_one_line(tmp_path, capsys, nb201_data):
    one_line_error(capsys, ["show", str(tmp_path / "missing.db")], "no study file")
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n")
    one_line_error(capsys, ["resume", str(text)], "not an SQLite database")
    one_line_error(
        capsys,
        ["search", "--space", "nb201", "--strategy", "rs", "--study", str(text)],
        "not an SQLite database",
    )
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE trials (x)")
    one_line_error(capsys, ["export", str(foreign)], "another program")
    empty = tmp_path / "empty.db"
    empty.touch()
    one_line_error(capsys, ["worker", str(empty)], "empty database")
    one_line_error(capsys, ["plot", str(tmp_path)], "is a directory")

    good = tmp_path / "good.db"
    args = ["search", "--space", "nb201", "--strategy", "rs", "--budget", "30", "--quiet"]
    assert main([*args, "--study", str(good)]) == 0
    capsys.readouterr()
    data = bytearray(good.read_bytes())
    assert not Path(f"{good}-wal").exists()  # the last connection folded the WAL back in
    rng = random.Random(3)
    for offset in range(4096, len(data), 997):  # garbage over every page but the header
        data[offset : offset + 64] = bytes(rng.getrandbits(8) for _ in range(64))
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(bytes(data))
    one_line_error(capsys, ["show", str(corrupt)], "damaged")
    one_line_error(capsys, ["resume", str(corrupt)], "damaged")


@pytest.mark.parametrize(
    ("version", "fragment"), [(0, "older seminas (study format 0)"), (99, "newer seminas")]
)
def test_other_format_versions_are_refused_clearly(tmp_path, capsys, version, fragment):
    db = tmp_path / "v.db"
    storage = SQLiteStorage(db, create=True)
    storage.create({"strategy": "rs"}, {})
    storage.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),))
    with pytest.raises(StudyError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Study.open(db)
    one_line_error(capsys, ["show", str(db)], fragment)


def test_a_diverged_study_is_refused(tmp_path, capsys, nb201_data):
    db = tmp_path / "d.db"
    args = ["search", "--space", "nb201", "--strategy", "rs", "--budget", "20", "--quiet"]
    assert main([*args, "--study", str(db)]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE trials SET arch_id = 'something else' WHERE number = 12")
    capsys.readouterr()
    one_line_error(capsys, ["resume", str(db), "--quiet"], "diverged: query 13 is something else")


# -- show, plot, export ----------------------------------------------------------------------------
def test_show_plot_export(seminas_reference, tmp_path, capsys):
    path = str(seminas_reference)
    assert main(["show", path]) == 0
    out = capsys.readouterr().out
    for fragment in ("(complete)", "40 of 40 done", "best architectures", "pre-training",
                     "pseudo-labeling", "generation", "evaluation", "Kendall tau"):
        assert fragment in out, fragment

    assert main(["show", path, "--json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "complete" and data["queries"]["done"] == 40
    assert len(data["best"]) == 3
    assert data["best"][0]["search_metric"] >= data["best"][1]["search_metric"]
    assert [p["iteration"] for p in data["predictor"]] == [1, 2, 3]
    assert set(data["phase_seconds"]) >= {"pre-training", "pseudo-labeling", "generation"}

    assert main(["export", path, "--best", "--top", "2"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert [b["arch"] for b in best] == [b["arch"] for b in data["best"][:2]]
    assert best[0]["arch"].startswith("|") and best[0]["arch"].count("+") == 2  # NB201 string
    assert main(["export", path, "--all"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 40

    assert main(["plot", path, "--out", str(tmp_path / "plots")]) == 0
    written = capsys.readouterr().out.split()
    assert [Path(p).name for p in written] == ["best.png", "predictions.png"]
    for p in written:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_study_keeps_checkpoints_and_rng_states(seminas_reference):
    with Study.open(seminas_reference) as study:
        marks = study.storage.checkpoints()
        assert [m[0] for m in marks] == [0, 10, 20, 30]  # one per batch boundary
        assert all(has_state for *_, has_state in marks[1:])  # the controller after training
        final = study.storage.load_checkpoint()  # the latest with a state: the final controller
        assert final.number == 30 and "controller" in final.state
        assert final.rng["numpy"]["bit_generator"] == "PCG64"
        trials = study.done()
        assert all(t.encoding and t.started and t.finished >= t.started for t in trials)
        assert all((t.predicted is None) == (t.iteration == 0) for t in trials)


def test_worker_waits_nothing_on_a_complete_study(seminas_reference, capsys):
    with Study.open(seminas_reference) as study:
        stats = run_worker(study, poll=0.01)
    assert stats.evaluated == 0
