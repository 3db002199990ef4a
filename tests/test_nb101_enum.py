"""The NAS-Bench-101 enumeration: the published count, agreement with real benchmark hashes, the
builder against brute force on small cells, sampling, and the on-disk cache."""

import itertools
import json
import time

import numpy as np
import pytest

from seminas.data import data_dir
from seminas.errors import SeminasError
from seminas.spaces import nb101_enum as ne
from seminas.spaces.nb101 import (
    OPS,
    NB101Space,
    graph_hash,
    make_spec,
    prune,
    spec_from_labels,
)


def need(relpath: str):
    path = data_dir() / relpath
    if not path.is_file():
        pytest.skip(f"real data file {path} is absent (set SEMINAS_DATA to the shared data dir)")
    return path


@pytest.fixture(scope="session")
def small() -> ne.NB101Enumeration:
    """Cells of at most 5 vertices: built in well under a second."""
    return ne.build(max_vertices=5, workers=1)


def brute_force_hashes(max_vertices: int, max_edges: int) -> set[str]:
    """Every cell by the definition: all upper-triangular matrices on ``max_vertices`` vertices
    and all inner ops, pruned by the official rule. Smaller cells come out of the pruning (an
    m-vertex cell is an n-vertex matrix whose extra inner vertices are isolated)."""
    n = max_vertices
    rows, cols = np.triu_indices(n, k=1)
    cells = set()
    for bits in range(1 << len(rows)):
        mat = np.zeros((n, n), dtype=np.int64)
        mat[rows, cols] = [(bits >> k) & 1 for k in range(len(rows))]
        pruned = prune(mat, list(range(n)))  # ops = vertex ids: tells which vertices survive
        if pruned is None or pruned[0].sum() > max_edges:
            continue
        pmat, keep = pruned
        for inner in itertools.product(range(len(OPS)), repeat=n - 2):
            labels = (-1, *inner, -2)
            cells.add((pmat.tobytes(), len(keep), tuple(labels[v] for v in keep)))
    out = set()
    for raw, m, labels in cells:
        spec = spec_from_labels(np.frombuffer(raw, dtype=np.int64).reshape(m, m), labels)
        out.add(graph_hash(spec.matrix, spec.labels()))
    return out


# -- the full space ----------------------------------------------------------------------------
def test_full_space_has_the_published_count_of_unique_cells(enum):
    assert len(enum) == ne.NB101_SIZE == 423_624
    assert enum.is_full
    # strictly increasing: unique, and sorted so that lookups are a binary search
    assert np.all(enum.hashes[1:] > enum.hashes[:-1])
    assert set(np.unique(enum.num_vertices).tolist()) == {2, 3, 4, 5, 6, 7}


def test_cells_are_pruned_upper_triangular_and_hash_to_their_id(enum):
    rng = np.random.default_rng(0)
    for i in [0, len(enum) - 1, *rng.choice(len(enum), size=1500, replace=False).tolist()]:
        spec = enum.spec(i)
        mat = spec.adjacency()
        assert not np.tril(mat).any()
        assert spec.num_edges <= 9 and 2 <= spec.num_vertices <= 7
        assert make_spec(spec.matrix, spec.ops) == spec  # already in pruned form
        assert graph_hash(spec.matrix, spec.labels()) == enum.hash(i)


def test_every_hash_of_the_real_20k_subset_is_enumerated(enum):
    import pandas as pd

    table = pd.read_csv(need("nasbench101/subset-20k.csv"), usecols=["hash"], dtype=str)
    hashes = table["hash"].tolist()
    assert len(hashes) == 20_001
    idx = enum.indices_of(hashes)
    missing = [h for h, i in zip(hashes, idx, strict=True) if i < 0]
    assert not missing, f"{len(missing)} benchmark hashes are not enumerated, e.g. {missing[:3]}"
    assert len(set(idx.tolist())) == len(hashes)


def test_real_specs_round_trip_through_the_enumeration(enum):
    records = json.loads(need("nasbench101/specs-1k.json").read_text())
    assert len(records) == 1000
    for rec in records:
        h = rec["hash"]
        i = enum.index_of(h)
        assert i is not None and h in enum
        spec = enum.spec(i)
        assert graph_hash(spec.matrix, spec.labels()) == h
    space = NB101Space(enum, restrict=True)
    for rec in records[:50]:
        spec = space.validate({"matrix": rec["matrix"], "labels": rec["labels"]})
        assert space.arch_id(spec) == rec["hash"]


def test_lookups_of_unknown_or_malformed_hashes(enum):
    real = enum.hash(123)
    assert enum.index_of(real) == 123
    for bad in ("0" * 32, "f" * 32, real.upper(), real[:-1], real + "0", "", None, 42, b"x"):
        assert enum.index_of(bad) is None
        assert bad not in enum
    idx = enum.indices_of([real, "nope", "0" * 32, enum.hash(-1)])
    assert idx.tolist() == [123, -1, -1, len(enum) - 1]
    with pytest.raises(IndexError):
        enum.spec(len(enum))


# -- sampling ----------------------------------------------------------------------------------
def test_sample_is_distinct_valid_and_deterministic_per_seed(enum):
    start = time.perf_counter()
    cells = enum.sample(10_000, np.random.default_rng(7))
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"sampling 10,000 cells took {elapsed:.1f}s"
    ids = [graph_hash(c.matrix, c.labels()) for c in cells[:300]]
    assert all(i in enum for i in ids)
    assert len(enum.sample_indices(10_000, np.random.default_rng(7))) == 10_000
    assert len(set(enum.sample_indices(10_000, np.random.default_rng(7)).tolist())) == 10_000
    again = enum.sample(10_000, np.random.default_rng(7))
    assert again == cells
    other = enum.sample(10_000, np.random.default_rng(8))
    assert other != cells


def test_sample_respects_exclude(enum):
    rng = np.random.default_rng(1)
    first = enum.sample_indices(5_000, rng)
    excluded = {enum.hash(i) for i in first} | {"not-a-hash", "0" * 32}
    second = enum.sample_indices(5_000, rng, exclude=excluded)
    assert not set(first.tolist()) & set(second.tolist())
    space = NB101Space(enum)
    drawn = space.sample(50, np.random.default_rng(2), exclude=excluded)
    assert len({space.arch_id(c) for c in drawn}) == 50
    assert not {space.arch_id(c) for c in drawn} & excluded


def test_sample_exhausts_a_small_space_exactly(small):
    everything = small.sample_indices(len(small), np.random.default_rng(0))
    assert sorted(everything.tolist()) == list(range(len(small)))
    with pytest.raises(SeminasError, match="unseen cells"):
        small.sample(len(small), np.random.default_rng(0), exclude=[small.hash(0)])
    assert small.sample(0, np.random.default_rng(0)) == []


# -- the builder -------------------------------------------------------------------------------
@pytest.mark.parametrize(("max_vertices", "max_edges"), [(2, 9), (3, 9), (4, 9), (5, 9), (5, 5)])
def test_builder_matches_brute_force_on_small_cells(max_vertices, max_edges):
    built = ne.build(max_vertices=max_vertices, max_edges=max_edges, workers=1)
    expected = brute_force_hashes(max_vertices, max_edges)
    assert len(built) == len(expected)
    assert {built.hash(i) for i in range(len(built))} == expected
    for i in range(len(built)):
        spec = built.spec(i)
        assert spec.num_edges <= max_edges and spec.num_vertices <= max_vertices
        assert make_spec(spec.matrix, spec.ops) == spec
        assert graph_hash(spec.matrix, spec.labels()) == built.hash(i)


def test_small_parts_agree_with_the_full_space(small, enum):
    assert np.all(enum.indices_of(small.hashes.astype(str)) >= 0)
    in_full = enum.num_vertices <= 5
    assert int(in_full.sum()) == len(small) == 2532
    assert np.array_equal(np.sort(enum.hashes[in_full]), small.hashes)


def test_builder_with_worker_processes_gives_the_same_cells(small, monkeypatch):
    monkeypatch.setattr(ne, "_BATCH_CELLS", 300)  # several batches, so the pool is used
    parallel = ne.build(max_vertices=5, workers=2)
    assert parallel == small


def test_builder_rejects_limits_outside_the_space():
    with pytest.raises(ValueError, match="max_vertices"):
        ne.build(max_vertices=8)
    with pytest.raises(ValueError, match="max_edges"):
        ne.build(max_edges=10)


# -- the cache ---------------------------------------------------------------------------------
def test_default_cache_path_follows_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMINAS_CACHE", str(tmp_path))
    assert ne.default_cache_path() == tmp_path / "nb101-enumeration-v1.npz"


def test_full_cache_reloads_fast_with_equal_content(enum, monkeypatch):
    if enum.path is None:
        pytest.skip("the enumeration could not be cached on this machine")
    start = time.perf_counter()
    again = ne.load(enum.path)
    elapsed = time.perf_counter() - start
    assert again == enum
    assert elapsed < 2.0, f"loading the cache took {elapsed:.2f}s"

    def no_rebuild(*args, **kwargs):
        raise AssertionError("a valid cache must not be rebuilt")

    monkeypatch.setattr(ne, "build", no_rebuild)
    assert ne.load_or_build(enum.path) == enum


def test_small_cache_round_trip(small, tmp_path):
    path = small.save(tmp_path / "sub" / "part.npz")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    loaded = ne.load(path)
    assert loaded == small and loaded.path == path
    assert (loaded.max_vertices, loaded.max_edges) == (5, 9)
    assert [loaded.spec(i) for i in range(50)] == [small.spec(i) for i in range(50)]


def _corrupt(kind: str, small: ne.NB101Enumeration, path) -> None:
    if kind == "garbage":
        path.write_bytes(b"this is not a zip archive\n" * 10)
    elif kind == "truncated":
        small.save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "foreign":
        np.savez(path, x=np.arange(3))
    elif kind == "pickled":
        np.savez(path, format=np.array(1), max_vertices=np.array(5), max_edges=np.array(9),
                 hashes=np.array([{"a": 1}], dtype=object), masks=np.zeros(1, np.uint32),
                 num_vertices=np.zeros(1, np.uint8), ops=np.zeros((1, 5), np.int8))
    elif kind == "tampered":
        hashes = small.hashes.copy()
        hashes[0] = b"0" * 32  # still sorted, but no longer the cell's hash
        ne.NB101Enumeration(hashes, small.masks, small.num_vertices, small.ops,
                            max_vertices=5).save(path)
    elif kind == "wrong-count":
        ne.NB101Enumeration(small.hashes, small.masks, small.num_vertices, small.ops).save(path)
    elif kind == "bad-ops":
        ops = small.ops.copy()
        ops[ops == -1] = 1
        ne.NB101Enumeration(small.hashes, small.masks, small.num_vertices, ops,
                            max_vertices=5).save(path)
    elif kind == "future-version":
        small.save(path)
        with np.load(path) as data:
            arrays = dict(data)
        arrays["format"] = np.array(99)
        np.savez(path, **arrays)
    else:
        raise ValueError(kind)


CORRUPTIONS = {
    "garbage": "not a readable",
    "truncated": "not a readable",
    "foreign": "no array 'format'",
    "pickled": "not a readable",
    "tampered": "does not hash to its stored hash",
    "wrong-count": "the full space has 423624",
    "bad-ops": "op labels out of range",
    "future-version": "format version 99",
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_invalid_cache_files_are_refused_with_a_clear_message(kind, small, tmp_path):
    path = tmp_path / ne.CACHE_NAME
    _corrupt(kind, small, path)
    with pytest.raises(ne.EnumerationCacheError, match=CORRUPTIONS[kind]) as info:
        ne.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, SeminasError)  # the CLI prints it as one line


def test_missing_cache_file_is_refused(tmp_path):
    with pytest.raises(ne.EnumerationCacheError, match="no enumeration cache"):
        ne.load(tmp_path / "absent.npz")


@pytest.mark.parametrize("kind", ["garbage", "tampered", "partial"])
def test_load_or_build_rebuilds_a_bad_cache_with_a_warning(kind, small, enum, tmp_path,
                                                           monkeypatch):
    path = tmp_path / ne.CACHE_NAME
    if kind == "partial":
        small.save(path)
        message = "partial enumeration"
    else:
        _corrupt(kind, small, path)
        message = CORRUPTIONS[kind]
    calls = []

    def fake_build(*args, **kwargs):  # the real full build is tested by the `enum` fixture
        calls.append(kwargs)
        return ne.NB101Enumeration(enum.hashes, enum.masks, enum.num_vertices, enum.ops)

    monkeypatch.setattr(ne, "build", fake_build)
    with pytest.warns(UserWarning, match=message):
        rebuilt = ne.load_or_build(path)
    assert len(calls) == 1 and rebuilt == enum
    assert rebuilt.path == path
    assert ne.load(path) == enum  # the bad file was replaced by a valid one


def test_cli_enumerate_prints_count_and_cache_path(enum, capsys):
    from seminas.cli import main

    assert main(["space", "nb101", "enumerate", "--cache", str(enum.path), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "423624 unique cells"
    assert out[1] == f"cache: {enum.path}"
