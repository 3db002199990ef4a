"""NAS-Bench-101 benchmarks: TFRecord framing, the official record format and its cache, query
semantics of the official API, and the real 20k-cell subset shipped in ../shared/data."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

import seminas.benchmarks.nb101.convert as nb101_convert
from seminas.benchmarks.nb101 import (
    NB101Benchmark,
    NB101SubsetBenchmark,
    encode_row,
    model_metrics_classes,
    parse_row,
)
from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101
from seminas.benchmarks.tfrecord import (
    encode_record,
    iter_tfrecords,
    masked_crc32c,
    write_tfrecords,
)
from seminas.data import NB101_OFFICIAL_HINT, cache_dir, data_dir
from seminas.errors import (
    DataNotFoundError,
    SeminasError,
    UnknownArchitectureError,
)
from seminas.spaces.nb101 import NB101Space, make_spec

FULL_EPOCHS = (4, 12, 36, 108)
N_CELLS = 50


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache directory, so nothing lands in ~/.cache."""
    monkeypatch.setenv("SEMINAS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def specs():
    return synthetic_specs(N_CELLS, seed=0)


@pytest.fixture(scope="module")
def tables(tmp_path_factory, specs):
    """Two synthetic tables: the nasbench_only108 layout and the nasbench_full layout."""
    root = tmp_path_factory.mktemp("nb101")
    only108 = write_synthetic_nb101(root / "nasbench_only108.tfrecord", specs, seed=1)
    full = write_synthetic_nb101(
        root / "nasbench_full.tfrecord", specs, seed=2, epochs=FULL_EPOCHS
    )
    return {"only108": only108, "full": full}


def ground_truth(path: Path) -> dict[str, dict[int, list[tuple[float, float, float]]]]:
    """Per hash and epoch budget, the (val, test, time) of each run, parsed straight from the
    file (independent of the cache)."""
    out: dict[str, dict[int, list[tuple[float, float, float]]]] = {}
    for payload in iter_tfrecords(path):
        module_hash, epochs, _, _, metrics = parse_row(payload)
        final = metrics.evaluation_data[-1]
        out.setdefault(module_hash, {}).setdefault(epochs, []).append(
            (final.validation_accuracy, final.test_accuracy, final.training_time)
        )
    return out


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# -- TFRecord framing -------------------------------------------------------------------------
def test_masked_crc_matches_the_tfrecord_definition():
    data = b"123456789"
    crc = google_crc32c.value(data)
    assert crc == 0xE3069283  # the standard CRC-32C check value
    assert masked_crc32c(data) == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


def test_record_layout_and_round_trip(tmp_path):
    payloads = [b"", b"x", b"hello world" * 1000, bytes(range(256))]
    path = tmp_path / "f.tfrecord"
    assert write_tfrecords(path, payloads) == len(payloads)
    assert list(iter_tfrecords(path)) == payloads
    raw = encode_record(b"abc")
    assert struct.unpack("<Q", raw[:8]) == (3,)
    assert struct.unpack("<I", raw[8:12]) == (masked_crc32c(raw[:8]),)
    assert raw[12:15] == b"abc"
    assert struct.unpack("<I", raw[15:]) == (masked_crc32c(b"abc"),)
    assert path.read_bytes() == b"".join(encode_record(p) for p in payloads)


def _three_records(tmp_path) -> tuple[Path, list[int]]:
    payloads = [b"first", b"second record", b"third"]
    path = tmp_path / "three.tfrecord"
    write_tfrecords(path, payloads)
    offsets = np.cumsum([0] + [16 + len(p) for p in payloads]).tolist()
    return path, offsets


def test_bad_payload_crc_names_file_record_and_offset(tmp_path):
    path, offsets = _three_records(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[offsets[1] + 12] ^= 0xFF  # first payload byte of record 1
    path.write_bytes(bytes(raw))
    with pytest.raises(SeminasError) as exc:
        list(iter_tfrecords(path))
    message = one_line(exc)
    assert str(path) in message
    assert "record 1" in message and f"byte offset {offsets[1]}" in message
    assert "payload checksum" in message and "download it again" in message


def test_bad_length_crc(tmp_path):
    path, offsets = _three_records(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[offsets[2]] ^= 0x01  # length of record 2
    path.write_bytes(bytes(raw))
    records = iter_tfrecords(path)
    assert next(records) == b"first"  # earlier records still read
    with pytest.raises(SeminasError) as exc:
        list(records)
    message = one_line(exc)
    assert "record 2" in message and f"byte offset {offsets[2]}" in message
    assert "length checksum" in message


@pytest.mark.parametrize("cut", [5, 20])  # inside the header / inside the payload
def test_truncated_file(tmp_path, cut):
    path, offsets = _three_records(tmp_path)
    path.write_bytes(path.read_bytes()[: offsets[2] + cut])
    with pytest.raises(SeminasError) as exc:
        list(iter_tfrecords(path))
    message = one_line(exc)
    assert message.startswith(f"truncated TFRecord file {path}")
    assert "record 2" in message and f"byte offset {offsets[2]}" in message
    assert "download it again" in message


def test_truncated_table_fails_the_benchmark_and_leaves_no_cache(tmp_path, tables):
    path = tmp_path / "nasbench_only108.tfrecord"
    raw = tables["only108"].read_bytes()
    path.write_bytes(raw[: len(raw) - 7])
    with pytest.raises(SeminasError) as exc:
        NB101Benchmark(path)
    assert "truncated" in one_line(exc) and str(path) in str(exc.value)
    assert not list((tmp_path / "cache").rglob("*.npz"))


def test_payload_that_is_not_a_row(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write_tfrecords(path, [b'["not", "a row"]'])
    with pytest.raises(SeminasError) as exc:
        NB101Benchmark(path)
    message = one_line(exc)
    assert "record 0" in message and str(path) in message and "download it again" in message


# -- the official record format -----------------------------------------------------------------
def test_row_round_trip_through_the_protobuf():
    model_metrics, _ = model_metrics_classes()
    metrics = model_metrics(trainable_parameters=1234, total_time=9.5)
    for epoch, val in ((0.0, 0.1), (54.0, 0.8), (108.0, 0.93)):
        metrics.evaluation_data.add(
            current_epoch=epoch, training_time=epoch * 10, validation_accuracy=val,
            test_accuracy=val - 0.01, train_accuracy=1.0, checkpoint_path="ckpt",
        )
    spec = make_spec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    payload = encode_row("ab" * 16, 108, spec.matrix, spec.ops, metrics)
    row = json.loads(payload)
    assert row[2] == "011001000" and row[3] == "input,maxpool3x3,output"
    module_hash, epochs, matrix, ops, decoded = parse_row(payload)
    assert (module_hash, epochs, ops) == ("ab" * 16, 108, list(spec.ops))
    assert matrix.tolist() == [list(r) for r in spec.matrix]
    assert decoded.trainable_parameters == 1234 and decoded.total_time == 9.5
    assert decoded.evaluation_data[-1].validation_accuracy == 0.93
    assert decoded.evaluation_data[-1].checkpoint_path == "ckpt"


def test_synthetic_tables_are_deterministic(tmp_path, specs):
    assert [NB101Space().arch_id(s) for s in synthetic_specs(N_CELLS, seed=0)] == [
        NB101Space().arch_id(s) for s in specs
    ]
    assert len({NB101Space().arch_id(s) for s in specs}) == N_CELLS
    a = write_synthetic_nb101(tmp_path / "a.tfrecord", specs[:10], seed=5, epochs=(12, 108))
    b = write_synthetic_nb101(tmp_path / "b.tfrecord", specs[:10], seed=5, epochs=(12, 108))
    c = write_synthetic_nb101(tmp_path / "c.tfrecord", specs[:10], seed=6, epochs=(12, 108))
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert sum(1 for _ in iter_tfrecords(a)) == 10 * 2 * 3
    truth = ground_truth(a)
    for runs in (r for by_epoch in truth.values() for r in by_epoch.values()):
        assert all(0.0 < val < 1.0 and 0.0 < test < 1.0 and t > 0 for val, test, t in runs)


# -- the official benchmark ------------------------------------------------------------------
def test_query_semantics_match_the_official_api(tables, specs):
    truth = ground_truth(tables["only108"])
    bench = NB101Benchmark(tables["only108"], seed=3)
    assert len(bench) == N_CELLS and bench.table.epochs == (108,)
    spec = specs[7]
    key = bench.space.arch_id(spec)
    runs = truth[key][108]
    vals = [100 * v for v, _, _ in runs]
    mean_test = 100 * np.mean([t for _, t, _ in runs])

    seen_runs = []
    for _ in range(40):
        record = bench.query(spec)
        run = record.extra["run"]
        seen_runs.append(run)
        assert record.arch_id == key
        assert record.search_metric == pytest.approx(vals[run])  # percent, one run
        assert record.report_metric == pytest.approx(mean_test)  # percent, mean of three
        assert record.cost_seconds == pytest.approx(runs[run][2])
        assert record.params > 0
    assert set(seen_runs) == {0, 1, 2}  # the run is random ...
    again = NB101Benchmark(tables["only108"], seed=3)
    assert [again.query(spec).extra["run"] for _ in range(40)] == seen_runs  # ... but seeded
    other = NB101Benchmark(tables["only108"], seed=4)
    assert [other.query(spec).extra["run"] for _ in range(40)] != seen_runs

    looked = bench.lookup(spec)  # free, and the mean of the runs
    assert looked.search_metric == pytest.approx(np.mean(vals))
    assert looked.report_metric == pytest.approx(mean_test)
    assert bench.lookup_hash(key) == looked
    assert bench.num_queries == 40 and bench.num_unique_queries == 1

    bench.query(specs[8])
    bench.query_hash(bench.space.arch_id(specs[9]).upper())
    bench.query(bench.space.to_native(specs[9]))
    assert bench.num_queries == 43 and bench.num_unique_queries == 3


def test_every_cell_matches_the_file(tables):
    truth = ground_truth(tables["full"])
    for epochs in FULL_EPOCHS:
        bench = NB101Benchmark(tables["full"], epochs=epochs)
        records = list(bench.records())
        assert len(records) == len(bench) == len(truth) == N_CELLS
        for record in records:
            runs = truth[record.arch_id][epochs]
            assert record.search_metric == pytest.approx(100 * np.mean([v for v, _, _ in runs]))
            assert record.cost_seconds == pytest.approx(np.mean([t for _, _, t in runs]))
            report = 100 * np.mean([t for _, t, _ in truth[record.arch_id][108]])
            assert record.report_metric == pytest.approx(report)  # always at 108 epochs
            spec = bench.spec_of(record.arch_id)  # the stored cell hashes back to its key
            assert bench.space.arch_id(spec) == record.arch_id
        best = bench.best_by_search()
        assert best.search_metric == max(r.search_metric for r in records)
        assert bench.num_queries == 0  # analysis is free


def test_low_fidelity_budget_and_missing_budget(tables, specs):
    low = NB101Benchmark(tables["full"], epochs=4)
    high = NB101Benchmark(tables["full"], epochs=108)
    assert low.lookup(specs[0]).search_metric < high.lookup(specs[0]).search_metric
    assert low.lookup(specs[0]).cost_seconds < high.lookup(specs[0]).cost_seconds
    with pytest.raises(SeminasError) as exc:
        NB101Benchmark(tables["only108"], epochs=12)
    message = one_line(exc)
    assert "12 epochs" in message and "available epoch budgets are 108" in message
    with pytest.raises(SeminasError, match="are 4, 12, 36, 108"):
        NB101Benchmark(tables["full"], epochs=200)


def test_conversion_reports_its_bytes_to_a_progress_and_draws_nothing(tables, capfd):
    from seminas.benchmarks.nb101 import load_table
    from seminas.progress import CallbackProgress

    seen: list = []
    progress = CallbackProgress(lambda *a: seen.append(("start", *a)),
                                lambda n, note: seen.append(("advance", n)),
                                lambda: seen.append(("finish",)))
    size = tables["full"].stat().st_size
    _, _, built = load_table(tables["full"], progress=progress)
    assert built and seen[0] == ("start", "converting nasbench_full.tfrecord (once)", size,
                                 "bytes")
    assert seen[-1] == ("finish",)
    assert sum(e[1] for e in seen if e[0] == "advance") == size  # every byte, once
    assert capfd.readouterr().err == ""
    seen.clear()
    assert not load_table(tables["full"], progress=progress)[2] and seen == []  # from the cache


def test_cache_is_built_once_then_reused(tables, monkeypatch):
    first = NB101Benchmark(tables["full"])
    assert first.cache_built and first.cache_path.is_file()
    assert first.cache_path.parent.parent == Path(cache_dir())

    def no_reading(*args, **kwargs):
        raise AssertionError("the tfrecord file was read again")

    monkeypatch.setattr(nb101_convert, "iter_tfrecords", no_reading)
    second = NB101Benchmark(tables["full"], epochs=36)
    assert not second.cache_built and second.cache_path == first.cache_path
    assert second.lookup_hash(first.table.hash_at(0)).arch_id == first.table.hash_at(0)

    with np.load(first.cache_path, allow_pickle=False) as z:  # no pickles inside
        arrays = {name: z[name] for name in z.files}
    assert all(a.dtype != object for a in arrays.values())
    assert arrays["hashes"].dtype == np.dtype("S32") and arrays["adjacency"].shape[1:] == (7, 7)
    assert arrays["adjacency"].dtype == np.uint8 and arrays["ops"].dtype == np.int8
    assert sorted(arrays["epochs"].tolist()) == list(FULL_EPOCHS)
    assert arrays["val_108"].shape == (N_CELLS, 3)
    assert list(arrays["hashes"]) == sorted(arrays["hashes"])


def test_changed_or_damaged_cache_is_rebuilt(tmp_path, tables, specs):
    path = tmp_path / "table.tfrecord"
    path.write_bytes(tables["only108"].read_bytes())
    first = NB101Benchmark(path)
    good = first.cache_path.read_bytes()
    for garbage in (b"not a zip file", good[: len(good) // 2]):
        first.cache_path.write_bytes(garbage)
        damaged = NB101Benchmark(path)
        assert damaged.cache_built and damaged.lookup(specs[0]) == first.lookup(specs[0])

    write_synthetic_nb101(path, specs[:20], seed=9)  # the user replaced the file
    changed = NB101Benchmark(path)
    assert changed.cache_built and changed.cache_path != first.cache_path
    assert len(changed) == 20


def test_unknown_architecture_names_its_hash(tables, specs):
    bench = NB101Benchmark(tables["only108"])
    known = {bench.space.arch_id(s) for s in specs}
    stranger = next(s for s in synthetic_specs(80, seed=123) if bench.space.arch_id(s) not in known)
    key = bench.space.arch_id(stranger)
    with pytest.raises(UnknownArchitectureError) as exc:
        bench.query(stranger)
    assert key in one_line(exc) and str(tables["only108"]) in str(exc.value)
    assert bench.num_queries == 0  # a failed query is not charged
    with pytest.raises(UnknownArchitectureError, match="f" * 32):
        bench.lookup_hash("f" * 32)
    with pytest.raises(SeminasError, match="32 hexadecimal digits"):
        bench.query_hash("not-a-hash")


def test_missing_file_names_path_and_hint(tmp_path, tables):
    missing = tmp_path / "nowhere" / "nasbench_only108.tfrecord"
    with pytest.raises(DataNotFoundError) as exc:
        NB101Benchmark(missing)
    message = one_line(exc)
    assert str(missing) in message and NB101_OFFICIAL_HINT in message

    empty = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as exc:
        NB101Benchmark(data_dir=empty)
    assert str(empty / "nasbench101" / "nasbench_only108.tfrecord") in one_line(exc)

    (empty / "nasbench101").mkdir(parents=True)
    (empty / "nasbench101" / "nasbench_full.tfrecord").write_bytes(tables["full"].read_bytes())
    bench = NB101Benchmark(data_dir=empty, epochs=12)  # the full file is found by default
    assert bench.path.name == "nasbench_full.tfrecord" and bench.epochs == 12


# -- the real 20k subset ------------------------------------------------------------------------
SUBSET = data_dir() / "nasbench101" / "subset-20k.csv"
SPECS = data_dir() / "nasbench101" / "specs-1k.json"
needs_subset = pytest.mark.skipif(
    not (SUBSET.is_file() and SPECS.is_file()),
    reason=f"real NAS-Bench-101 subset not found under {data_dir() / 'nasbench101'} "
    "(set SEMINAS_DATA to the shared data directory)",
)
FIRST_HASH = "00005c142e6f48ac74fdcf73e3439874"


@pytest.fixture(scope="module")
def subset():
    return NB101SubsetBenchmark()


@needs_subset
def test_subset_known_values(subset):
    assert len(subset) == 20_001 == len(list(subset.records()))
    record = subset.lookup_hash(FIRST_HASH)
    assert record.search_metric == pytest.approx(93.0488765)
    assert record.report_metric is None  # no test accuracies in the subset
    assert record.cost_seconds == pytest.approx(1768.97595)
    assert record.params == 8_555_530
    assert subset.num_queries == 0


@needs_subset
def test_subset_every_spec_looks_up_to_its_value(subset):
    entries = json.loads(SPECS.read_text())
    specs = subset.specs()
    assert len(specs) == len(entries) == 1000
    for spec, entry in zip(specs, entries, strict=True):
        record = subset.lookup(spec)
        assert record.arch_id == entry["hash"]
        assert record.search_metric == pytest.approx(100 * entry["val_acc_108ep"], abs=1e-6)
        assert record.params == entry["params"]


@needs_subset
def test_subset_queries_and_budgets():
    bench = NB101SubsetBenchmark()
    spec = bench.specs()[0]
    first, second = bench.query(spec), bench.query(spec)
    assert first == second  # one run per cell: deterministic
    bench.query_hash("0000718c96730a92ea6d5242f8ce77e2")
    assert bench.num_queries == 3 and bench.num_unique_queries == 2
    low = NB101SubsetBenchmark(epochs=12)
    record = low.lookup_hash(FIRST_HASH)
    assert record.search_metric == pytest.approx(42.1975166) and record.cost_seconds is None
    with pytest.raises(SeminasError, match="4, 12, 36, 108"):
        NB101SubsetBenchmark(epochs=50)
    with pytest.raises(UnknownArchitectureError) as exc:
        bench.query_hash("f" * 32)
    assert "f" * 32 in one_line(exc) and "subset" in str(exc.value)
    assert bench.num_queries == 3


# -- the official file, when a user has it -----------------------------------------------------
OFFICIAL = data_dir() / "nasbench101" / "nasbench_only108.tfrecord"


@pytest.mark.slow
@pytest.mark.skipif(not OFFICIAL.is_file(), reason=f"official file {OFFICIAL} not present")
def test_official_table_known_facts():
    bench = NB101Benchmark(OFFICIAL)
    assert len(bench) == 423_624
    assert bench.best_by_report().report_metric == pytest.approx(94.32, abs=0.01)
    assert bench.best_by_search().search_metric == pytest.approx(95.06, abs=0.01)
