"""``seminas data import``: every official layout round-trips value for value, the imported table
serves NB201Benchmark (with single runs, epochs and learning curves), and hostile files are
refused in one line with exit code 2, without running anything and without leaving a cache."""

from __future__ import annotations

import bz2
import io
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from nb201_official import (
    EVAL_SETS,
    PTH_LABELS,
    THIN_SPEC,
    benchmark_dict,
    cells,
    naslib_table,
    write_nats_dir,
    write_pbz2,
    write_pickle,
    write_pth,
    write_pth_legacy_fast,
)

from seminas.benchmarks.nb201_table import N_CELLS, NB201Table, load_embedded, metric_key
from seminas.errors import SeminasError
from seminas.importers import arch_results, import_path
from seminas.importers.builder import TableBuilder, curve_name
from seminas.importers.readers import read_nats_dir, read_pickle_file, read_torch
from seminas.importers.safe_pickle import RefusedPickle, RestrictedUnpickler, StreamingUnpickler
from seminas.importers.sniff import sniff
from seminas.progress import Progress

RICH_CELLS = (0, 1, 2, 6111, 15624)
BOMB = bytes.fromhex(
    "425a6839314159265359c85d2a48057e38c440c50040004001000820005086004d553d4cd33645404b08a8"
    "096fc22a025bb9cdc22a025e3141592653596d9494790122f54000c2000008200030cc0529a64954846c52"
    "55211e2ee48a70a121fa5d81d0"
)
# cell 2 lacks one 200-epoch cifar10 run and one 12-epoch cifar10-valid run: NaN, not a value
DROPS = {2: [("200", "cifar10", 888), ("12", "cifar10-valid", 777)]}


@pytest.fixture(scope="module")
def official() -> list[str]:
    return load_embedded().arch_strings()


@pytest.fixture(scope="module")
def rich(official):
    return cells(official, RICH_CELLS, drop=DROPS, seed=3)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Imports must never land in the session cache that other tests read NB201 from."""
    monkeypatch.setenv("SEMINAS_CACHE", str(tmp_path / "cache"))


def cache_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


def run_cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEMINAS_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "seminas.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def assert_refused(path: Path, capsys, *words: str) -> str:
    """Through the CLI: exit code 2, exactly one line on stderr naming the file and what is
    wrong, nothing on stdout, nothing in the cache."""
    from seminas.cli import main

    capsys.readouterr()
    code = main(["data", "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: ") and path.name in line, line
    for word in words:
        assert word in line, line
    assert out == ""
    assert cache_files(Path(os.environ["SEMINAS_CACHE"])) == []
    return line


# -- expected values, computed from the fixture dicts (independently of the importer) ----------
def roles(dataset: str) -> dict[str, str]:
    names = EVAL_SETS[dataset]
    out = {"test": "x-test" if "x-test" in names else "ori-test"}
    if "x-valid" in names:
        out["valid"] = "x-valid"
    if "x-test" in names:
        out["valtest"] = "ori-test"
    return out


def expected(rc: dict, dataset: str) -> tuple[dict[str, float], dict[str, list[float]]]:
    epochs = rc["epochs"]
    last = epochs - 1
    total = sum(rc["train_times"].values())
    finals = {
        "train_acc": rc["train_acc1es"][last],
        "train_loss": rc["train_losses"][last],
        "train_time": total,
        "train_epoch_time": total / epochs,
        "params": float(rc["params"]),
        "flops": rc["flop"],
        "latency": sum(float(x) for x in rc["latency"]) / len(rc["latency"]),
    }
    curves = {}
    for role, name in roles(dataset).items():
        finals[f"{role}_acc"] = rc["eval_acc1es"][f"{name}@{last}"]
        finals[f"{role}_loss"] = rc["eval_losses"][f"{name}@{last}"]
        finals[f"{role}_eval_time"] = sum(rc["eval_times"][f"{name}@{e}"] for e in range(epochs))
        if role == "valid":
            curves["valid_acc"] = [rc["eval_acc1es"][f"{name}@{e}"] for e in range(epochs)]
            curves["valid_loss"] = [rc["eval_losses"][f"{name}@{e}"] for e in range(epochs)]
    return finals, curves


def check_round_trip(built, by_index: dict, hp_epochs: dict[str, int]) -> int:
    """Every stored value equals the fixture's; cells and runs the fixture lacks are NaN."""
    checked = 0
    groups: dict[tuple[int, str], dict[int, dict[int, dict]]] = {}
    for index, per_hp in by_index.items():
        for hp, ar in per_hp.items():
            for (dataset, seed), rc in ar["all_results"].items():
                groups.setdefault((hp_epochs[hp], dataset), {}).setdefault(seed, {})[index] = rc
    assert {f"{d}.{f}ep" for f, d in groups} == set(built.seeds)
    for (fid, dataset), by_seed in groups.items():
        seeds = sorted(by_seed)
        assert built.seeds[f"{dataset}.{fid}ep"] == seeds
        metrics = set()
        for seed, per_cell in by_seed.items():
            col = seeds.index(seed)
            for index in RICH_CELLS:
                rc = per_cell.get(index)
                if rc is None:
                    continue
                finals, curves = expected(rc, dataset)
                metrics |= set(finals)
                for metric, value in finals.items():
                    got = built.arrays[metric_key(dataset, metric, fid) + "#seeds"][index, col]
                    assert got == value, (dataset, fid, seed, index, metric)
                    checked += 1
                for metric, values in curves.items():
                    got = built.curves[curve_name(dataset, metric, fid)][index, col]
                    np.testing.assert_array_equal(got, np.float32(values))
                    checked += len(values)
        for metric in metrics:
            per_seed = built.arrays[metric_key(dataset, metric, fid) + "#seeds"]
            absent = np.ones((N_CELLS, len(seeds)), dtype=bool)
            for seed, per_cell in by_seed.items():
                absent[list(per_cell), seeds.index(seed)] = False
            assert np.isnan(per_seed[absent]).all()
            mean = built.arrays[metric_key(dataset, metric, fid)]
            with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
                np.testing.assert_array_equal(mean, np.nanmean(per_seed, axis=1))
    return checked


def read_into_builder(path: Path, official) -> object:
    builder = TableBuilder(str(path), official)
    kind = sniff(path)
    if kind.startswith("torch"):
        read_torch(path, kind, builder, Progress())
    elif kind == "nats-dir":
        read_nats_dir(path, builder, Progress())
    else:
        read_pickle_file(path, kind, builder, Progress())
    return builder


# -- the restricted unpickler ---------------------------------------------------------------
class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_allowlist_builds_containers_and_numeric_numpy(protocol):
    import collections

    data = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "s": np.float64(0.129306),
        "i": np.int64(-7),
        "b": b"\x00\xffxyz",
        "set": {1, 2},
        "od": collections.OrderedDict([(0, 1.5)]),
        "t": (("cifar10-valid", 777), None, True),
    }
    blob = pickle.dumps(data, protocol=protocol)
    for load in (
        lambda: RestrictedUnpickler(io.BytesIO(blob), "t").load(),
        lambda: StreamingUnpickler(
            io.BufferedReader(io.BytesIO(blob)), "t", lambda *a: False
        ).load(),
    ):
        got = load()
        assert got.keys() == data.keys()
        np.testing.assert_array_equal(got["a"], data["a"])
        assert got["a"].dtype == np.float32 and type(got["s"]) is np.float64
        assert got["s"] == data["s"] and got["i"] == -7 and got["b"] == data["b"]
        assert got["set"] == {1, 2} and got["od"] == data["od"] and got["t"] == data["t"]


def test_object_arrays_and_foreign_globals_are_refused(tmp_path):
    marker = tmp_path / "ran"
    for obj in (np.array([None], dtype=object), Evil(marker), {"x": print}):
        blob = pickle.dumps(obj, protocol=2)
        with pytest.raises(RefusedPickle):
            RestrictedUnpickler(io.BytesIO(blob), "t").load()
        with pytest.raises(RefusedPickle):
            StreamingUnpickler(io.BufferedReader(io.BytesIO(blob)), "t", lambda *a: False).load()
    assert not marker.exists()


def test_torch_weights_are_dropped_unread():
    import torch

    blob = pickle.dumps({"net_state_dict": torch.nn.Linear(3, 2).state_dict(), "params": 0.5})
    got = RestrictedUnpickler(io.BytesIO(blob), "t").load()
    assert got["params"] == 0.5
    assert list(got["net_state_dict"]) == ["weight", "bias"]
    assert all(repr(v) == "<dropped weights>" for v in got["net_state_dict"].values())


# -- every layout, value for value ----------------------------------------------------------
@pytest.mark.parametrize("layout", ["pth-zip", "pth-legacy", "nats-pbz2", "nats-dir"])
def test_each_official_layout_round_trips(layout, tmp_path, official, rich):
    if layout.startswith("pth"):
        path = write_pth(
            tmp_path / "NAS-Bench-201-v1_1-096897.pth",
            benchmark_dict(official, rich, PTH_LABELS),
            legacy=layout == "pth-legacy",
        )
    elif layout == "nats-pbz2":
        path = write_pbz2(
            tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", benchmark_dict(official, rich, None)
        )
    else:
        path = write_nats_dir(tmp_path / "NATS-tss-v1_0-3ffb9-simple", official, rich)
    builder = read_into_builder(path, official)
    built = builder.finish()
    assert check_round_trip(built, rich, {"12": 12, "200": 200}) > 1000
    # the table serves cifar10 searches from cifar10-valid's validation numbers
    np.testing.assert_array_equal(
        built.arrays["cifar10.valid_acc.12ep"], built.arrays["cifar10-valid.valid_acc.12ep"]
    )
    seeds_200 = built.seeds["cifar10.200ep"]
    assert seeds_200 == [777, 888]
    assert math.isnan(built.arrays["cifar10.test_acc.200ep#seeds"][2, 1])  # the dropped run
    groups = {(g["dataset"], g["fidelity"]): g for g in built.groups}
    assert groups[("cifar10", 200)]["runs"] == 2 * len(RICH_CELLS) - 1
    assert groups[("cifar10", 200)]["runs_per_cell"] == {"0": N_CELLS - 5, "1": 1, "2": 4}


def test_the_fast_legacy_writer_writes_what_torch_save_writes(tmp_path, official, rich):
    data = benchmark_dict(official, rich, PTH_LABELS)
    fast = write_pth_legacy_fast(tmp_path / "fast.pth", data).read_bytes()
    assert fast == write_pth(tmp_path / "torch.pth", data, legacy=True).read_bytes()


@pytest.mark.parametrize("tuple_keys", [False, True])
def test_naslib_pickle_round_trips(tuple_keys, tmp_path, official):
    table = naslib_table(official, RICH_CELLS, "cifar10-valid", 5, seed=4, tuple_keys=tuple_keys)
    path = write_pickle(tmp_path / "nb201_cifar10_full_training.pickle", table)
    built = read_into_builder(path, official).finish()
    assert built.seeds == {"cifar10-valid.5ep": [None]}
    for key, cell in table.items():
        arch = key if isinstance(key, str) else None
        index = official.index(arch) if arch else None
        info = cell["cifar10-valid"]
        if index is None:
            index = next(i for i in RICH_CELLS if official[i] == _naslib_arch(key, official))
        f = info["cost_info"]
        want = {
            "valid_acc": info["eval_acc1es"][-1],
            "valid_loss": info["eval_losses"][-1],
            "train_acc": info["train_acc1es"][-1],
            "train_loss": info["train_losses"][-1],
            "params": f["params"],
            "flops": f["flops"],
            "latency": f["latency"],
            "train_epoch_time": f["train_time"],
            "train_time": f["train_time"] * 5,
        }
        for metric, value in want.items():
            assert built.arrays[f"cifar10-valid.{metric}.5ep"][index] == value, metric
        for metric, values in (
            ("valid_acc", info["eval_acc1es"]),
            ("valid_loss", info["eval_losses"]),
        ):
            got = built.curves[curve_name("cifar10-valid", metric, 5)][index, 0]
            np.testing.assert_array_equal(got, np.float32(values))
    assert "cifar10-valid.valid_acc.5ep#seeds" not in built.arrays  # no seeds recorded


def _naslib_arch(key, official):
    from nb201_official import naslib_key

    return next(a for a in (official[i] for i in RICH_CELLS) if naslib_key(a) == tuple(key))


# -- a complete file through the command line and into the benchmark ----------------------
@pytest.fixture(scope="module")
def full_import(tmp_path_factory, official):
    """All 15,625 cells (two cifar10-valid seeds, one cifar10 seed, 2 epochs) in the legacy
    torch format of the official v1.x files (byte for byte what torch.save writes, see
    test_the_fast_legacy_writer_writes_what_torch_save_writes), imported once through the CLI."""
    root = tmp_path_factory.mktemp("full")
    by = cells(official, range(N_CELLS), spec=THIN_SPEC, seed=5)
    path = write_pth_legacy_fast(
        root / "NAS-Bench-201-v1_1-096897.pth", benchmark_dict(official, by, PTH_LABELS)
    )
    cache = root / "cache"
    proc = run_cli("data", "import", str(path), "--json", cache=cache)
    assert proc.returncode == 0, proc.stderr
    return {"by": by, "summary": json.loads(proc.stdout), "cache": cache, "path": path}


@pytest.fixture
def use_import(full_import, monkeypatch, tmp_path):
    """NB201Benchmark sees only the imported table (no data directory with CSVs)."""
    monkeypatch.setenv("SEMINAS_CACHE", str(full_import["cache"]))
    monkeypatch.delenv("SEMINAS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-user-data"))
    return full_import


def test_cli_summary_says_what_the_file_held(full_import):
    s = full_import["summary"]
    assert s["benchmark"] == "nb201" and s["cells"] == N_CELLS
    assert s["format"] == "NAS-Bench-201 .pth v1.1 (torch legacy format)"
    assert s["datasets"] == ["cifar10", "cifar10-valid"] and s["fidelities"] == [200]
    groups = {g["dataset"]: g for g in s["groups"]}
    assert groups["cifar10-valid"]["seeds"] == [777, 888]
    assert groups["cifar10-valid"]["runs"] == 2 * N_CELLS
    assert groups["cifar10"]["seeds"] == [777] and groups["cifar10"]["epochs"] == 2
    assert set(groups["cifar10-valid"]["curves"]) == {"valid_acc", "valid_loss"}
    assert s["source_files"][0]["sha256"] == _sha256(full_import["path"])
    table = Path(s["files"]["table"])
    assert table.parent == full_import["cache"] / "nb201" and table.is_file()
    assert sorted(p.name for p in cache_files(full_import["cache"])) == [
        "NAS-Bench-201-v1_1-096897.curves",
        "NAS-Bench-201-v1_1-096897.npz",
    ]
    # the readable summary says the same
    from seminas.importers.summary import ImportSummary

    text = ImportSummary(**{k: v for k, v in s.items() if k not in ("datasets", "fidelities")})
    lines = text.to_text().splitlines()
    assert lines[2] == "  benchmark    nb201, 15,625 cells"
    assert lines[3].strip() == "200 epochs   cifar10: seed 777; 15,625 runs"
    assert lines[4].strip() == "cifar10-valid: seeds 777, 888; 31,250 runs"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_benchmark_uses_the_import_with_runs_epochs_and_curves(use_import):
    from seminas.benchmarks.nb201 import NB201Benchmark

    by = use_import["by"]
    bench = NB201Benchmark("cifar10")
    assert bench.source.kind == "imported"
    for index in (0, 6111, 15624):
        valid = {s: by[index]["200"]["all_results"][("cifar10-valid", s)] for s in (777, 888)}
        test = by[index]["200"]["all_results"][("cifar10", 777)]
        finals = {s: rc["eval_acc1es"]["x-valid@1"] for s, rc in valid.items()}
        record = bench.query(bench.arch_at(index))
        assert record.search_metric == np.nanmean([finals[777], finals[888]])
        assert record.report_metric == test["eval_acc1es"]["ori-test@1"]
        one = bench.query_run(bench.arch_at(index), seed=888)
        assert one.search_metric == finals[888] and one.extra["seed"] == 888
        early = bench.query_run(bench.arch_at(index), seed=777, epoch=1)
        assert early.search_metric == np.float32(valid[777]["eval_acc1es"]["x-valid@0"])
        assert early.cost_seconds == pytest.approx(valid[777]["train_times"][0])
        curve = bench.learning_curve(bench.arch_at(index), seed=888)
        np.testing.assert_array_equal(
            curve, np.float32([valid[888]["eval_acc1es"][f"x-valid@{e}"] for e in range(2)])
        )
        loss = bench.learning_curve(bench.arch_at(index), metric="valid_loss")
        np.testing.assert_allclose(
            loss,
            [
                np.mean([np.float32(valid[s]["eval_losses"][f"x-valid@{e}"]) for s in valid])
                for e in range(2)
            ],
            rtol=1e-6,
        )
    assert bench.num_queries == 9
    with pytest.raises(SeminasError, match=r"no run with seed 5 .*\(seeds: 777, 888\)"):
        bench.query_run(bench.arch_at(0), seed=5)
    with pytest.raises(SeminasError, match="--at-epoch must be 1..2"):
        bench.query_run(bench.arch_at(0), epoch=3)


def test_query_cli_run_seed_and_epoch(use_import):
    by = use_import["by"]
    rc = by[6111]["200"]["all_results"][("cifar10-valid", 888)]
    proc = run_cli(
        "query",
        "--space",
        "nb201",
        "--index",
        "6111",
        "--run-seed",
        "888",
        "--at-epoch",
        "1",
        cache=use_import["cache"],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["search_metric"] == float(np.float32(rc["eval_acc1es"]["x-valid@0"]))
    assert out["extra"] == {"index": 6111, "seed": 888, "epoch": 1}
    bad = run_cli(
        "query", "--space", "nb201", "--index", "1", "--run-seed", "111", cache=use_import["cache"]
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "seed 111" in bad.stderr


def test_damaged_curves_file_is_caught(full_import, tmp_path, monkeypatch):
    cache = tmp_path / "copy"
    shutil.copytree(full_import["cache"], cache)
    curves = next(cache.rglob("*.curves"))
    import zipfile

    with zipfile.ZipFile(curves) as zf:
        info = zf.getinfo(curve_name("cifar10-valid", "valid_acc", 200) + ".npy")
    data = bytearray(curves.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 1000] ^= 0xFF  # inside that array
    curves.write_bytes(bytes(data))
    monkeypatch.setenv("SEMINAS_CACHE", str(cache))
    monkeypatch.delenv("SEMINAS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-user-data"))
    from seminas.benchmarks.nb201 import NB201Benchmark

    bench = NB201Benchmark("cifar10")
    bench.query(bench.arch_at(3))  # the table itself is intact
    with pytest.raises(SeminasError, match="checksum"):
        bench.learning_curve(bench.arch_at(3))


def test_the_imported_table_verifies_and_records_seeds_and_curves(full_import):
    table = NB201Table.load(full_import["summary"]["files"]["table"])
    assert table.meta["seeds"]["cifar10-valid.200ep"] == [777, 888]
    assert table.meta["curves"]["file"] == "NAS-Bench-201-v1_1-096897.curves"


def test_naslib_directory_merges_datasets(tmp_path, official):
    folder = tmp_path / "naslib-data"
    folder.mkdir()
    c10 = naslib_table(official, range(N_CELLS), "cifar10-valid", 3, seed=1)
    c100 = naslib_table(official, range(N_CELLS), "cifar100", 3, seed=2)
    write_pickle(folder / "nb201_cifar10_full_training.pickle", c10)
    write_pickle(folder / "nb201_cifar100_full_training.pickle", c100)
    summary = import_path(folder)
    assert summary.format == "NASLib NAS-Bench-201 pickles (merged)"
    assert summary.datasets == ["cifar10-valid", "cifar100"]
    assert [g["seeds"] for g in summary.groups] == [[None], [None]]
    table = NB201Table.load(summary.files["table"])
    for index in (0, 7777):
        arch = official[index]
        assert (
            table.get("cifar100.valid_acc.3ep")[index] == c100[arch]["cifar100"]["eval_acc1es"][-1]
        )
        assert (
            table.get("cifar10-valid.train_loss.3ep")[index]
            == (c10[arch]["cifar10-valid"]["train_losses"][-1])
        )
    assert "seed not recorded" in summary.to_text()


def test_nb101_tfrecord_is_recognised_and_converted(tmp_path, capsys, monkeypatch):
    from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101

    path = write_synthetic_nb101(
        tmp_path / "nasbench_only108.tfrecord", synthetic_specs(20, 0), seed=1
    )
    cache = tmp_path / "cache"
    proc = run_cli("data", "import", str(path), "--json", cache=cache)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["benchmark"] == "nb101" and s["cells"] == 20 and s["fidelities"] == [108]
    assert s["groups"][0]["runs"] == 60 and s["groups"][0]["runs_per_cell"] == {"3": 20}
    assert Path(s["files"]["table"]).is_file() and "converted now" in s["notes"][0]
    from seminas.cli import main

    monkeypatch.setenv("SEMINAS_CACHE", str(cache))
    capsys.readouterr()
    assert main(["data", "import", str(path)]) == 0
    assert "already converted" in capsys.readouterr().out


# -- hostile and broken files ---------------------------------------------------------------
@pytest.mark.parametrize("container", ["pickle", "pbz2", "pth-zip", "pth-legacy", "nats-dir"])
def test_code_in_a_pickle_is_refused_and_never_runs(container, tmp_path, official, capsys):
    marker = tmp_path / "the-command-ran"
    payload = {official[0]: {"cifar10-valid": {"eval_acc1es": [1.0], "x": Evil(marker)}}}
    if container == "pickle":
        path = write_pickle(tmp_path / "nb201_cifar10_full_training.pickle", payload)
    elif container == "pbz2":
        path = write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", payload)
    elif container.startswith("pth"):
        path = write_pth(tmp_path / "evil.pth", payload, legacy=container == "pth-legacy")
    else:
        path = write_nats_dir(tmp_path / "NATS-tss-v1_0-3ffb9-simple", official, {})
        write_pbz2(path / "000000.pickle.pbz2", {"200": Evil(marker)})
    assert_refused(path, capsys, "posix.system", "nothing was run")
    assert not marker.exists()


def test_the_installed_command_refuses_in_one_line(tmp_path, official):
    marker = tmp_path / "the-command-ran"
    path = write_pickle(tmp_path / "evil.pickle", {"x": Evil(marker)})
    cache = tmp_path / "cache"
    proc = run_cli("data", "import", str(path), cache=cache)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "evil.pickle" in proc.stderr
    assert "posix.system" in proc.stderr and not marker.exists() and cache_files(cache) == []


def test_decompression_bomb_is_capped(tmp_path, capsys):
    # bz2 of a pickle that claims a 100 MB bytes object, followed by 80 MB of zeros (made with
    # bz2.BZ2Compressor(9); kept as bytes so the test does not spend a second compressing)
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    path.write_bytes(BOMB)
    assert bz2.BZ2Decompressor().decompress(BOMB, max_length=11) == b"\x80\x04\x8e" + (
        100 << 20
    ).to_bytes(8, "little")
    assert path.stat().st_size < 200
    assert_refused(path, capsys, "expands past", "decompression bomb")


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, official, rich):
    root = tmp_path_factory.mktemp("small")
    return {
        "pth-zip": write_pth(root / "a.pth", benchmark_dict(official, rich, PTH_LABELS)),
        "pth-legacy": write_pth(root / "b.pth", benchmark_dict(official, rich, PTH_LABELS), True),
        "pbz2": write_pbz2(root / "c.pickle.pbz2", benchmark_dict(official, rich, None)),
        "pickle": write_pickle(
            root / "d.pickle", naslib_table(official, RICH_CELLS, "cifar100", 3)
        ),
        "nats-dir": write_nats_dir(root / "NATS-tss-v1_0-3ffb9-simple", official, rich),
    }


@pytest.mark.parametrize("layout", ["pth-zip", "pth-legacy", "pbz2", "pickle", "nats-dir"])
def test_truncated_files_are_refused(layout, small_files, tmp_path, capsys):
    src = small_files[layout]
    if layout == "nats-dir":
        path = tmp_path / src.name
        shutil.copytree(src, path)
        cell = path / "006111.pickle.pbz2"
        cell.write_bytes(cell.read_bytes()[: cell.stat().st_size // 2])
        line = assert_refused(path, capsys, "truncated")
        assert "006111.pickle.pbz2" in line
        return
    path = tmp_path / src.name
    path.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.6)])
    line = assert_refused(path, capsys)
    assert "truncated" in line or "damaged" in line


@pytest.mark.parametrize("kind", ["png", "csv", "empty", "tar", "dir", "binary"])
def test_files_of_the_wrong_kind_are_refused(kind, tmp_path, small_files, capsys):
    path = tmp_path / f"file.{kind}"
    if kind == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        words = ("PNG image",)
    elif kind == "csv":
        path.write_text(
            "arch_str,valid-accuracy\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n"
        )
        words = ("CSV",)
    elif kind == "empty":
        path.write_bytes(b"")
        words = ("empty",)
    elif kind == "tar":
        with tarfile.open(path, "w") as tar:
            tar.add(small_files["nats-dir"], arcname="NATS-tss-v1_0-3ffb9-simple")
        words = ("tar archive", "unpack it first")
    elif kind == "dir":
        path.mkdir()
        (path / "notes.txt").write_text("hello")
        words = ("not a NATS-Bench archive",)
    else:
        path.write_bytes(bytes(range(256)) * 4)
        words = ("unknown kind",)
    assert_refused(path, capsys, *words)


def test_tables_missing_cells_are_refused(small_files, tmp_path, official, rich, capsys):
    for layout in ("pth-legacy", "pbz2", "nats-dir"):
        assert_refused(
            small_files[layout],
            capsys,
            "holds 5 of the 15,625",
            "missing cells 3, 4, 5, 6, 7 and 15,615 more",
        )
    # a file whose own list of evaluated cells names one it has no results for
    path = write_pth(
        tmp_path / "declared.pth",
        benchmark_dict(official, rich, PTH_LABELS, evaluated=[*RICH_CELLS, 42]),
    )
    assert_refused(
        path, capsys, "lists 6 evaluated cells but holds results for only 5", "missing cell 42"
    )


def test_a_cell_in_the_wrong_place_is_refused(tmp_path, official, rich, capsys):
    moved = {7: rich[6111]}  # cell 6111's results filed under index 7
    path = write_pbz2(tmp_path / "moved.pickle.pbz2", benchmark_dict(official, moved, None))
    assert_refused(path, capsys, "cell 7")


def test_cells_sharing_objects_fail_loudly(tmp_path, official, capsys):
    """The streaming reader forgets each converted cell; a file whose later cells point back
    into earlier ones is refused, never read wrongly."""
    by = cells(official, [0, 1], spec={"200": (2, {"cifar10": [777]})})
    shared = by[0]["200"]["all_results"][("cifar10", 777)]["latency"]
    by[1]["200"]["all_results"][("cifar10", 777)]["latency"] = shared
    path = write_pbz2(tmp_path / "shared.pickle.pbz2", benchmark_dict(official, by, None))
    assert_refused(path, capsys, "refers back to data of a cell already converted")


def test_hp_labels_and_eval_set_roles():
    assert arch_results.hp_fidelity("less", "x") == 12
    assert arch_results.hp_fidelity("full", "x") == 200
    assert arch_results.hp_fidelity("90", "x") == 90
    with pytest.raises(SeminasError, match="unknown training setting"):
        arch_results.hp_fidelity("huge", "x")
