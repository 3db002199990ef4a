"""The NAS-Bench-201 table shipped with seminas: every value equals the CSVs, searches on it give
the same trials as on the CSVs, and the file format refuses what it must refuse."""

import csv
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from seminas.benchmarks import nb201_table as nt
from seminas.benchmarks.nb201 import NB201Benchmark, required_keys
from seminas.benchmarks.nb201_table import (
    CSV_ARCH_COLUMN,
    CSV_COLUMNS,
    CSV_FILES,
    N_CELLS,
    NB201Table,
    NB201TableError,
    curve_key,
    embedded_manifest,
    embedded_table_path,
    load_embedded,
    metric_key,
    read_meta,
    seeds_key,
    table_from_csv_dir,
)
from seminas.strategies import make_strategy, run_search

CSV_DIR = DATA / "nasbench201"
HAVE_CSV = all((CSV_DIR / name).is_file() for name in CSV_FILES)
needs_csv = pytest.mark.skipif(
    not HAVE_CSV,
    reason=f"NAS-Bench-201 CSVs not found in {CSV_DIR} (the shared data directory is absent)",
)
BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


# -- the shipped file --------------------------------------------------------------------------
def test_shipped_file_is_small_verified_and_pickle_free():
    path = embedded_table_path()
    assert path.is_file(), "the embedded table is missing: run scripts/build_nb201_table.py"
    size = path.stat().st_size
    assert size <= 2 * 1024 * 1024, f"{size} bytes: the embedded table must stay under ~2 MB"
    manifest = embedded_manifest()[path.name]
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["bytes"] == size
    with np.load(path, allow_pickle=False) as z:  # every member loads without pickle
        assert all(z[name].dtype != object for name in z.files)
    table = load_embedded()
    assert (
        table.ops.shape == (N_CELLS, 6)
        and table.meta["content_sha256"] == manifest["content_sha256"]
    )
    assert set(required_keys("cifar10", 200)) <= set(table.keys())
    notices = (path.parent / "LICENSES.txt").read_text()
    for holder in ("Xuanyi Dong", "Gabriela Ochoa and Nadarajen Veerapen", "BayesWatch"):
        assert holder in notices


@needs_csv
def test_embedded_table_equals_the_csvs_cell_for_cell():
    """Read with the csv module and float() (not pandas, not the build code): every value of
    every column the table holds, and every architecture string, is exactly equal."""
    table = load_embedded()
    strings = table.arch_strings()
    compared = 0
    for name in CSV_FILES:
        with open(CSV_DIR / name, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == N_CELLS
        assert [r[CSV_ARCH_COLUMN[name]] for r in rows] == strings, name
        for column, key in CSV_COLUMNS[name].items():
            expected = np.array([float(r[column]) for r in rows])
            got = table.get(key)
            assert got.dtype == np.float64
            mismatch = np.flatnonzero(got != expected)
            assert mismatch.size == 0, f"{name}:{column} differs at rows {mismatch[:5]}"
            compared += expected.size
    assert compared == 12 * N_CELLS
    # the README's known facts
    valid = table.get(metric_key("cifar10-valid", "valid_acc", 200))
    best = int(np.argmax(valid))
    assert best == 6111 and strings[best] == BEST
    assert round(valid[best], 2) == 91.61
    assert round(table.get(metric_key("cifar10", "test_acc", 200))[best], 2) == 94.37


@needs_csv
def test_build_script_rebuilds_the_same_table(tmp_path):
    """The rerunnable build script writes, from the CSVs, exactly the table that is shipped."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "build_nb201_table.py"
    out = subprocess.run(
        [sys.executable, str(script), str(DATA), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in out.stdout
    rebuilt = NB201Table.load(tmp_path / "nb201.npz")
    assert rebuilt.content_sha256() == load_embedded().content_sha256()
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())["nb201.npz"]
    assert manifest["content_sha256"] == embedded_manifest()["nb201.npz"]["content_sha256"]
    assert [f["sha256"] for f in manifest["built_from"]] == [
        f["sha256"] for f in rebuilt.meta["source_files"]
    ]


@needs_csv
@pytest.mark.parametrize(
    "dataset,fidelity",
    [
        ("cifar10", 200),
        ("cifar100", 200),
        ("ImageNet16-120", 200),
        ("cifar10", 12),
        ("cifar100", 12),
    ],
)
def test_benchmark_arrays_identical_on_both_sources(dataset, fidelity):
    a = NB201Benchmark(dataset, fidelity, table=load_embedded())
    b = NB201Benchmark(dataset, fidelity, data_dir=DATA)
    assert b.source.kind == "csv" and a.source.kind == "table"
    assert a.arch_strings == b.arch_strings
    assert np.array_equal(a.search, b.search) and np.array_equal(a.report, b.report)
    assert (a.cost is None) == (b.cost is None)
    if a.cost is not None:
        assert np.array_equal(a.cost, b.cost)
    assert a.search_metric_name == b.search_metric_name
    assert a.report_metric_name == b.report_metric_name


@needs_csv
@pytest.mark.parametrize("strategy", ["rs", "re", "gbdt"])
def test_same_search_same_trials_on_embedded_and_csv(strategy):
    embedded = NB201Benchmark(table=load_embedded())
    csv_bench = NB201Benchmark(data_dir=DATA)
    a = run_search(make_strategy(strategy), embedded, 60, seed=3)
    b = run_search(make_strategy(strategy), csv_bench, 60, seed=3)
    assert len(a.trials) == 60
    assert a.trials == b.trials  # same architectures, same numbers, bit for bit


# -- the format --------------------------------------------------------------------------------
def small_table(extra: dict | None = None) -> NB201Table:
    rng = np.random.default_rng(0)
    base = load_embedded()
    arrays = {metric_key("cifar10", "test_acc", 200): rng.uniform(10, 95, N_CELLS)}
    arrays.update(extra or {})
    return NB201Table(np.array(base.ops), arrays, {"source": "test fixture"})


def test_roundtrip_with_richer_arrays_is_exact_and_deterministic(tmp_path):
    key = metric_key("cifar10-valid", "valid_acc", 200)
    seeds = np.full((N_CELLS, 3), np.nan)
    seeds[:, :2] = np.random.default_rng(1).uniform(0, 100, (N_CELLS, 2))
    curve = np.random.default_rng(2).uniform(0, 100, (N_CELLS, 12)).astype(np.float32)
    table = small_table(
        {
            key: np.nanmean(seeds, axis=1),
            seeds_key(key): seeds,
            curve_key("cifar10-valid", "valid_acc"): curve,
        }
    )
    sha = table.save(tmp_path / "t.npz")
    assert sha == hashlib.sha256((tmp_path / "t.npz").read_bytes()).hexdigest()
    assert table.save(tmp_path / "u.npz") == sha  # same data, same bytes
    back = NB201Table.load(tmp_path / "t.npz")
    for name in table.keys():
        assert np.array_equal(back.get(name), table.get(name), equal_nan=True)
        assert back.get(name).dtype == table.get(name).dtype
    assert back.arch_strings() == load_embedded().arch_strings()
    meta = read_meta(tmp_path / "t.npz")
    assert meta["source"] == "test fixture" and meta["format_version"] == nt.FORMAT_VERSION
    assert meta["arrays"][seeds_key(key)] == [[N_CELLS, 3], "<f8"]
    assert not back.get(key).flags.writeable
    with pytest.raises(NB201TableError, match="has no 'cifar100.test_acc.200ep'; it holds"):
        back.get(metric_key("cifar100", "test_acc", 200))


def test_tampered_values_fail_the_content_checksum(tmp_path):
    path = tmp_path / "t.npz"
    small_table().save(path)
    key = metric_key("cifar10", "test_acc", 200)
    # rewrite one array inside the zip, keeping the zip itself valid
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with np.load(path, allow_pickle=False) as z:
        arr = np.array(z[key])
    arr[7] += 1.0
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    members[f"{key}.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(NB201TableError) as exc:
        NB201Table.load(path)
    assert "checksum mismatch" in one_line(exc) and str(path) in one_line(exc)


def test_truncated_and_foreign_files_are_one_line_errors(tmp_path):
    path = tmp_path / "t.npz"
    small_table().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NB201TableError) as exc:
        NB201Table.load(path)
    assert str(path) in one_line(exc)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(NB201TableError, match="is not a seminas NAS-Bench-201 table"):
        NB201Table.load(other)
    with pytest.raises(NB201TableError, match="no such file"):
        NB201Table.load(tmp_path / "absent.npz")


def test_wrong_version_missing_cells_and_bad_arrays_are_refused(tmp_path):
    ops = np.array(load_embedded().ops)
    with pytest.raises(NB201TableError, match="all 15625 cells"):
        NB201Table(ops[:-1], {}, {})
    dup = ops.copy()
    dup[5] = dup[6]
    with pytest.raises(NB201TableError, match="repeat a cell"):
        NB201Table(dup, {}, {})
    with pytest.raises(NB201TableError, match="expected 15625 rows"):
        NB201Table(ops, {"cifar10.test_acc.200ep": np.zeros(10)}, {})
    with pytest.raises(NB201TableError, match="not a valid array name"):
        NB201Table(ops, {"meta": np.zeros(N_CELLS)}, {})
    with pytest.raises(NB201TableError, match="must be numeric"):
        NB201Table(ops, {"x.names": np.array(["a"] * N_CELLS)}, {})
    path = tmp_path / "t.npz"
    small_table().save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
    meta["format_version"] = 99
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(NB201TableError, match="has table format 99"):
        NB201Table.load(path)


def test_bad_architecture_strings_are_named():
    strings = load_embedded().arch_strings()
    strings[42] = "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|"
    with pytest.raises(NB201TableError) as exc:
        NB201Table.from_arch_strings(strings, {})
    assert "row 42" in one_line(exc) and "bogus" in one_line(exc)


# -- garbage CSVs in a data directory ----------------------------------------------------------
@needs_csv
def test_garbage_csvs_are_one_line_errors(tmp_path):
    base = tmp_path / "nasbench201"
    base.mkdir()
    for name in CSV_FILES:
        (base / name).symlink_to(CSV_DIR / name)
    (base / "12ep.csv").unlink()
    (base / "12ep.csv").write_text("index,arch_str,cifar10-val\n0,x,1\n")
    with pytest.raises(NB201TableError) as exc:
        table_from_csv_dir(tmp_path)
    assert "lacks column(s) cifar10-test" in one_line(exc)
    lines = (CSV_DIR / "12ep.csv").read_text().splitlines()
    (base / "12ep.csv").write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(NB201TableError, match="has 99 rows, expected 15625"):
        table_from_csv_dir(tmp_path)
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    (base / "12ep.csv").write_text("\n".join(swapped) + "\n")
    with pytest.raises(NB201TableError, match="not row-aligned"):
        table_from_csv_dir(tmp_path)
