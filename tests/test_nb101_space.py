import json
import random

import numpy as np
import pytest
from conftest import need

from seminas.errors import InvalidArchitectureError
from seminas.spaces.nb101 import (
    CONV1X1,
    CONV3X3,
    MAXPOOL3X3,
    NB101Space,
    graph_hash,
    make_spec,
    spec_from_labels,
)

SPACE = NB101Space()


@pytest.fixture(scope="module")
def specs_1k():
    return json.loads(need("nasbench101/specs-1k.json").read_text())


def test_official_hash_of_all_1000_specs(specs_1k):
    assert len(specs_1k) == 1000
    for item in specs_1k:
        assert graph_hash(item["matrix"], item["labels"]) == item["hash"]
        spec = spec_from_labels(item["matrix"], item["labels"])
        assert SPACE.arch_id(spec) == item["hash"]


def test_encoding_round_trip_and_layout(specs_1k):
    mask = SPACE.token_mask()
    for item in specs_1k:
        spec = spec_from_labels(item["matrix"], item["labels"])
        tokens = SPACE.encode(spec)
        assert len(tokens) == 27
        assert all(mask[i, t] for i, t in enumerate(tokens))
        assert SPACE.decode(tokens) == spec


def test_encoding_of_a_known_cell():
    # input -> conv3x3 -> output, plus input -> output
    spec = make_spec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", CONV3X3, "output"])
    assert SPACE.encode(spec) == [2, 4, 2, 2, 6] + [0] * 22


def test_isomorphic_cells_share_the_hash():
    rng = random.Random(0)
    for _ in range(50):
        spec = SPACE.sample_one(np.random.default_rng(rng.randrange(10**6)))
        n = spec.num_vertices
        inner = list(range(1, n - 1))
        rng.shuffle(inner)
        perm = [0] + inner + [n - 1]
        mat = spec.adjacency()
        # relabel vertex perm[i] -> i; the result need not be upper triangular, so hash directly
        permuted = mat[np.ix_(perm, perm)]
        labels = [spec.labels()[p] for p in perm]
        assert graph_hash(permuted, labels) == SPACE.arch_id(spec)


def test_pruning_matches_official_rules():
    # vertex 2 has no path to the output, vertex 3 none from the input: both pruned
    mat = np.zeros((5, 5), dtype=int)
    mat[0, 1] = mat[1, 4] = mat[1, 2] = mat[3, 4] = 1
    spec = make_spec(mat, ["input", CONV1X1, MAXPOOL3X3, CONV3X3, "output"])
    assert spec.num_vertices == 3
    assert spec.ops == ("input", CONV1X1, "output")


@pytest.mark.parametrize(
    "matrix,ops,fragment",
    [
        ([[0, 1], [1, 0]], ["input", "output"], "strictly upper triangular"),
        ([[0, 2], [0, 0]], ["input", "output"], "0 or 1"),
        ([[0, 0], [0, 0]], ["input", "output"], "no path from the input"),
        ([[0, 1], [0, 0]], ["input", "conv5x5"], "unknown NAS-Bench-101 operation 'conv5x5'"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "output"], "3 vertices need 3 ops"),
        ([[0, 1], [0, 0]], ["output", "input"], "first op must be 'input'"),
        (np.zeros((8, 8), dtype=int).tolist(), ["input"] + [CONV3X3] * 6 + ["output"], "2..7"),
        ([[0, 1, 1], [0, 0]], ["input", "a", "output"], "adjacency matrix"),
    ],
)
def test_invalid_specs_say_why(matrix, ops, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        make_spec(matrix, ops)


def test_too_many_edges():
    mat = np.triu(np.ones((7, 7), dtype=int), k=1)
    with pytest.raises(InvalidArchitectureError, match="21 edges after pruning; .* at most 9"):
        make_spec(mat, ["input"] + [CONV3X3] * 5 + ["output"])


@pytest.mark.parametrize(
    "tokens,fragment",
    [
        ([2, 4] + [0] * 24, "length 27"),
        ([3, 4] + [0] * 25, "position 0: edge token must be 1 or 2"),
        ([2, 2] + [0] * 25, "position 1: op token must be 3..6"),
        ([2, 6, 0, 1] + [0] * 23, "must be 0 \\(padding\\)"),
        ([2, 4, 1, 2, 4, 1, 1, 2, 4, 1, 1, 1, 2, 4, 1, 1, 1, 1, 2, 4, 1, 1, 1, 1, 1, 2, 4],
         "position 26: op token must be 3..6|no output vertex"),
    ],
)
def test_decode_errors(tokens, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        SPACE.decode(tokens)


def test_decode_of_unconnected_cell_is_invalid():
    # 3 vertices, no edge from input at all
    with pytest.raises(InvalidArchitectureError, match="no path"):
        SPACE.decode([1, 4, 1, 2, 6] + [0] * 22)


def test_neighbours_and_mutation_are_valid_and_new():
    rng = np.random.default_rng(1)
    for spec in SPACE.sample(20, rng):
        h = SPACE.arch_id(spec)
        nbrs = SPACE.neighbours(spec)
        ids = [SPACE.arch_id(x) for x in nbrs]
        assert nbrs and h not in ids and len(ids) == len(set(ids))
        child = SPACE.mutate(spec, rng)
        assert SPACE.arch_id(child) != h
        assert SPACE.validate(child) == child


def test_rejection_sampler_gives_unique_valid_cells():
    archs = SPACE.sample(200, np.random.default_rng(0))
    assert len({SPACE.arch_id(a) for a in archs}) == 200
    assert not SPACE.uniform


def test_native_notation_round_trip():
    spec = SPACE.sample_one(np.random.default_rng(5))
    native = SPACE.to_native(spec)
    assert SPACE.from_native(json.loads(json.dumps(native))) == spec
    with pytest.raises(InvalidArchitectureError, match="needs 'ops' or 'labels'"):
        SPACE.from_native({"matrix": [[0, 1], [0, 0]]})
