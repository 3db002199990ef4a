"""The command line: real output on real data, and one clear line (exit 2) for bad input."""

import json
import shutil

import pytest
from conftest import need

from seminas.cli import main
from seminas.data import KNOWN_FILES, check_files, data_dir

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, fragment):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMINAS_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    assert data_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("SEMINAS_DATA")
    # then the first default directory that exists: ../shared/data beside a source checkout
    # (the development machines), else the per-user data directory (a fresh machine)
    from seminas.data import checkout_data_dir, user_data_dir

    assert not user_data_dir().is_dir()  # conftest points it at an empty folder
    shared = checkout_data_dir()
    if shared is not None:
        assert data_dir() == shared
        assert data_dir().name == "data" and data_dir().parent.name == "shared"
    else:
        assert data_dir() == user_data_dir()


def test_data_check_on_real_data(capsys, nb201):
    code, out, _ = run(capsys, "data", "check")
    assert code == 0
    assert "nb201" in out and "available" in out
    assert "nasbench_only108.tfrecord" in out


def test_data_check_reports_checksum_mismatch(tmp_path, nb201):
    for entry in KNOWN_FILES[:2]:
        dest = tmp_path / entry.relpath
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir() / entry.relpath, dest)
    (tmp_path / KNOWN_FILES[1].relpath).write_text("tampered")
    status = {s.relpath: s.status for s in check_files(tmp_path)}
    assert status[KNOWN_FILES[0].relpath] == "ok"
    assert status[KNOWN_FILES[1].relpath] == "checksum mismatch"
    assert status["nasbench101/subset-20k.csv"] == "missing"
    assert main(["--data-dir", str(tmp_path), "data", "check"]) == 2  # a data problem: exit 2


def test_query_nb201(capsys, nb201):
    code, out, _ = run(capsys, "query", "--space", "nb201", "--arch", BEST)
    rec = json.loads(out)
    assert code == 0 and rec["extra"]["index"] == 6111
    assert rec["report_metric"] == pytest.approx(94.3733, abs=1e-4)
    code, out, _ = run(capsys, "query", "--index", "6111")
    assert json.loads(out)["arch_id"] == BEST


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["query", "--arch", "nonsense"], "invalid NAS-Bench-201 string 'nonsense'"),
        (["query", "--dataset", "mnist", "--index", "1"], "unknown NAS-Bench-201 dataset 'mnist'"),
        (["query", "--index", "99999"], "index 99999 is out of range"),
        (["query"], "needs --arch STRING or --index N"),
        (["search", "--strategy", "dartz"], "unknown strategy 'dartz'"),
        (["search", "--strategy", "re", "--set", "populashun=3"], "unknown option(s) populashun"),
        (["search", "--strategy", "re", "--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_bad_input_is_one_line(capsys, nb201, argv, fragment):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, fragment)


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", "--budget", "zero"])
    assert exc.value.code == 2
    assert_one_line_error(capsys.readouterr().err, "expected a whole number, got 'zero'")


def test_missing_data_dir_names_the_path(capsys, tmp_path):
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "query", "--index", "1")
    assert code == 2
    assert_one_line_error(err, f"missing file {tmp_path}/nasbench201/12ep.csv")


def test_missing_official_nb101_file(capsys, tmp_path):
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "query", "--space", "nb101",
                       "--hash", "0" * 32)
    assert code == 2
    assert_one_line_error(err, "nasbench_only108.tfrecord")


def test_nb101_hash_command(capsys, tmp_path):
    specs = json.loads(need("nasbench101/specs-1k.json").read_text())[:5]
    path = tmp_path / "cells.json"
    path.write_text(json.dumps([{"matrix": s["matrix"], "labels": s["labels"]} for s in specs]))
    code, out, _ = run(capsys, "space", "nb101", "hash", str(path))
    assert code == 0
    assert out.split() == [s["hash"] for s in specs]
    ops_form = [{"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}]
    path.write_text(json.dumps(ops_form))
    code, out, _ = run(capsys, "space", "nb101", "hash", str(path))
    assert code == 0 and len(out.strip()) == 32


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "no such file"),
        ("{not json", "cannot read"),
        ('"a string"', "must hold a JSON list"),
        ('[{"matrix": [[0, 0], [0, 0]], "ops": ["input", "output"]}]', "cell 0: no path"),
    ],
)
def test_nb101_hash_bad_files(capsys, tmp_path, content, fragment):
    path = tmp_path / "cells.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(capsys, "space", "nb101", "hash", str(path))
    assert code == 2
    assert_one_line_error(err, fragment)


def test_query_nb101_subset(capsys):
    need("nasbench101/subset-20k.csv")
    code, out, _ = run(capsys, "query", "--space", "nb101", "--subset",
                       "--hash", "00005c142e6f48ac74fdcf73e3439874")
    rec = json.loads(out)
    assert code == 0
    assert rec["search_metric"] == pytest.approx(93.0488765)
    assert rec["report_metric"] is None


def test_search_json(capsys, nb201):
    code, out, _ = run(capsys, "search", "--strategy", "re", "--budget", "20", "--json",
                       "--quiet")
    data = json.loads(out)
    assert code == 0 and data["num_queries"] == 20
    assert len(data["trajectory"]["best_search"]) == 20
