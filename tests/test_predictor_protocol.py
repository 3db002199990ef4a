"""One predictor protocol: GBDT, the MLP, the GNN, the ensemble, the semi-supervised wrapper and
the SemiNAS controller's predictor all fit with ``fit(X, y) -> self`` and answer with
``predict(X)`` on the encoding they declare, and each learns a real ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from seminas.controller.predictor import ControllerPredictor
from seminas.predictors.base import Predictor, encoding_of
from seminas.predictors.encoding import encode_for, features
from seminas.predictors.gbdt import GBDTPredictor
from seminas.predictors.mlp import MLPPredictor
from seminas.registry import make_predictor, predictor_names
from seminas.spaces.nb201 import NB201Space


@pytest.fixture(scope="module")
def nb201_split():
    from seminas.benchmarks.nb201 import NB201Benchmark

    bench = NB201Benchmark("cifar10")  # the embedded table when no data directory is set
    space = NB201Space()
    archs = space.sample(400, np.random.default_rng(11))
    y = np.array([bench.lookup(a).search_metric for a in archs])
    return space, archs[:200], y[:200], archs[200:], y[200:]


def _predictors(space):
    return {
        "gbdt": (GBDTPredictor(seed=0), lambda a: features(space, a)),
        "mlp": (MLPPredictor(hidden=(64, 64), epochs=60, seed=0), lambda a: features(space, a)),
        "controller": (ControllerPredictor(space, epochs=40, seed=0),
                       lambda a: space.encode_many(a)),
    }


@pytest.mark.parametrize("name", ["gbdt", "mlp", "controller"])
def test_every_predictor_follows_the_protocol_and_ranks(nb201_split, name):
    space, train, y_train, test, y_test = nb201_split
    predictor, encode = _predictors(space)[name]
    assert isinstance(predictor, Predictor)
    assert predictor.fit(encode(train), y_train) is predictor  # fit returns self
    pred = predictor.predict(encode(test))
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    tau = kendalltau(pred, y_test)[0]
    assert tau > 0.3, f"{name} ranks held-out cells with tau {tau:.2f}"


# registered predictors, by name, with options small enough for a quick test
REGISTERED = {
    "gbdt": ("gbdt", {}),
    "mlp": ("mlp", {"hidden": (64, 64), "epochs": 60}),
    "mlp-listmle": ("mlp", {"hidden": (64, 64), "epochs": 60, "loss": "listmle"}),
    "gnn": ("gnn", {"epochs": 30}),
    "gnn-pairwise": ("gnn", {"epochs": 30, "loss": "pairwise"}),
    "gnn-pretrained": ("gnn", {"epochs": 30, "pretrain_epochs": 3}),
    "ensemble": ("ensemble", {"member": "mlp", "members": 2, "hidden": (32,), "epochs": 40,
                              "bootstrap": True}),
    "semi": ("semi", {"base": "gnn", "m": 100, "upsample": 2, "epochs": 10}),
}


def _fitted(space, name, train, y_train, unlabeled, seed=0):
    registered, options = REGISTERED[name]
    predictor = make_predictor(registered, seed=seed, **options)
    if name == "gnn-pretrained":
        from seminas.predictors.free_labels import free_labels

        predictor.pretrain(encode_for(predictor, space, unlabeled), free_labels(space, unlabeled))
    X = encode_for(predictor, space, train)
    if name == "semi":
        fitted = predictor.fit(X, y_train, unlabeled=encode_for(predictor, space, unlabeled))
    else:
        fitted = predictor.fit(X, y_train)
    assert fitted is predictor  # fit returns self
    return predictor


def test_every_built_in_predictor_is_covered():
    from seminas.registry import predictors

    builtin = {n for n in predictor_names() if predictors.is_builtin(n)}
    assert {r for r, _ in REGISTERED.values()} == builtin


@pytest.mark.parametrize("name", list(REGISTERED))
def test_registered_predictors_follow_the_protocol_and_rank(nb201_split, name):
    space, train, y_train, test, y_test = nb201_split
    unlabeled = space.sample(300, np.random.default_rng(12), exclude=[space.arch_id(a)
                                                                       for a in train + test])
    predictor = _fitted(space, name, train, y_train, unlabeled)
    assert isinstance(predictor, Predictor)
    assert encoding_of(predictor) in ("flat", "graph")
    pred = predictor.predict(encode_for(predictor, space, test))
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    tau = kendalltau(pred, y_test)[0]
    assert tau > 0.3, f"{name} ranks held-out cells with tau {tau:.2f}"
    again = _fitted(space, name, train, y_train, unlabeled)  # same seed, same predictions
    assert np.array_equal(again.predict(encode_for(again, space, test)), pred)


def test_the_same_seed_gives_the_same_predictions(nb201_split):
    space, train, y_train, test, _ = nb201_split
    runs = [
        ControllerPredictor(space, epochs=5, seed=3).fit(space.encode_many(train), y_train)
        .predict(space.encode_many(test))
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])
