"""Graph encodings, the GNN (invariant to relabelling isomorphic cells), the encoding a predictor
declares, and free labels (parameters, FLOPs and cell statistics computed without training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seminas.predictors.encoding import encode_for, features
from seminas.predictors.free_labels import (
    NB101_FREE_LABELS,
    NB201_FREE_LABELS,
    free_labels,
    nb201_code_free_labels,
)
from seminas.predictors.gnn import GNNPredictor
from seminas.predictors.graphs import (
    GraphBatch,
    nb101_enumeration_graphs,
    nb101_graphs,
    nb201_code_graphs,
    nb201_graphs,
)
from seminas.registry import make_predictor
from seminas.spaces.nb101 import NB101Space, graph_hash, make_spec
from seminas.spaces.nb201 import NB201Space

A_CELL = "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|none~2|"


# -- graphs ----------------------------------------------------------------------------------------
def test_nb201_cells_become_op_on_vertex_dags():
    space = NB201Space()
    g = nb201_graphs([space.validate(A_CELL)])
    # vertices: 0 input, 1..6 the edges (1<-0 pool, 2<-0 conv3, 2<-1 conv1, 3<-0 skip,
    # 3<-1 skip, 3<-2 none), 7 output
    assert g.types[0].tolist() == [0, 5, 4, 3, 2, 2, 1, 6]
    edges = {(int(u), int(v)) for u, v in zip(*np.nonzero(g.adjacency[0]), strict=True)}
    assert edges == {(0, 1), (0, 2), (1, 3), (0, 4), (1, 5), (4, 7), (5, 7)}  # none: no edges
    codes = np.arange(0, space.size, 97)
    archs = [space.from_code(int(c)) for c in codes]
    a, b = nb201_code_graphs(codes), nb201_graphs(archs)
    assert np.array_equal(a.adjacency, b.adjacency) and np.array_equal(a.types, b.types)


def test_nb101_graphs_of_the_enumeration_match_those_of_its_cells():
    from seminas.spaces import nb101_enum as ne

    enum = ne.build(max_vertices=5, workers=1)
    specs = enum.specs(range(len(enum)))
    a, b = nb101_enumeration_graphs(enum), nb101_graphs(specs)
    assert np.array_equal(a.adjacency, b.adjacency) and np.array_equal(a.types, b.types)
    assert (a.types[:, 0] == 0).all() and ((a.types == -1) == (np.arange(7) >= 5)[None]).any()


def test_graph_rows_take_concat_and_keys():
    g = nb201_code_graphs(np.arange(10))
    part = g.take_rows([3, 1])
    both = GraphBatch.concat_rows([part, g.take_rows([3])])
    assert len(both) == 3 and both.row_keys()[0] == both.row_keys()[2] != both.row_keys()[1]


# -- the GNN ---------------------------------------------------------------------------------------
def _nb101_cells():
    a = make_spec(
        [[0, 1, 1, 0, 0, 0, 1],
         [0, 0, 0, 0, 1, 0, 0],
         [0, 0, 0, 1, 0, 0, 0],
         [0, 0, 0, 0, 0, 1, 0],
         [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 0, 0]],
        ["input", "conv3x3", "maxpool", "conv1x1", "conv1x1", "conv3x3", "output"])
    # the same cell with the branches numbered the other way round (isomorphic, same hash)
    b = make_spec(
        [[0, 1, 0, 0, 1, 0, 1],
         [0, 0, 1, 0, 0, 0, 0],
         [0, 0, 0, 1, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 1, 0],
         [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 0, 0]],
        ["input", "maxpool", "conv1x1", "conv3x3", "conv3x3", "conv1x1", "output"])
    return a, b


@pytest.fixture(scope="module")
def fitted_nb101_gnn():
    space = NB101Space()
    specs = space.sample(40, np.random.default_rng(0))
    y = np.array([s.num_edges + 0.5 * s.ops.count("conv3x3-bn-relu") for s in specs])
    return GNNPredictor(seed=0, epochs=10).fit(nb101_graphs(specs), y)


def test_gnn_is_invariant_to_relabelling_isomorphic_nb101_cells(fitted_nb101_gnn):
    a, b = _nb101_cells()
    assert a.matrix != b.matrix
    assert graph_hash(a.adjacency(), a.labels()) == graph_hash(b.adjacency(), b.labels())
    model = fitted_nb101_gnn
    pa, pb = model.predict(nb101_graphs([a, b]))
    assert pa == pytest.approx(pb, abs=1e-5)
    # any renumbering of the vertices, padding ones included, gives the same prediction
    specs = NB101Space().sample(5, np.random.default_rng(1))
    g = nb101_graphs(specs)
    base = model.predict(g)
    rng = np.random.default_rng(2)
    for row in range(len(g)):
        for _ in range(3):
            perm = rng.permutation(g.num_vertices)
            assert model.predict(g.relabelled(row, perm))[0] == pytest.approx(base[row], abs=1e-5)


def test_gnn_fits_from_its_own_generator_only():
    space = NB201Space()
    archs = space.sample(50, np.random.default_rng(0))
    X, y = nb201_graphs(archs), np.arange(50.0)
    state = torch.get_rng_state()
    one = GNNPredictor(seed=4, epochs=5).fit(X, y).predict(X)
    assert torch.equal(torch.get_rng_state(), state)  # torch's global generator untouched
    np.testing.assert_array_equal(one, GNNPredictor(seed=4, epochs=5).fit(X, y).predict(X))
    assert not np.array_equal(one, GNNPredictor(seed=5, epochs=5).fit(X, y).predict(X))
    with pytest.raises(TypeError, match="GraphBatch"):
        GNNPredictor().fit(features(space, archs), y)


# -- the encoding a predictor declares -------------------------------------------------------------
def test_encode_for_follows_the_declared_encoding():
    from seminas.controller.predictor import ControllerPredictor
    from seminas.predictors.catalog import encode_catalog

    space = NB201Space()
    archs = space.sample(4, np.random.default_rng(0))
    assert isinstance(encode_for("gnn", space, archs), GraphBatch)
    assert np.array_equal(encode_for("gbdt", space, archs), features(space, archs))
    assert np.array_equal(encode_for(make_predictor("mlp"), space, archs), features(space, archs))
    assert np.array_equal(encode_for(ControllerPredictor, space, archs), space.encode_many(archs))
    every = encode_catalog("gnn", space)
    assert len(every) == space.size and encode_catalog("gnn", space) is every  # cached
    code = 1234
    one = encode_for("gnn", space, [space.from_code(code)])
    assert every.row_keys()[code] == one.row_keys()[0]
    assert encode_catalog("mlp", space).shape == (space.size, 30)


# -- free labels -----------------------------------------------------------------------------------
def test_nb201_free_labels_match_the_network_and_the_published_ranges():
    from seminas.networks.nb201 import NB201Network

    space = NB201Space()
    cells = [space.validate(A_CELL), *space.sample(2, np.random.default_rng(0))]
    F = free_labels(space, cells)
    assert F.shape == (3, len(NB201_FREE_LABELS))
    for cell, row in zip(cells, F, strict=True):
        built = sum(p.numel() for p in NB201Network(cell).parameters())
        assert row[NB201_FREE_LABELS.index("params_m")] == pytest.approx(built / 1e6, rel=1e-6)
    every = nb201_code_free_labels(np.arange(space.size))
    lo, hi = every.min(0), every.max(0)
    col = NB201_FREE_LABELS.index
    assert (lo[col("params_m")], hi[col("params_m")]) == pytest.approx((0.073306, 1.531546))
    assert (lo[col("macs_m")], hi[col("macs_m")]) == pytest.approx((7.78, 220.12), abs=0.01)
    # the example cell: node 2 never reaches the output, so its two convolutions are dead
    row = dict(zip(NB201_FREE_LABELS, F[0].tolist(), strict=True))
    assert row["conv3x3"] == 1 and row["live_conv3x3"] == 0 and row["live_conv1x1"] == 0
    assert row["live_params_m"] == pytest.approx(0.073306)
    assert (row["connected"], row["paths"], row["longest_path"], row["skip_path"]) == (1, 2, 2, 1)


def test_nb101_free_labels():
    from seminas.networks.nb101 import count_params

    a, b = _nb101_cells()
    F = free_labels(NB101Space(), [a, b])
    assert F.shape == (2, len(NB101_FREE_LABELS))
    assert np.array_equal(F[0], F[1])  # isomorphic cells: the same statistics
    row = dict(zip(NB101_FREE_LABELS, F[0].tolist(), strict=True))
    assert row["params_m"] == pytest.approx(count_params(a) / 1e6, rel=1e-6)
    assert (row["vertices"], row["edges"], row["paths"], row["longest_path"]) == (7, 8, 3, 4)
    assert (row["shortest_path"], row["input_to_output"], row["output_fan_in"]) == (1, 1, 2)


def test_nb101_free_labels_give_the_published_parameter_counts():
    from conftest import need

    need("nasbench101/subset-20k.csv")
    from seminas.benchmarks.nb101 import NB101SubsetBenchmark

    bench = NB101SubsetBenchmark()
    specs = bench.specs()[:50]
    published = [bench.lookup(s).params for s in specs]
    F = free_labels(NB101Space(), specs)
    np.testing.assert_allclose(F[:, 0] * 1e6, published, rtol=1e-6)


def test_pretraining_starts_every_fit_from_the_learned_trunk():
    space = NB201Space()
    archs = space.sample(300, np.random.default_rng(3))
    X, F = nb201_graphs(archs), free_labels(space, archs)
    y = F[:, NB201_FREE_LABELS.index("live_params_m")] * 10.0
    plain = GNNPredictor(seed=1, epochs=3)
    pre = GNNPredictor(seed=1, epochs=3, pretrain_epochs=5)
    assert pre.pretrain(X, F) is pre and pre.pretrained is not None
    a = plain.fit(X.take_rows(np.arange(40)), y[:40]).predict(X)
    b = pre.fit(X.take_rows(np.arange(40)), y[:40]).predict(X)
    c = pre.fit(X.take_rows(np.arange(40)), y[:40]).predict(X)
    assert not np.array_equal(a, b) and np.array_equal(b, c)  # fresh from the same trunk
    assert GNNPredictor(seed=1).pretrain(X, F).pretrained is None  # pretrain_epochs 0: none
    with pytest.raises(ValueError, match="free labels"):
        pre.pretrain(X, F[:10])
    with pytest.raises(ValueError, match="pretrained on"):
        pre.fit(nb101_graphs(NB101Space().sample(5, np.random.default_rng(0))), np.ones(5))
    with pytest.raises(Exception, match="no free labels"):
        free_labels(type("S", (), {"name": "other"})(), archs)
