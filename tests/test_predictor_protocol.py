"""One predictor protocol: GBDT, the MLP and the SemiNAS controller's predictor all fit with
``fit(X, y) -> self`` and answer with ``predict(X)``, and each learns a real ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from seminas.controller.predictor import ControllerPredictor
from seminas.predictors.base import Predictor
from seminas.predictors.encoding import features
from seminas.predictors.gbdt import GBDTPredictor
from seminas.predictors.mlp import MLPPredictor
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


def test_the_same_seed_gives_the_same_predictions(nb201_split):
    space, train, y_train, test, _ = nb201_split
    runs = [
        ControllerPredictor(space, epochs=5, seed=3).fit(space.encode_many(train), y_train)
        .predict(space.encode_many(test))
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])
