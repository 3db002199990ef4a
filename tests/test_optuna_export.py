"""``seminas export STUDY --optuna URL``: a seminas study written into an Optuna storage.

Everything is real: studies made by the real CLI and Study API on NAS-Bench-201 (the embedded
table), written into real Optuna storages (an SQLite file, the session's PostgreSQL server), read
back through Optuna's own API and served by the real optuna-dashboard. Kept small: budgets of
10-30 queries of regularized evolution, which costs nothing to run.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from seminas.benchmarks.nb201 import NB201Benchmark
from seminas.cli import main
from seminas.integrations.optuna_export import (
    QUERY_ATTR,
    STUDY_ATTR,
    OptunaMirror,
    export_to_optuna,
    exported_queries,
)
from seminas.spaces.nb201 import EDGES, OPS, NB201Space
from seminas.strategies import make_strategy
from seminas.study import Study, TrialRow, evaluator_spec, make_config, run_worker

EDGE_NAMES = [f"{target}<-{source}" for source, target in EDGES]  # as nb201_objective names them
RE = ["--space", "nb201", "--strategy", "re", "--quiet"]


def seminas(*argv: str) -> list[str]:
    return [sys.executable, "-m", "seminas.cli", *argv]


def default_ctrl_c() -> None:
    """The child's Ctrl-C as by default (a test run in the background inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def search(path: Path | str, budget: int, seed: int = 0) -> str:
    """A finished study made by the real CLI, in this process."""
    argv = ["search", *RE, "--budget", str(budget), "--seed", str(seed), "--study", str(path)]
    with contextlib.redirect_stdout(io.StringIO()):  # its summary is not what a test reads
        assert main(argv) == 0
    return str(path)


def summary_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


def one_line_error(capsys, argv: list[str], *fragments: str) -> str:
    """Exit 2 and one ``error:`` line on stderr, from main or from argparse, never a traceback."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal (a bad --interval)
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def assert_mirrors(ostudy: optuna.Study, study_path: str) -> None:
    """The Optuna study holds exactly the study's finished queries, each with its parameters
    (the six edges' operations), value, attributes and times."""
    space = NB201Space()
    with Study.open(study_path, read_only=True) as study:
        rows = [r for r in study.storage.trials() if r.status == "done" or r.gave_up]
    trials = ostudy.get_trials(deepcopy=False)
    by_query = exported_queries(trials)
    assert len(trials) == len(by_query) == len(rows)
    assert sorted(by_query) == [r.number for r in rows]
    for row in rows:
        trial = by_query[row.number]
        ops = space.validate(row.arch).ops
        assert trial.params == dict(zip(EDGE_NAMES, ops, strict=True))
        assert trial.distributions == {n: CategoricalDistribution(OPS) for n in EDGE_NAMES}
        assert trial.system_attrs[QUERY_ATTR] == row.number
        expected = {
            "query": row.number + 1,
            "arch_id": row.arch_id,
            "arch": row.arch,
            "iteration": row.iteration,
            "report_metric": row.report_metric,
            "predicted": row.predicted,
            "cost_seconds": row.cost_seconds,
            "params": row.params,
        }
        if row.status == "done":
            assert trial.state == TrialState.COMPLETE
            assert trial.value == row.search_metric
        else:
            assert trial.state == TrialState.FAIL and trial.value is None
            expected["error"] = row.error
        assert trial.user_attrs == {k: v for k, v in expected.items() if v is not None}
        assert trial.datetime_start == datetime.fromtimestamp(row.started)
        assert trial.datetime_complete == datetime.fromtimestamp(row.finished)


@pytest.fixture(scope="module")
def re30(tmp_path_factory) -> str:
    """A finished 30-query regularized-evolution study."""
    return search(tmp_path_factory.mktemp("re30") / "re30.db", 30)


@pytest.fixture(scope="module")
def re30_exported(re30, tmp_path_factory) -> str:
    """``re30`` written once into an Optuna SQLite file (by the library; the CLI is tested
    below): the URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('optuna') / 'optuna.db'}"
    with Study.open(re30, read_only=True) as study:
        export_to_optuna(study, url)
    return url


def test_export_writes_each_finished_query_once_and_refuses_another_study(
    re30, tmp_path, capsys
):
    """The CLI writes every query once (again: nothing), names the Optuna study after the
    file, records which study it mirrors, and refuses to mix in another study."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    line = summary_line(capsys, ["export", re30, "--optuna", url])
    assert line == f"wrote 30 trials (0 already there) to {url} study 're30'"
    ostudy = load(url, "re30")
    assert_mirrors(ostudy, re30)
    assert ostudy.direction == optuna.study.StudyDirection.MAXIMIZE
    attrs = ostudy.user_attrs[STUDY_ATTR]
    assert attrs["location"] == str(Path(re30).resolve())
    assert (attrs["strategy"], attrs["space"], attrs["budget"], attrs["seed"]) == (
        "re", "nb201", 30, 0
    )
    assert ostudy.metric_names == ["cifar10-valid validation accuracy (%), 200 epochs"]
    with Study.open(re30, read_only=True) as study:
        assert ostudy.best_value == study.best()[0].search_metric

    # again: nothing new (the query numbers are the key)
    line = summary_line(capsys, ["export", re30, "--optuna", url])
    assert line == f"wrote 0 trials (30 already there) to {url} study 're30'"
    assert len(load(url, "re30").trials) == 30

    # another seminas study is refused under that name, and goes in under another
    other = search(tmp_path / "other.db", 10, seed=1)
    one_line_error(
        capsys, ["export", other, "--optuna", url, "--optuna-study", "re30"],
        "Optuna study 're30'", "mirrors another seminas study", "--optuna-study NAME",
    )
    assert len(load(url, "re30").trials) == 30
    line = summary_line(capsys, ["export", other, "--optuna", url, "--optuna-study", "mine"])
    assert line == f"wrote 10 trials (0 already there) to {url} study 'mine'"
    assert_mirrors(load(url, "mine"), other)

    # an Optuna study that seminas did not write is never mixed into
    optuna.create_study(storage=url, study_name="theirs").add_trial(
        optuna.trial.create_trial(value=1.0)
    )
    one_line_error(
        capsys, ["export", re30, "--optuna", url, "--optuna-study", "theirs"],
        "holds 1 trial that no seminas export wrote",
    )


def test_only_finished_queries_are_written_and_later_ones_added(tmp_path):
    """Done queries become COMPLETE trials, one given up for good a FAIL trial; pending,
    running and retryable ones wait for a later export, which adds exactly those."""
    space, bench = NB201Space(), NB201Benchmark("cifar10")
    config = make_config(make_strategy("rs"), evaluator_spec("nb201"), budget=7, seed=5)
    path = tmp_path / "mixed.db"
    study, _ = Study.create_or_open(path, config)
    archs = space.sample(7, np.random.default_rng(0))
    rows = [
        TrialRow(
            number=i, arch_id=space.arch_id(a), arch=space.to_native(a), encoding=space.encode(a),
            iteration=0, predicted=80.0 + i if i % 2 else None,
        )
        for i, a in enumerate(archs)
    ]
    storage = study.storage
    storage.propose(rows)

    def claim(number: int) -> None:
        assert storage.claim("w", 60.0).number == number

    for i in range(3):
        claim(i)
        assert storage.finish(i, "w", bench.evaluate(archs[i]), None)
    claim(3)
    assert storage.fail(3, "w", "CUDA out of memory", final=True)  # given up for good
    claim(4)
    assert storage.fail(4, "w", "lost the node")  # will be retried on resume
    claim(5)  # running
    url = f"sqlite:///{tmp_path / 'o.db'}"
    first = export_to_optuna(study, url)
    assert (first.added, first.existing, first.unfinished, first.failed) == (4, 0, 3, 1)
    assert first.summary() == (
        f"wrote 4 trials (0 already there) to {url} study 'mixed'; 1 failed for good, "
        f"3 not finished yet"
    )
    assert_mirrors(load(url, "mixed"), str(path))
    fail = exported_queries(load(url, "mixed").trials)[3]
    assert fail.state == TrialState.FAIL and fail.user_attrs["error"] == "CUDA out of memory"

    assert storage.finish(5, "w", bench.evaluate(archs[5]), None)
    claim(6)
    assert storage.finish(6, "w", bench.evaluate(archs[6]), None)
    second = export_to_optuna(study, url)
    assert (second.added, second.existing, second.unfinished, second.failed) == (2, 4, 1, 0)
    assert_mirrors(load(url, "mixed"), str(path))
    study.close()


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--follow"], ["--follow", "give --optuna URL"]),
        (["--optuna-study", "x"], ["--optuna-study", "give --optuna URL"]),
        (["--optuna", "{url}", "--interval", "1"], ["--interval", "add --follow"]),
        (["--optuna", "{url}", "--follow", "--interval", "0"], ["--interval", "> 0"]),
        (["--optuna", "{url}", "--follow", "--interval", "-2"], ["--interval", "> 0"]),
        (["--optuna", "{url}", "--top", "3"], ["drop --best, --top and --all"]),
        (["--optuna", "optuna.db"], ["not a storage URL", "sqlite:///optuna.db"]),
        (["--optuna", "nosuch://host/db"], ["no database driver for nosuch://"]),
        (["--optuna", "sqlite:///{tmp}/no/such/dir/o.db"], ["cannot open Optuna storage"]),
        (["--optuna", "sqlite:///{tmp}/text.db"], ["cannot open Optuna storage"]),
        (["--optuna", "sqlite:///{study}"], ["is a seminas study file", "-optuna.db"]),
        (["--optuna", "sqlite:///{tmp}/another.db"], ["is a seminas study file"]),
    ],
    ids=[
        "follow-alone", "name-alone", "interval-alone", "interval-0", "interval-negative",
        "top", "a-path", "unknown-scheme", "no-folder", "not-a-database", "the-study-itself",
        "another-study",
    ],
)
def test_bad_input_is_one_line(re30, tmp_path, capsys, argv, fragments):
    (tmp_path / "text.db").write_text("not a database\n" * 50)
    config = make_config(make_strategy("rs"), evaluator_spec("nb201"), budget=5, seed=0)
    Study.create_or_open(tmp_path / "another.db", config)[0].close()
    before = Path(re30).read_bytes()
    fill = {"url": f"sqlite:///{tmp_path / 'o.db'}", "tmp": str(tmp_path), "study": re30}
    one_line_error(capsys, ["export", re30, *(a.format(**fill) for a in argv)], *fragments)
    assert Path(re30).read_bytes() == before  # the study itself is never written


def test_export_into_postgresql(re30, re30_exported, pg_database, capsys):
    """Optuna's RDB storage on the real server (psycopg 3), beside a seminas study kept in the
    same database: the default name is the server study's, the trials equal the SQLite ones."""
    assert pg_database.startswith("postgresql://")
    driver_url = pg_database.replace("postgresql://", "postgresql+psycopg://", 1)
    line = summary_line(capsys, ["export", re30, "--optuna", driver_url])
    assert line == f"wrote 30 trials (0 already there) to {driver_url} study 're30'"
    assert_mirrors(load(driver_url, "re30"), re30)
    from_sqlite = {q: (t.params, t.value) for q, t in
                   exported_queries(load(re30_exported, "re30").trials).items()}
    from_server = {q: (t.params, t.value) for q, t in
                   exported_queries(load(driver_url, "re30").trials).items()}
    assert from_server == from_sqlite
    # postgresql:// without a driver is read as psycopg's, as for studies
    line = summary_line(capsys, ["export", re30, "--optuna", pg_database])
    assert line == f"wrote 0 trials (30 already there) to {pg_database} study 're30'"

    one_line_error(
        capsys, ["export", re30, "--optuna", f"{pg_database}?study=x"],
        "study= names a seminas study", "--optuna-study NAME",
    )

    on_server = search(f"{pg_database}?study=served", 10, seed=2)
    line = summary_line(capsys, ["export", on_server, "--optuna", pg_database])
    assert line == f"wrote 10 trials (0 already there) to {pg_database} study 'served'"
    assert_mirrors(load(driver_url, "served"), on_server)


def _wait(what: str, ready, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _count(url: str, name: str) -> int:
    try:
        return len(load(url, name).get_trials(deepcopy=False))
    except KeyError:  # not created yet
        return 0


def test_follow_mirrors_a_running_search_until_it_is_complete(tmp_path):
    """A search runs in its own process, its queries evaluated by a worker in this one: five
    first, the rest later. ``export --follow``, started as soon as the study file exists, shows
    the five before the search ends and stops on Ctrl-C (exit 130, one line); started again, it
    adds the rest, ends by itself when the study is complete, and leaves exactly the study's
    queries in Optuna."""
    db, url = tmp_path / "live.db", f"sqlite:///{tmp_path / 'live-optuna.db'}"
    run = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
               preexec_fn=default_ctrl_c)
    follow = seminas("export", str(db), "--optuna", url, "--follow", "--interval", "0.1")
    searching = subprocess.Popen(
        seminas("search", *RE, "--budget", "20", "--seed", "3", "--study", str(db),
                "--workers-external"), **run,
    )
    procs = [searching]
    try:
        _wait("the study file", db.exists)  # the mirror waits for a study still being created
        procs.append(subprocess.Popen(follow, **run))
        _wait("the study", lambda: _ready(db))
        with Study.open(db) as study:
            run_worker(study, max_trials=5, poll=0.05)
            _wait("the first five trials in Optuna", lambda: _count(url, "live") == 5)
            assert not study.complete() and procs[1].poll() is None
            procs[1].send_signal(signal.SIGINT)
            out, err = procs[1].communicate(timeout=30)
            assert procs[1].returncode == 130, err
            assert err.strip().splitlines()[-1] == (
                f"interrupted: 5 queries of {db} are in {url} study 'live'; run the same "
                f"command again to continue"
            ), err
            assert out == "" and "Traceback" not in err

            procs.append(subprocess.Popen(follow, **run))
            run_worker(study, poll=0.05)  # the rest, until the search is complete
        out, err = searching.communicate(timeout=60)
        assert searching.returncode == 0, err
        out, err = procs[2].communicate(timeout=60)
        assert procs[2].returncode == 0, err
        assert out.strip() == f"wrote 15 trials (5 already there) to {url} study 'live'"
        assert "Traceback" not in err
        assert_mirrors(load(url, "live"), str(db))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _ready(db: Path) -> bool:
    from seminas.study.storage import StudyError

    try:
        Study.open(db, read_only=True).close()
        return True
    except StudyError:  # no file yet, or its study not written yet
        return False


def test_optuna_dashboard_shows_the_exported_study(re30_exported):
    """The real optuna-dashboard application, served on a free localhost port, lists the
    study and its 30 trials over the six edges, and computes their importances."""
    dashboard = pytest.importorskip("optuna_dashboard", reason="pip install optuna-dashboard")
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:  # no access log on stderr
            pass

    server = make_server("127.0.0.1", 0, dashboard.wsgi(re30_exported), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"

    def get(path: str) -> dict:
        with urllib.request.urlopen(base + path, timeout=30) as reply:
            return json.loads(reply.read())

    try:
        studies = get("/api/studies")["study_summaries"]
        (summary,) = [s for s in studies if s["study_name"] == "re30"]
        assert summary["directions"] == ["maximize"]
        shown = json.dumps(summary["user_attrs"])
        assert "config_sha256" in shown and "re30.db" in shown
        detail = get(f"/api/studies/{summary['study_id']}")
        assert len(detail["trials"]) == 30
        assert {t["state"] for t in detail["trials"]} == {"Complete"}
        assert sorted(p["name"] for p in detail["intersection_search_space"]) == sorted(EDGE_NAMES)
        importances = get(f"/api/studies/{summary['study_id']}/param_importances")
        (per_objective,) = importances["param_importances"]
        assert sorted(p["name"] for p in per_objective) == sorted(EDGE_NAMES)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_every_space_names_its_positions():
    """What an architecture's parameters are, per space: every token of every encoding has a
    label (an Optuna choice), names are distinct; a categorical space gives back its values;
    a space without labels of its own falls back to ``token_i`` and the token numbers."""
    from seminas.spaces.categorical import CategoricalSpace
    from seminas.spaces.mobilenet import MobileNetSpace
    from seminas.spaces.nb101 import NB101Space
    from seminas.spaces.tts import TTSSpace

    rng = np.random.default_rng(0)
    categorical = CategoricalSpace.from_choices(
        {"op": ["conv", "pool", "skip"], "width": range(16, 65, 16), "act": ["relu", "gelu"]}
    )
    for space in (NB201Space(), NB101Space(), categorical, MobileNetSpace(), TTSSpace()):
        labels = space.position_labels()
        assert len(labels) == space.seq_len
        assert len({name for name, _ in labels}) == space.seq_len
        for position, (_, by_token) in enumerate(labels):
            assert sorted(by_token) == space.allowed_tokens(position)
            assert len(set(map(repr, by_token.values()))) == len(by_token)
        for arch in space.sample(20, rng):
            tokens = space.encode(arch)
            values = [by_token[t] for (_, by_token), t in zip(labels, tokens, strict=True)]
            if space is categorical:
                assert dict(zip(space.names, values, strict=True)) == space.values(arch)
            if isinstance(space, NB201Space):
                assert tuple(values) == arch.ops
    assert NB101Space().position_labels()[:2] == [
        ("1<-0", {1: "no", 2: "yes"}),
        ("op1", {3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu", 5: "maxpool3x3", 6: "output"}),
    ]
    assert MobileNetSpace().position_labels()[0][0] == "token_0"


def test_a_mirror_reads_what_it_wrote_before(re30, re30_exported):
    """A new mirror (a new process) finds the queries already written, by their number."""
    with Study.open(re30, read_only=True) as study, OptunaMirror(study, re30_exported) as mirror:
        assert mirror.known == set(range(30))
        assert mirror.sync(study).added == 0
