"""The common results store: durable appends, a version header, repair of a cut last line,
atomic rewrites, one writer at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, StoreWarning, atomic_write_text


def _store(path: Path, kind: str = "bench") -> ResultsStore:
    return ResultsStore(path, kind, key=lambda r: (r["name"], int(r["seed"])))


def test_append_then_read_keeps_first_record_per_key(tmp_path: Path) -> None:
    store = _store(tmp_path / "results.jsonl")
    assert store.read() == []
    store.append({"name": "a", "seed": 0, "value": 1.5})
    store.append({"name": "a", "seed": 1, "value": 2.5})
    store.append({"name": "a", "seed": 0, "value": 9.9})  # a duplicate: the first one wins
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"seminas_results": 1, "kind": "bench"}
    assert [r["value"] for r in store.read()] == [1.5, 2.5]
    assert store.keys() == {("a", 0), ("a", 1)}


def test_cut_last_line_is_dropped_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    store = _store(path)
    for seed in range(3):
        store.append({"name": "a", "seed": seed})
    text = path.read_text()
    path.write_text(text[: len(text) - 7])  # a write cut short
    with pytest.warns(StoreWarning, match="truncated last line 4"):
        records = store.read(repair=True)
    assert [r["seed"] for r in records] == [0, 1]
    assert path.read_text().endswith("\n")  # repaired: the next append is well-formed
    store.append({"name": "a", "seed": 2})
    assert [r["seed"] for r in store.read()] == [0, 1, 2]


def test_broken_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    store = _store(path)
    store.append({"name": "a", "seed": 0})
    with open(path, "a") as handle:
        handle.write("{not json\n")
    store.append({"name": "a", "seed": 1})
    with pytest.raises(SeminasError, match="line 3 is not a bench result"):
        store.read()


def test_other_kind_and_newer_version_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    _store(path, "predictor-study").append({"name": "a", "seed": 0})
    with pytest.raises(SeminasError, match="holds 'predictor-study' results, not 'bench'"):
        _store(path).read()
    path.write_text(json.dumps({"seminas_results": 99, "kind": "bench"}) + "\n")
    with pytest.raises(SeminasError, match="newer than this seminas reads"):
        _store(path).read()


def test_files_without_header_are_read_as_version_1(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"name":"a","seed":0}\n{"name":"b","seed":0}\n')
    store = _store(path)
    assert [r["name"] for r in store.read()] == ["a", "b"]
    store.append({"name": "c", "seed": 0})  # appending keeps the old layout readable
    assert [r["name"] for r in store.read()] == ["a", "b", "c"]


def test_atomic_rewrite_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    store = _store(path)
    store.append({"name": "a", "seed": 0})
    store.rewrite([{"name": "z", "seed": 5}])
    assert [r["name"] for r in store.read()] == ["z"]
    atomic_write_text(tmp_path / "summary.md", "# hi\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl", "summary.md"]


def test_check_writable_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(SeminasError, match="does not exist"):
        _store(tmp_path / "nope" / "results.jsonl").check_writable()
    (tmp_path / "results.jsonl").mkdir()
    with pytest.raises(SeminasError, match="is not a file"):
        _store(tmp_path / "results.jsonl").check_writable()
    with pytest.raises(SeminasError, match="is not a file"):
        _store(tmp_path / "results.jsonl").read()


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path / "results.jsonl")
    with store.exclusive("bench"):
        with pytest.raises(SeminasError, match="another bench is writing"):
            with _store(tmp_path / "results.jsonl").exclusive("bench"):
                pass
    with store.exclusive("bench"):  # released afterwards
        pass


def test_kill_minus_9_loses_no_appended_record(tmp_path: Path) -> None:
    """A writer killed at a random moment leaves every record it had appended, at most a cut
    last line, which the next read drops."""
    path = tmp_path / "results.jsonl"
    progress = tmp_path / "appended"
    script = textwrap.dedent(
        f"""
        import os
        from seminas.experiments.store import ResultsStore
        store = ResultsStore({str(path)!r}, "bench", key=lambda r: (r["name"], r["seed"]))
        for seed in range(100000):
            store.append({{"name": "x" * 200, "seed": seed}})
            with open({str(progress)!r} + ".tmp", "w") as handle:
                handle.write(str(seed))
            os.replace({str(progress)!r} + ".tmp", {str(progress)!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not progress.exists() or not progress.read_text() or int(progress.read_text()) < 200
    ):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    confirmed = int(progress.read_text())  # appended (and fsynced) before this was written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        seeds = [r["seed"] for r in _store(path).read(repair=True)]
    assert seeds == list(range(len(seeds)))
    assert len(seeds) >= confirmed + 1
