"""Where data comes from: the documented search order, `seminas data where` / `data check`, and
one line on how to point at data when a benchmark has none."""

import shutil

import numpy as np
import pytest
from conftest import DATA

import seminas.data as data_mod
from seminas.benchmarks import nb201_table as nt
from seminas.benchmarks.nb201 import NB201Benchmark, find_source, required_keys
from seminas.benchmarks.nb201_table import CSV_FILES, NB201Table, load_embedded, metric_key
from seminas.cli import main
from seminas.data import search_dirs

CSV_DIR = DATA / "nasbench201"
needs_csv = pytest.mark.skipif(
    not all((CSV_DIR / n).is_file() for n in CSV_FILES),
    reason=f"NAS-Bench-201 CSVs not found in {CSV_DIR} (the shared data directory is absent)",
)
KEYS = required_keys("cifar10", 200)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """As in an installed package: no source checkout around it, no $SEMINAS_DATA, an empty
    per-user data directory and an empty cache."""
    monkeypatch.setattr(data_mod, "_CHECKOUT_ROOT", tmp_path / "site-packages")
    monkeypatch.delenv("SEMINAS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("SEMINAS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def csv_copy(where, files=CSV_FILES):
    base = where / "nasbench201"
    base.mkdir(parents=True)
    for name in files:
        (base / name).symlink_to(CSV_DIR / name)
    return where


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_nothing_configured_uses_the_embedded_table(installed):
    assert [d.origin for d in search_dirs()] == ["user data dir"]
    bench = NB201Benchmark()
    assert bench.source.kind == "embedded"
    assert bench.describe()["data"] == "table shipped with seminas (nb201.npz)"
    best = bench.best_by_search()
    assert best.extra["index"] == 6111
    assert (round(best.search_metric, 2), round(best.report_metric, 2)) == (91.61, 94.37)


def test_fresh_clone_without_shared_data_uses_the_embedded_table(installed, monkeypatch, capsys):
    clone = installed / "fresh-clone" / "seminas"
    (clone / "src" / "seminas").mkdir(parents=True)
    (clone / "pyproject.toml").write_text("")
    monkeypatch.setattr(data_mod, "_CHECKOUT_ROOT", clone)
    assert data_mod.checkout_root() == clone and data_mod.checkout_data_dir() is None
    assert NB201Benchmark().source.kind == "embedded"
    assert main(["data", "where"]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("5.")][0]
    assert str(clone / ".." / "shared" / "data") in line and "[absent]" in line


@needs_csv
def test_order_env_then_user_dir_then_imported_then_checkout_then_embedded(installed, monkeypatch):
    checkout_root = installed / "checkout"
    (checkout_root / "src" / "seminas").mkdir(parents=True)
    (checkout_root / "pyproject.toml").write_text("")
    csv_copy(installed / "shared" / "data")
    monkeypatch.setattr(data_mod, "_CHECKOUT_ROOT", checkout_root)
    # 5. the source checkout's ../shared/data
    src = find_source(None, KEYS)
    assert (src.kind, src.origin) == ("csv", "source checkout")
    # 4. an imported table beats the checkout ...
    imported = nt.imported_dir() / "official.npz"
    table = load_embedded()
    NB201Table(table.ops, dict(table.arrays), {"source": "test import"}).save(imported)
    assert find_source(None, KEYS).path == imported
    # ... but one lacking the arrays a benchmark needs is passed over
    NB201Table(table.ops, {metric_key("cifar100", "test_acc", 200): np.zeros(15625)}, {}).save(
        imported
    )
    assert find_source(None, KEYS).origin == "source checkout"
    # 3. the per-user data directory beats both
    user = csv_copy(installed / "xdg-data" / "seminas")
    assert find_source(None, KEYS).path == user
    # 2. $SEMINAS_DATA beats it; a directory without NAS-Bench-201 files is passed over
    env = installed / "env"
    env.mkdir()
    monkeypatch.setenv("SEMINAS_DATA", str(env))
    assert find_source(None, KEYS).path == user
    shutil.rmtree(user)
    csv_copy(env)
    assert find_source(None, KEYS).path == env
    # 1. --data-dir is the only place read
    explicit = csv_copy(installed / "explicit")
    assert find_source(explicit, KEYS).path == explicit


def test_data_where_prints_the_order(installed, monkeypatch, capsys):
    monkeypatch.setenv("SEMINAS_DATA", str(installed / "env"))
    assert main(["data", "where"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line[:1].isdigit()]
    labels = [line.split()[1] for line in lines]
    assert labels == ["--data-dir", "$SEMINAS_DATA", "user", "imported", "source", "embedded"]
    assert str(installed / "env") in lines[1]
    assert str(installed / "xdg-data" / "seminas") in lines[2]
    assert str(installed / "cache" / "nb201") in lines[3]
    assert "(not running from a source checkout)" in lines[4]
    assert str(nt.embedded_table_path()) in lines[5]
    assert main(["--data-dir", str(installed), "data", "where"]) == 0
    out = capsys.readouterr().out
    assert "given: the only place read" in out and out.count("skipped: --data-dir given") == 5


@needs_csv
def test_partial_csv_set_is_an_error_not_a_silent_switch(installed, monkeypatch, capsys):
    env = csv_copy(installed / "env", files=("12ep.csv",))
    monkeypatch.setenv("SEMINAS_DATA", str(env))
    code = main(["query", "--index", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    base = f"{env}/nasbench201"
    assert f"missing file {base}/test-200ep.csv and 1 more: {base}/cifar10" in line
    assert "$SEMINAS_DATA" in line
    # the 12-epoch benchmark of cifar100 needs only that file
    assert NB201Benchmark("cifar100", 12).source.path == env


def test_explicit_data_dir_without_files_says_how_to_fix(installed, capsys):
    empty = installed / "mine"
    code = main(["--data-dir", str(empty), "query", "--index", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and f"missing file {empty}/nasbench201/12ep.csv and 2 more: " in line
    assert "leave out --data-dir to use the NAS-Bench-201 table shipped with seminas" in line


def test_missing_files_are_named_together_and_only_those_the_search_needs(installed, capsys):
    empty = installed / "mine"
    code = main(["--data-dir", str(empty), "search", "--space", "nb201", "--strategy", "rs",
                 "--budget", "3", "--quiet"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and line.count(f"{empty}/nasbench201/") == 3  # all three, in one line
    code = main(["--data-dir", str(empty), "search", "--space", "nb201", "--dataset", "cifar100",
                 "--fidelity", "12", "--strategy", "rs", "--budget", "3", "--quiet"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and f"missing file {empty}/nasbench201/12ep.csv (" in line
    assert "test-200ep" not in line and "cifar10-valid" not in line  # not needed at 12 epochs


def test_missing_nb101_says_in_one_line_how_to_point_at_data(installed, capsys):
    code = main(["query", "--space", "nb101", "--hash", "0" * 32])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    user = installed / "xdg-data" / "seminas"
    assert f"missing file {user}/nasbench101/nasbench_only108.tfrecord" in line
    assert "--data-dir DIR or $SEMINAS_DATA=DIR" in line and "--nb101-file" in line


def test_corrupt_imported_table_is_named(installed, capsys):
    bad = nt.imported_dir() / "broken.npz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    code = main(["query", "--index", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and str(bad) in line and "seminas data import" in line


# -- seminas data check -------------------------------------------------------------------------
def test_data_check_lists_every_source(installed, capsys):
    table = load_embedded()
    NB201Table(table.ops, dict(table.arrays), {"source": "a test import"}).save(
        nt.imported_dir() / "imp.npz"
    )
    other = installed / "cache" / "nb101" / "nasbench_only108-abc.npz"
    other.parent.mkdir(parents=True)
    np.savez(other, x=np.arange(3))
    official = installed / "xdg-data" / "seminas" / "NAS-Bench-201-v1_1-096897.pth"
    official.parent.mkdir(parents=True)
    official.write_bytes(b"\0")
    code = main(["data", "check"])
    out = capsys.readouterr().out
    assert code == 0
    manifest = nt.embedded_manifest()["nb201.npz"]
    assert f"sha256 {manifest['sha256']}" in out  # the embedded table with its checksum
    assert "NAS-Bench-201 table from a test import" in out
    assert "listed             " + str(other) in out
    assert "NAS-Bench-101 official table, converted" in out
    assert "NAS-Bench-201-v1_1-096897.pth" in out and "`seminas data import` it" in out
    assert "nasbench_only108.tfrecord" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("nb")}
    assert lines["nb201"].startswith("nb201         available: imported table")
    assert "not available: get nasbench_only108.tfrecord" in lines["nb101"]
    assert "`seminas data import FILE`" in lines["nb101"]


def test_data_check_exit_2_on_a_damaged_imported_table(installed, capsys):
    bad = nt.imported_dir() / "cut.npz"
    table = load_embedded()
    NB201Table(table.ops, dict(table.arrays), {"source": "x"}).save(bad)
    bad.write_bytes(bad.read_bytes()[:5000])
    code = main(["data", "check"])
    captured = capsys.readouterr()
    assert code == 2
    assert "checksum mismatch" in one_error_line(captured.err) and str(bad) in captured.err
    assert "nb201         not usable:" in captured.out  # and says nothing is usable


def test_data_check_exit_2_on_a_damaged_embedded_table(installed, monkeypatch, capsys):
    copy = installed / "pkg" / "nb201.npz"
    copy.parent.mkdir()
    shutil.copy(nt.embedded_table_path(), copy)
    shutil.copy(nt.embedded_table_path().with_name("MANIFEST.json"), copy.parent)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(nt, "embedded_table_path", lambda: copy)
    code = main(["data", "check"])
    captured = capsys.readouterr()
    assert code == 2
    line = one_error_line(captured.err)
    assert "checksum mismatch" in line and str(copy) in line
    assert "checksum mismatch" in captured.out
