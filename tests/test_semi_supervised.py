"""The semi-supervised wrapper (seminas.predictors.semi) and the ensemble: a labeled cell is never
pseudo-labeled, the wrapper sees only rows (no table, no evaluator: it charges nothing), its
random choices are its own, and its confidence filter keeps the least disputed pseudo-labels."""

from __future__ import annotations

import numpy as np
import pytest

from seminas.predictors.base import Predictor, row_keys
from seminas.predictors.ensemble import EnsemblePredictor
from seminas.predictors.semi import SemiSupervisedPredictor
from seminas.registry import make_predictor

PSEUDO = 1000.0  # the spy's predictions are PSEUDO + something: never a true label (0..1)


class Log(list):
    """Survives the wrapper's deep copies of its base (every copy writes to the same log)."""

    def __deepcopy__(self, memo):
        return self


class Spy:
    """A predictor that records every fit; it predicts PSEUDO + the row's sum (+ its seed)."""

    encoding = "flat"
    fits: list[tuple[np.ndarray, np.ndarray]]

    def __init__(self, seed: int = 0, log: list | None = None) -> None:
        self.seed = seed
        self.log = log if log is not None else Log()
        self.pretrained = 0

    def pretrain(self, X, free) -> Spy:
        self.pretrained += 1
        return self

    def fit(self, X, y) -> Spy:
        self.log.append((np.array(X, copy=True), np.array(y, copy=True), self.pretrained))
        return self

    def predict(self, X) -> np.ndarray:
        return PSEUDO + np.asarray(X, dtype=np.float64).sum(1) + (self.seed % 7) * 0.01


def _rows(rng, n, d=24):
    return (rng.random((n, d)) > 0.5).astype(np.float32)


def _data():
    rng = np.random.default_rng(0)
    X = _rows(rng, 10)
    y = rng.random(10)
    new = _rows(rng, 30)
    assert not set(row_keys(new)) & set(row_keys(X)) and len(set(row_keys(new))) == 30
    # the unlabeled rows hold copies of five labeled rows and one repeated new row
    unlabeled = np.concatenate([new[:15], X[:5], new[15:], new[:1]])
    return X, y, new, unlabeled


def test_labeled_rows_are_never_pseudo_labeled():
    X, y, new, unlabeled = _data()
    log = Log()
    semi = SemiSupervisedPredictor(seed=3, base=lambda s: Spy(s, log), m=100, upsample=3)
    assert isinstance(semi, Predictor)
    assert semi.fit(X, y, unlabeled=unlabeled) is semi
    assert len(log) == 2  # the labeled fit, then the refit
    first_X, first_y, _ = log[0]
    assert np.array_equal(first_X, X) and np.array_equal(first_y, y)
    X_fit, y_fit, _ = log[1]
    labeled = {k: v for k, v in zip(row_keys(X), y, strict=True)}
    pseudo_rows = 0
    for key, target in zip(row_keys(X_fit), y_fit, strict=True):
        if key in labeled:
            assert target == labeled[key]  # a labeled row only ever carries its true label
        else:
            assert target >= PSEUDO
            pseudo_rows += 1
    assert pseudo_rows == 30  # every new row once: the copies and the repeat are left out
    assert len(y_fit) == 3 * 10 + 30
    assert semi.info == {"labeled": 10, "pseudo_labeled": 30, "kept": 30, "rounds": 1}


def test_fit_without_unlabeled_rows_is_the_base_fit():
    X, y, _, _ = _data()
    log = Log()
    semi = SemiSupervisedPredictor(base=lambda s: Spy(s, log), m=100)
    semi.fit(X, y)
    assert len(log) == 1 and np.array_equal(log[0][0], X)
    np.testing.assert_array_equal(semi.predict(X), Spy(semi._seeds[0]).predict(X))


def test_it_sees_only_rows_and_charges_nothing():
    """A search hands over features of unevaluated cells; their table values are never read."""
    from seminas.benchmarks.nb201 import NB201Benchmark
    from seminas.predictors.encoding import features
    from seminas.spaces.nb201 import NB201Space

    bench = NB201Benchmark("cifar10")
    space = NB201Space()
    archs = space.sample(140, np.random.default_rng(5))
    evaluated, unevaluated = archs[:40], archs[40:]
    y = np.array([bench.query(a).search_metric for a in evaluated])
    assert bench.num_queries == 40
    log = Log()
    semi = SemiSupervisedPredictor(seed=0, base=lambda s: Spy(s, log), m=1000)
    semi.fit(features(space, evaluated), y, unlabeled=features(space, unevaluated))
    assert bench.num_queries == 40  # charged nothing
    X_fit, y_fit, _ = log[-1]
    truth = {float(bench.lookup(a).search_metric) for a in unevaluated}
    assert not set(y_fit[len(y) * 10:].tolist()) & truth  # only its own pseudo-labels
    # and through the registry, with a real base
    model = make_predictor("semi", seed=1, base="gbdt", m=100)
    model.fit(features(space, evaluated), y, unlabeled=features(space, unevaluated))
    assert bench.num_queries == 40 and model.info["pseudo_labeled"] == 100


def test_its_random_choices_are_its_own():
    X, y, _, unlabeled = _data()

    def chosen(seed):
        log = Log()
        SemiSupervisedPredictor(seed=seed, base=lambda s: Spy(s, log), m=7, upsample=1).fit(
            X, y, unlabeled=unlabeled)
        return sorted(row_keys(log[-1][0][10:]))

    assert len(chosen(0)) == 7
    assert chosen(0) == chosen(0)
    assert chosen(0) != chosen(1)
    state = np.random.get_state()[1].copy()
    chosen(2)
    assert np.array_equal(np.random.get_state()[1], state)  # the global generator untouched


class Disputed(Spy):
    """A spy with an uncertainty: the first feature of a row decides its disagreement."""

    def predict_std(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)[:, 0] + np.arange(len(X)) * 1e-3


def test_the_confidence_filter_keeps_the_least_disputed():
    X, y, new, _ = _data()
    log = Log()
    semi = SemiSupervisedPredictor(base=lambda s: Disputed(s, log), m=100, upsample=1, keep=0.5)
    semi.fit(X, y, unlabeled=new)
    kept = log[-1][0][10:]
    assert len(kept) == 15 and semi.info["kept"] == 15
    spread = Disputed().predict_std(new)
    expected = new[np.sort(np.argsort(spread, kind="stable")[:15])]
    assert np.array_equal(kept, expected)
    # without predict_std: a committee of differently seeded bases is fitted on the same rows
    log = Log()
    semi = SemiSupervisedPredictor(base=lambda s: Spy(s, log), m=100, keep=0.25, committee=3)
    semi.fit(X, y, unlabeled=new)
    assert len(log) == 1 + 2 + 1  # base, two more committee members, refit
    assert semi.info["kept"] == round(0.25 * 30)


def test_rounds_initial_model_and_pretraining():
    X, y, new, _ = _data()
    log = Log()
    SemiSupervisedPredictor(base=lambda s: Spy(s, log), m=100, rounds=3).fit(X, y, unlabeled=new)
    assert len(log) == 1 + 3
    log = Log()
    semi = SemiSupervisedPredictor(base=lambda s: Spy(s, log), m=100)
    semi.fit(X, y, unlabeled=new, initial=Spy(5))  # a plain fit made earlier: not redone
    assert len(log) == 1
    log = Log()
    semi = SemiSupervisedPredictor(base=lambda s: Spy(s, log), m=100)
    assert semi.pretrain(new, np.zeros((len(new), 2))) is semi
    semi.fit(X, y, unlabeled=new)
    assert [entry[2] for entry in log] == [1, 1]  # every fresh base starts pretrained, once


def test_encoding_follows_the_base():
    assert make_predictor("semi", base="gnn").encoding == "graph"
    assert make_predictor("semi", base="mlp").encoding == "flat"
    assert make_predictor("ensemble", member="gnn", members=2).encoding == "graph"
    assert make_predictor("semi", base="ensemble", member="gnn", members=2).encoding == "graph"
    with pytest.raises(ValueError, match="base predictor reads"):
        from seminas.predictors.encoding import encode_for
        from seminas.spaces.nb201 import NB201Space

        encode_for("semi", NB201Space(), [])


def test_ensemble_mean_spread_and_bootstrap():
    rng = np.random.default_rng(1)
    X = rng.random((60, 4)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.01 * rng.standard_normal(60)
    ens = EnsemblePredictor(seed=0, member="mlp", members=3, bootstrap=True, hidden=(16,),
                            epochs=30)
    assert ens.fit(X, y) is ens
    members = ens.member_predictions(X)
    assert members.shape == (3, 60)
    mean, std = ens.predict_mean_std(X)
    np.testing.assert_allclose(ens.predict(X), members.mean(0))
    np.testing.assert_allclose(ens.predict_std(X), members.std(0))
    np.testing.assert_allclose(mean, members.mean(0))
    assert (std > 0).all()
    again = EnsemblePredictor(seed=0, member="mlp", members=3, bootstrap=True, hidden=(16,),
                              epochs=30).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), ens.predict(X))
    # the filter uses an ensemble base's own spread
    semi = SemiSupervisedPredictor(base="ensemble", member="mlp", members=2, hidden=(8,),
                                   epochs=5, m=20, keep=0.5)
    semi.fit(X[:30], y[:30], unlabeled=X[30:])
    assert semi.info["kept"] == 10 and semi.predict_std(X).shape == (60,)


@pytest.mark.parametrize("base", ["gbdt", "gnn"])
def test_a_search_round_with_any_predictor_by_name(base):
    """What a strategy does: pretrain once on the whole space's free labels (where the base
    learns from them), fit on the evaluated cells plus pseudo-labels of the rest of the space,
    rank the whole space -- the same code for every predictor, and no query charged."""
    from seminas.benchmarks.nb201 import NB201Benchmark
    from seminas.predictors.catalog import catalog_for, catalog_free_labels, encode_catalog
    from seminas.predictors.encoding import encode_for
    from seminas.spaces.nb201 import NB201Space

    bench = NB201Benchmark("cifar10")
    space = NB201Space()
    evaluated = space.sample(30, np.random.default_rng(0))
    y = np.array([bench.query(a).search_metric for a in evaluated])
    options = {"epochs": 5, "pretrain_epochs": 1} if base == "gnn" else {}
    model = make_predictor("semi", seed=0, base=base, m=200, **options)
    everything = encode_catalog(model, space)
    if hasattr(model, "pretrain"):
        model.pretrain(everything, catalog_free_labels(space))
    model.fit(encode_for(model, space, evaluated), y, unlabeled=everything)
    scores = model.predict(everything)
    assert scores.shape == (len(catalog_for(space)),) and np.isfinite(scores).all()
    assert model.info["pseudo_labeled"] == 200 and bench.num_queries == 30
