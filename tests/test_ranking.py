"""Ranking losses (seminas.predictors.ranking): they prefer the true order, a model trained with
them orders a known toy set correctly, and their scores are mapped back to the targets' units;
the controller takes them as an option whose default (MSE) leaves SemiNAS unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from seminas.predictors.mlp import MLPPredictor
from seminas.predictors.ranking import LOSSES, RANKING_LOSSES, calibrate, loss_function


@pytest.mark.parametrize("name", RANKING_LOSSES)
def test_the_true_order_costs_less_than_the_reversed_one(name):
    target = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.4])
    right = target * 3
    wrong = -target * 3
    loss = loss_function(name)
    assert loss(right, target) < loss(wrong, target)
    # only the order matters to a pairwise loss: a shift of all scores changes nothing
    if name in ("pairwise", "hinge", "listmle", "listnet"):
        assert torch.isclose(loss(right + 5, target), loss(right, target), atol=1e-6)


@pytest.mark.parametrize("name", RANKING_LOSSES)
def test_ties_alone_are_harmless(name):
    pred = torch.tensor([0.3, -0.2, 0.8], requires_grad=True)
    value = loss_function(name)(pred, torch.ones(3))
    value.backward()
    assert torch.isfinite(pred.grad).all()
    if name in ("pairwise", "hinge"):  # no pair to order
        assert float(value.detach()) == 0.0 and torch.all(pred.grad == 0)


@pytest.mark.parametrize("name", LOSSES)
def test_a_model_trained_with_each_loss_orders_a_toy_set(name):
    rng = np.random.default_rng(0)
    X = rng.random((80, 3)).astype(np.float32)
    y = 70 + 10 * (X @ np.array([1.0, -0.5, 0.25]))  # a known order
    model = MLPPredictor(hidden=(32,), epochs=150, batch_size=40, lr=5e-3, seed=0, loss=name)
    pred = model.fit(X, y).predict(X)
    assert kendalltau(pred, y)[0] > 0.9
    if name != "mse":  # calibrated: scores come back in the targets' units
        assert abs(pred.mean() - y.mean()) < 1e-6 * abs(y.mean()) + 1e-6
        assert pred.std() == pytest.approx(y.std(), rel=1e-6)


def test_calibration_keeps_the_order():
    scale, shift = calibrate(np.array([-3.0, 1.0, 2.0]), np.array([10.0, 20.0, 30.0]))
    assert scale > 0
    scale, shift = calibrate(np.array([1.0, 1.0]), np.array([5.0, 7.0]))
    assert scale == 1.0 and shift == pytest.approx(5.0)


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        loss_function("l1")


def test_the_controller_takes_a_ranking_loss_and_defaults_to_mse():
    from seminas.controller import ControllerTrainer, TrainConfig
    from seminas.spaces.nb201 import NB201Space

    assert TrainConfig().predictor_loss == "mse"
    space = NB201Space()
    archs = space.sample(60, np.random.default_rng(0))
    y = np.array([float(a.ops.count("nor_conv_3x3")) for a in archs])  # a known order
    tokens = torch.as_tensor(space.encode_many(archs))

    def trained(**train):
        trainer = ControllerTrainer(space, train=TrainConfig(batch_size=30, **train),
                                    generator=torch.Generator().manual_seed(0))
        trainer.standardise_with(y)
        trainer.fit(tokens, y, 15)
        return trainer.predict(tokens)

    default, explicit = trained(), trained(predictor_loss="mse")
    assert np.array_equal(default, explicit)  # the option's default is today's loss
    ranked = trained(predictor_loss="pairwise")
    assert np.isfinite(ranked).all() and not np.array_equal(ranked, default)
    assert kendalltau(ranked, y)[0] > 0.5
