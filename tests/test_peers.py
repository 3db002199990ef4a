"""GBDT-NAS, Semi-GBDT and WeakNAS: exact budget, determinism per seed, better than the median on
real NAS-Bench-101/201 tables; their encodings and presets."""

import numpy as np
import pytest

from seminas.benchmarks.base import Evaluator, Record
from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101
from seminas.predictors.catalog import catalog_for
from seminas.predictors.encoding import (
    NB101_NUM_FEATURES,
    nb101_enumeration_features,
    nb101_enumeration_tokens,
    nb101_features,
    nb201_features,
)
from seminas.predictors.gbdt import PAPER_PARAMS, GBDTPredictor
from seminas.spaces.nb101 import NB101Space
from seminas.strategies import make_strategy, run_search, strategy_names

PEERS = ["gbdt", "semi-gbdt", "weaknas"]
# Smaller predictors keep the tests quick; the loops are the presets' own.
QUICK = {"gbdt": {}, "semi-gbdt": {"unlabeled": 300}, "weaknas": {"mlp_hidden": [32, 32]}}


def quick(name, **extra):
    return make_strategy(name, "nb201", **{**QUICK[name], **extra})


@pytest.mark.parametrize("name", PEERS)
def test_a_short_run_beats_the_median_and_spends_the_budget_exactly(nb201, name):
    result = run_search(quick(name), nb201, 60, seed=0)
    assert len(result.trials) == 60
    assert len({t.arch_id for t in result.trials}) == 60
    assert result.best.search_metric > float(np.median(nb201.search))
    assert result.best.report_metric > float(np.median(nb201.report))
    assert all(t.predicted is None for t in result.trials if t.iteration == 0)
    assert all(t.predicted is not None for t in result.trials if t.iteration > 0)


@pytest.mark.parametrize("name", PEERS)
@pytest.mark.parametrize("budget", [7, 33])
def test_budget_is_exact(nb201, name, budget):
    result = run_search(quick(name), nb201, budget, seed=1)
    assert len(result.trials) == budget
    assert len({t.arch_id for t in result.trials}) == budget


@pytest.mark.parametrize("name", PEERS)
def test_same_seed_same_search(nb201, name):
    a = run_search(quick(name), nb201, 40, seed=5)
    b = run_search(quick(name), nb201, 40, seed=5)
    c = run_search(quick(name), nb201, 40, seed=6)
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials
    ]
    assert [t.arch_id for t in a.trials] != [t.arch_id for t in c.trials]


def test_weaknas_with_tree_predictor(nb201):
    result = run_search(quick("weaknas", predictor="gbdt"), nb201, 40, seed=0)
    assert len({t.arch_id for t in result.trials}) == 40
    assert result.best.report_metric > float(np.median(nb201.report))


def test_unknown_weak_predictor_is_one_clear_error():
    with pytest.raises(Exception, match="unknown WeakNAS predictor"):
        make_strategy("weaknas", predictor="svm")


def test_registered_with_presets_for_each_space():
    assert set(PEERS) <= set(strategy_names())
    gbdt = make_strategy("gbdt", "nb101").config
    assert (gbdt.initial, gbdt.per_iteration, gbdt.min_data_in_leaf) == (1000, 1000, 20)
    semi = make_strategy("semi-gbdt", "nb101").config
    assert (semi.unlabeled, semi.upsample) == (10000, 10)
    weak = make_strategy("weaknas", "nb201").config
    assert (weak.initial, weak.per_iteration, weak.top_m) == (10, 10, 100)
    assert make_strategy("weaknas", "nb101").config.initial == 100
    assert tuple(make_strategy("weaknas", "paper-nb201").config.mlp_hidden) == (1000,) * 4
    assert (PAPER_PARAMS.num_boost_round, PAPER_PARAMS.num_leaves) == (100, 31)
    assert (PAPER_PARAMS.learning_rate, PAPER_PARAMS.feature_fraction) == (0.05, 0.9)
    assert (PAPER_PARAMS.bagging_fraction, PAPER_PARAMS.bagging_freq) == (0.8, 5)


def test_the_harness_runs_them_with_their_space_preset():
    """A bench-wide preset they lack (SemiNAS's ``fast``) leaves them on their ``nb201`` one."""
    from seminas.experiments.bench import make_specs

    for preset in (None, "fast", "nb201"):
        specs = make_specs("nb201", "cifar10", ["seminas", *PEERS], 50, "0", preset=preset)
        assert {s.preset for s in specs if s.strategy in PEERS} == {"nb201"}


@pytest.mark.parametrize("name", PEERS)
def test_nb101_partial_table(tmp_path, name):
    """On a partial NAS-Bench-101 table the catalog is the table: every proposal is answerable."""
    from seminas.benchmarks.factory import make_evaluator

    path = tmp_path / "nasbench_only108.tfrecord"
    write_synthetic_nb101(path, synthetic_specs(120, seed=1), seed=1)
    bench = make_evaluator("nb101", nb101_file=path)
    extra = {"initial": 20, "per_iteration": 10, "min_data_in_leaf": 5} if "gbdt" in name else {}
    if name == "weaknas":
        extra = {"mlp_hidden": [32, 32], "initial": 20}
    strategy = make_strategy(name, "nb101", **extra)
    result = run_search(strategy, bench, 70, seed=0)
    assert len({t.arch_id for t in result.trials}) == 70


class _ToyNB101(Evaluator):
    """A made-up score on the unenumerated NAS-Bench-101 space (no catalog: random pools)."""

    def __init__(self) -> None:
        super().__init__()
        self.space = NB101Space()

    def _evaluate(self, arch):
        score = sum(op == "conv3x3-bn-relu" for op in arch.ops) + 0.1 * arch.num_edges
        return Record(self.space.arch_id(arch), float(score), float(score))


def test_spaces_without_a_catalog_rank_a_random_pool():
    for name in ["gbdt", "weaknas"]:
        strategy = make_strategy(name, initial=15, per_iteration=5, fallback_pool=300,
                                 **({"mlp_hidden": [16]} if name == "weaknas" else {}))
        result = run_search(strategy, _ToyNB101(), 30, seed=0)
        assert len({t.arch_id for t in result.trials}) == 30


# -- encodings -------------------------------------------------------------------------------


def test_nb201_features_are_one_hot_per_edge(nb201):
    archs = [nb201.arch_at(i) for i in (0, 6111, 15624)]
    x = nb201_features(archs)
    assert x.shape == (3, 30) and set(np.unique(x)) <= {0.0, 1.0}
    assert (x.reshape(3, 6, 5).sum(axis=2) == 1).all()
    catalog = catalog_for(nb201.space)
    idx = catalog.indices([nb201.space.arch_id(a) for a in archs])
    assert np.array_equal(catalog.features[idx], x)
    assert [catalog.arch(i) for i in idx] == archs


def test_nb101_features_follow_gbdt_nas_layout():
    from seminas.spaces.nb101_enum import build

    enum = build(max_vertices=5, workers=1)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(enum), 300, replace=False)
    specs = enum.specs(idx)
    x = nb101_features(specs)
    assert x.shape == (300, NB101_NUM_FEATURES) == (300, 45)
    assert np.array_equal(nb101_enumeration_features(enum, idx), x)
    assert np.array_equal(nb101_enumeration_tokens(enum, idx), NB101Space().encode_many(specs))
    # one op per present vertex (inner ops or output), edges as in the matrix
    for row, spec in zip(x, specs, strict=True):
        assert row.sum() == spec.num_edges + spec.num_vertices - 1


def test_gbdt_predictor_is_deterministic_and_learns():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(300, 10)).astype(np.float32)
    y = 90 + 3 * X[:, 0] - 2 * X[:, 3] + rng.normal(0, 0.1, 300)
    a = GBDTPredictor(seed=3).fit(X, y).predict(X)
    b = GBDTPredictor(seed=3).fit(X, y).predict(X)
    assert np.array_equal(a, b)
    assert np.corrcoef(a, y)[0, 1] > 0.95
    assert abs(a.mean() - y.mean()) < 0.5  # predictions in the targets' units


@pytest.mark.parametrize("name", PEERS)
def test_a_single_initial_architecture_is_enough(nb201, name):
    result = run_search(quick(name, initial=1, per_iteration=2), nb201, 6, seed=0)
    assert len({t.arch_id for t in result.trials}) == 6
