"""Studies on a real PostgreSQL server, which the test session starts and stops itself
(``pg_server`` in conftest.py): what only a server database has -- URLs, several studies in
one database, claims raced by many connections at once, a connection lost mid-search (the
server restarted, or gone longer than the search waits) -- and the contract's refusals, each
in one line. The kill -9, Ctrl-C, several-worker and claim tests of test_study.py run on
PostgreSQL too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from conftest import need
from pg_server import USER, free_port

from seminas.benchmarks.base import Record
from seminas.cli import main
from seminas.study import Study, StudyError, evaluator_spec, make_config
from seminas.study.storage import StudyNotReady, TrialRow, open_storage

RE_ARGS = ["--space", "nb201", "--strategy", "re", "--budget", "300", "--seed", "4"]
RS_ARGS = ["--space", "nb201", "--strategy", "rs", "--budget", "10", "--quiet"]
COLUMNS = "number, arch_id, iteration, status, search_metric, report_metric, predicted"


@pytest.fixture(scope="module")
def nb201_data():
    for name in ("12ep.csv", "test-200ep.csv", "cifar10-valid-200ep.csv"):
        need(f"nasbench201/{name}")


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def seminas(*argv: str) -> list[str]:
    return [sys.executable, "-m", "seminas.cli", *argv]


def default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def query(location: str, sql: str) -> list[tuple]:
    """``sql`` over one study's rows, read straight from the server (not through seminas):
    ``trials`` and ``sessions`` are that study's rows of the shared tables; [] while the
    study does not exist yet, or the server is down."""
    url, _, name = location.partition("?")
    name = dict(p.split("=", 1) for p in name.split("&") if p).get("study", "default")
    scoped = (
        "WITH s AS (SELECT id FROM seminas_studies WHERE name = %(name)s), "
        "trials AS (SELECT * FROM seminas_trials WHERE study IN (SELECT id FROM s)), "
        "sessions AS (SELECT * FROM seminas_sessions WHERE study IN (SELECT id FROM s)) "
    )
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            return [tuple(r) for r in conn.execute(scoped + sql, {"name": name}).fetchall()]
    except psycopg.Error:
        return []


def done_count(location: str) -> int:
    got = query(location, "SELECT count(*) FROM trials WHERE status = 'done'")
    return got[0][0] if got else 0


def one_line_error(capsys, argv, *fragments) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def re_reference(nb201_data, tmp_path_factory):
    """The uninterrupted search, in an SQLite file: what every server study must equal."""
    path = tmp_path_factory.mktemp("ref") / "re.db"
    assert main(["search", *RE_ARGS, "--study", str(path), "--quiet"]) == 0
    with Study.open(path) as study:
        return [
            (
                t.number,
                t.arch_id,
                t.iteration,
                t.status,
                t.search_metric,
                t.report_metric,
                t.predicted,
            )
            for t in study.storage.trials()
        ]


# -- URLs and several studies in one database -------------------------------------------------
def test_urls_name_studies_that_share_one_database(pg_database, capsys, nb201_data):
    a, b = f"{pg_database}?study=a", pg_database.replace("postgresql://", "postgresql+psycopg://")
    b += "?study=b"
    assert main(["search", *RS_ARGS, "--seed", "1", "--study", a]) == 0
    assert main(["search", *RS_ARGS, "--seed", "2", "--study", b]) == 0
    assert main(["search", *RS_ARGS, "--seed", "3", "--study", pg_database]) == 0  # "default"
    capsys.readouterr()
    found = {}
    for location in (a, b, pg_database):
        assert main(["export", location, "--all"]) == 0
        found[location] = [t["arch_id"] for t in json.loads(capsys.readouterr().out)]
    assert all(len(ids) == 10 for ids in found.values())
    assert len({tuple(ids) for ids in found.values()}) == 3  # three searches, kept apart
    names = query(pg_database, "SELECT name FROM seminas_studies ORDER BY name")
    assert names == [("a",), ("b",), ("default",)]

    # the short scheme some services print is the same database; the same config continues
    again = a.replace("postgresql://", "postgres://")
    assert main(["search", *RS_ARGS, "--seed", "1", "--study", again]) == 0
    assert query(a, "SELECT kind, evaluated FROM sessions ORDER BY id") == [
        ("search", 10),
        ("search", 0),
    ]
    capsys.readouterr()
    line = one_line_error(
        capsys,
        ["search", *RS_ARGS, "--seed", "9", "--study", a],
        "seed 1 in the study, 9 now",
        f"seminas resume {a}",
    )
    assert "?study=a" in line
    assert main(["show", b]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 done" in out and "(complete)" in out and "seed 2" in out


def test_bad_urls_databases_and_layouts_give_one_line(pg_server, pg_database, capsys):
    port = pg_server.port
    one_line_error(
        capsys,
        ["show", f"{pg_server.url('nosuchdb')}?study=x"],
        "does not exist",
        "createdb nosuchdb",
    )
    one_line_error(capsys, ["show", f"{pg_database}?study=x"], "holds no seminas studies")
    one_line_error(capsys, ["show", f"postgresql://postgres@127.0.0.1:{port}"], "names no database")
    one_line_error(
        capsys,
        ["show", f"{pg_database}?study=x&reconnect=soon"],
        "reconnect=soon is not a number of seconds",
    )
    one_line_error(capsys, ["show", "mysql://u@db.example/x"], "no study storage for mysql://")
    one_line_error(capsys, ["show", "postgresql+asyncpg://u@db.example/x"], "through psycopg 3")
    one_line_error(
        capsys,
        ["show", f"postgresql://nosuchrole@127.0.0.1:{port}/x"],
        "the server refused the login",
        "~/.pgpass or PGPASSWORD",
    )
    with pg_server.connect() as conn:  # a login that may not create tables in that database
        conn.execute("CREATE ROLE limited LOGIN")
    limited = pg_database.replace(f"://{USER}@", "://limited@")
    one_line_error(
        capsys,
        ["search", *RS_ARGS, "--study", f"{limited}?study=x"],
        "the database user lacks a privilege",
        "createdb -O USER",
    )
    closed = free_port()  # nothing listens there
    one_line_error(
        capsys,
        ["show", f"postgresql://postgres@127.0.0.1:{closed}/x"],
        "cannot connect to database x on 127.0.0.1",
    )

    storage = open_storage(f"{pg_database}?study=here", create=True)
    storage.create({"strategy": "rs"}, {})
    storage.close()
    one_line_error(
        capsys, ["show", f"{pg_database}?study=elsewhere"], "holds no study 'elsewhere' yet"
    )
    started = time.monotonic()
    line = one_line_error(
        capsys,
        ["worker", f"{pg_database}?study=elsewhere", "--wait", "0.5"],
        "holds no study 'elsewhere' yet",
    )
    assert "waited 0.5 s" in line and time.monotonic() - started >= 0.5

    with pg_server.connect(pg_database.rsplit("/", 1)[1]) as conn:
        for version, fragment in ((99, "newer seminas"), (0, "older seminas (study format 0)")):
            conn.execute(
                "UPDATE seminas_meta SET value = %s WHERE key = 'format_version'", (str(version),)
            )
            one_line_error(capsys, ["show", f"{pg_database}?study=here"], fragment)
        conn.execute("UPDATE seminas_meta SET value = '1' WHERE key = 'format_version'")
        conn.execute("UPDATE seminas_meta SET value = 'someone else' WHERE key = 'app'")
        one_line_error(capsys, ["show", f"{pg_database}?study=here"], "another program")
        conn.execute("DROP TABLE seminas_meta")
        one_line_error(
            capsys,
            [
                "search",
                "--space",
                "nb201",
                "--strategy",
                "rs",
                "--study",
                f"{pg_database}?study=new",
            ],
            "without their seminas_meta",
        )


def test_a_worker_waits_for_a_study_being_created(pg_database, capsys, nb201_data):
    from seminas.strategies import make_strategy

    location = f"{pg_database}?study=late"
    config = make_config(make_strategy("rs"), evaluator_spec("nb201"), 5, 0)
    # the database is empty: not even the seminas tables exist until the search creates them

    def create_later() -> None:
        time.sleep(1.0)
        storage = open_storage(location, create=True)
        storage.create(config, {})
        storage.set_state("complete", True)  # nothing for the worker to do then
        storage.close()

    thread = threading.Thread(target=create_later)
    thread.start()
    assert main(["worker", location, "--quiet"]) == 0  # waits up to 5 s by default
    thread.join()
    assert json.loads(capsys.readouterr().out)["evaluated"] == 0


def test_racing_connections_claim_every_query_exactly_once(pg_database):
    """Eight connections claim and answer as fast as they can: SKIP LOCKED hands each
    pending query to one of them, none waits for another, none gets one twice."""
    location = f"{pg_database}?study=race"
    storage = open_storage(location, create=True)
    storage.create({}, {})
    storage.propose([TrialRow(i, f"id{i}", f"a{i}", [i], 0) for i in range(300)])
    got: dict[str, list[int]] = {}
    start = threading.Barrier(8)

    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine = got.setdefault(name, [])
        own = open_storage(location)
        try:
            start.wait()
            while (row := own.claim(name, 60)) is not None:
                if not own.finish(row.number, name, Record(row.arch_id, 1.0, 1.0), None):
                    raise AssertionError(f"{name} lost its claim of {row.number}")
                mine.append(row.number)
        except BaseException as exc:  # a thread's failure must fail the test
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    claimed = sorted(n for mine in got.values() for n in mine)
    assert claimed == list(range(300))  # each once, none lost
    assert sum(1 for mine in got.values() if mine) >= 2  # they really raced
    assert storage.counts() == {"pending": 0, "running": 0, "done": 300, "failed": 0}
    assert {t.attempts for t in storage.trials()} == {1}
    storage.close()


def test_failures_given_up_stay_failed_and_the_rest_are_retried(pg_database):
    """fail(final=True) is part of the search's history; other failures go back to pending on
    resume; a retried attempt is counted (the server's JSON, read as TrialRow.gave_up does)."""
    storage = open_storage(f"{pg_database}?study=failures", create=True)
    storage.create({}, {})
    storage.propose([TrialRow(i, f"id{i}", f"a{i}", [i], 0) for i in range(3)])
    rows = [storage.claim("A", 60) for _ in range(3)]
    assert [r.number for r in rows] == [0, 1, 2]
    assert storage.note_failure(0, "A", "OOM") and not storage.note_failure(0, "B", "x")
    attempts = [{"kind": "crash", "error": "OOM"}]
    assert storage.fail(0, "A", "gave up", final=True, attempts=attempts)
    assert storage.fail(1, "A", "transient")
    assert not storage.fail(2, "B", "not B's claim")
    first = storage.trial(0)
    assert first.gave_up and first.attempts == 2 and first.extra["attempts"] == attempts
    assert storage.retry_failed() == 1
    assert [t.status for t in storage.trials()] == ["failed", "pending", "running"]
    assert storage.claimants() == ["A"] and storage.release(["A"]) == 1
    assert storage.counts() == {"pending": 2, "running": 0, "done": 0, "failed": 1}
    storage.close()


def test_a_read_only_study_is_shown_exported_and_plotted(
    pg_database, tmp_path, monkeypatch, capsys, nb201_data
):
    location = f"{pg_database}?study=ro"
    assert main(["search", *RS_ARGS, "--study", location]) == 0
    with Study.open(location, read_only=True) as study:
        assert len(study.done()) == 10 and study.complete()
        with pytest.raises(StudyError, match="opened read-only"):
            study.storage.set_state("complete", False)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["plot", location]) == 0  # no file to put the plots beside: the study's name
    assert capsys.readouterr().out.split() == ["ro-plots/best.png"]
    assert (tmp_path / "ro-plots" / "best.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(StudyNotReady):
        Study.open(f"{pg_database}?study=absent", read_only=True)


# -- a lost connection mid-search -------------------------------------------------------------
def _start_search(location: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        seminas("search", *RE_ARGS, "--study", location, "--quiet", "--json", *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        preexec_fn=default_ctrl_c,
    )


def _wait_done(location: str, proc: subprocess.Popen, target: int) -> None:
    deadline = time.monotonic() + 180
    while done_count(location) < target:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the search made no progress"
        time.sleep(0.05)


def test_a_search_survives_a_restart_stops_in_an_outage_and_resumes_exactly(
    pg_server, pg_database, re_reference
):
    """A restart cuts every connection for a moment: the search reconnects and goes on. Then
    the server stays away longer than the URL's reconnect=2: the search stops in one line,
    keeping what it committed, and a resume ends with the uninterrupted search's study."""
    location = f"{pg_database}?study=outage&reconnect=2"
    proc = _start_search(location)
    _wait_done(location, proc, 40)
    pg_server.restart()
    after_restart = done_count(location)
    _wait_done(location, proc, after_restart + 40)  # it went on after the restart
    pg_server.stop()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        pg_server.start()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert err.count("lost the connection to database") >= 2  # the restart, then the outage
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "could not get it back within 2 s" in last, err
    assert f"continue with `seminas resume {location}`" in last
    saved = done_count(location)
    assert after_restart < saved < 300

    resumed = subprocess.run(
        seminas("resume", location, "--quiet", "--json"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["num_queries"] == 300
    assert query(location, f"SELECT {COLUMNS} FROM trials ORDER BY number") == re_reference
    runs = query(location, "SELECT status, evaluated, replayed FROM sessions ORDER BY id")
    # the first session could not book its end (the server was gone): found dead on resume
    assert [r[0] for r in runs] == ["killed", "finished"]
    assert sum(r[1] for r in runs) == 300  # nothing lost, nothing evaluated twice
    assert runs[1][2] == saved  # the resume replayed exactly what the first one stored


def test_workers_survive_a_server_restart(pg_server, pg_database, nb201_data, tmp_path):
    from seminas.strategies import make_strategy

    config = make_config(make_strategy("rs", None, batch_size=10), evaluator_spec("nb201"), 60, 8)
    reference = tmp_path / "ref.db"
    with Study.create_or_open(reference, config)[0] as study:
        from seminas.study import run_study

        run_study(study)
        expected = [(t.number, t.arch_id, t.search_metric) for t in study.storage.trials()]
    location = f"{pg_database}?study=shared"
    Study.create_or_open(location, config)[0].close()
    search = subprocess.Popen(
        seminas("resume", location, "--workers-external", "--quiet", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    workers = [
        subprocess.Popen(
            seminas("worker", location, "--simulate-time", "5e-5", "--poll", "0.02", "--quiet"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for _ in range(2)
    ]
    _wait_done(location, search, 15)
    pg_server.restart()
    assert done_count(location) < 60, "the workers finished before the restart"
    stats = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        stats.append(json.loads(out))
    out, err = search.communicate(timeout=300)
    assert search.returncode == 0, err
    got = query(location, "SELECT number, arch_id, search_metric FROM trials ORDER BY number")
    assert got == expected
    assert sum(s["evaluated"] for s in stats) == 60 and all(s["dropped"] == 0 for s in stats)
