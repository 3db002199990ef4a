"""A small fully connected regressor: WeakNAS's default weak predictor.

WeakNAS (Wu et al., "Stronger NAS with Weaker Predictors", NeurIPS 2021) fits a multilayer
perceptron on the flat (one-hot) encoding: ReLU layers, Adam (learning rate 1e-3), L2 penalty
1e-4, mini-batches of up to 200, 100 epochs, targets standardised; the paper's network has four
hidden layers of 1,000 units. Width is a parameter here because four 1,000-unit layers cost
seconds per fit on one CPU core, and a search refits every iteration (see the WeakNAS presets).
Initial weights and batch order come from its own seeded torch generator, so a fit is
reproducible and never draws from (or disturbs) torch's global generator.

Beyond WeakNAS (all off by default, so the defaults fit exactly as before): a ranking loss
instead of MSE (``loss``, :mod:`seminas.predictors.ranking`), a cap on gradient steps
(``max_steps``), and pretraining the hidden layers on free labels (``pretrain_epochs`` and
:meth:`~seminas.predictors.neural.NeuralPredictor.pretrain`; FBNetV3, Dai et al. 2021).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seminas.options import Options, opt
from seminas.predictors.neural import NeuralPredictor, linear
from seminas.predictors.ranking import LOSSES


@dataclass(frozen=True)
class MLPParams(Options):
    """The options of :class:`MLPPredictor`, declared and checked (see :mod:`seminas.options`)."""

    hidden: tuple[int, ...] = opt((1000, 1000, 1000, 1000), low=1, doc="hidden layer widths")
    epochs: int = opt(100, low=1, doc="training epochs per fit")
    lr: float = opt(1e-3, above=0, doc="Adam learning rate")
    weight_decay: float = opt(1e-4, low=0, doc="L2 penalty")
    batch_size: int = opt(200, low=1, doc="mini-batch size (at most the training set)")
    loss: str = opt("mse", choices=LOSSES, doc="training loss: MSE or a ranking loss")
    max_steps: int = opt(0, low=0, doc="gradient steps per fit at most (0: no cap)")
    pretrain_epochs: int = opt(0, low=0, doc="epochs of free-label pretraining (0: none)")
    pretrain_batch_size: int = opt(256, low=1, doc="mini-batch size of pretraining")


class MLPPredictor(NeuralPredictor):
    """``fit(X, y)`` / ``predict(X)`` with a ReLU MLP trained by Adam on standardised targets."""

    Options = MLPParams  # its options, declared (the registry-walking test checks them)
    encoding = "flat"
    predict_batch = 65536

    def __init__(
        self,
        hidden: Sequence[int] = (1000, 1000, 1000, 1000),
        epochs: int = 100,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 200,
        seed: int = 0,
        *,
        loss: str = "mse",
        max_steps: int = 0,
        pretrain_epochs: int = 0,
        pretrain_batch_size: int = 256,
    ) -> None:
        params = MLPParams(tuple(hidden), epochs, lr, weight_decay, batch_size, loss, max_steps,
                           pretrain_epochs, pretrain_batch_size)
        self.params = params
        self.hidden = params.hidden
        self.epochs = params.epochs
        self.lr = float(params.lr)
        self.weight_decay = float(params.weight_decay)
        self.batch_size = params.batch_size
        self.loss = params.loss
        self.max_steps = params.max_steps
        self.pretrain_epochs = params.pretrain_epochs
        self.pretrain_batch_size = params.pretrain_batch_size
        self.seed = int(seed)
        self._init_state()

    def _tensors(self, X: np.ndarray) -> tuple[torch.Tensor, ...]:
        X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if X_t.ndim != 2:
            raise ValueError(f"the MLP needs rows of features X [n, d], got {tuple(X_t.shape)}")
        return (X_t,)

    def _layout(self, tensors: tuple[torch.Tensor, ...]) -> int:
        return int(tensors[0].shape[1])

    def _trunk(self, layout: int) -> tuple[nn.Module, int]:
        layers: list[nn.Module] = []
        width = layout
        for h in self.hidden:
            layers += [linear(width, h), nn.ReLU()]
            width = h
        return nn.Sequential(*layers), width
