"""A small fully connected regressor: WeakNAS's default weak predictor.

WeakNAS (Wu et al., "Stronger NAS with Weaker Predictors", NeurIPS 2021) fits a multilayer
perceptron on the flat (one-hot) encoding: ReLU layers, Adam (learning rate 1e-3), L2 penalty
1e-4, mini-batches of up to 200, 100 epochs, targets standardised; the paper's network has four
hidden layers of 1,000 units. Width is a parameter here because four 1,000-unit layers cost
seconds per fit on one CPU core, and a search refits every iteration (see the WeakNAS presets).
Initial weights and batch order come from its own seeded torch generator, so a fit is
reproducible and never draws from (or disturbs) torch's global generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seminas.options import Options, opt


@dataclass(frozen=True)
class MLPParams(Options):
    """The options of :class:`MLPPredictor`, declared and checked (see :mod:`seminas.options`)."""

    hidden: tuple[int, ...] = opt((1000, 1000, 1000, 1000), low=1, doc="hidden layer widths")
    epochs: int = opt(100, low=1, doc="training epochs per fit")
    lr: float = opt(1e-3, above=0, doc="Adam learning rate")
    weight_decay: float = opt(1e-4, low=0, doc="L2 penalty")
    batch_size: int = opt(200, low=1, doc="mini-batch size (at most the training set)")


class MLPPredictor:
    """``fit(X, y)`` / ``predict(X)`` with a ReLU MLP trained by Adam on standardised targets."""

    Options = MLPParams  # its options, declared (the registry-walking test checks them)

    def __init__(
        self,
        hidden: Sequence[int] = (1000, 1000, 1000, 1000),
        epochs: int = 100,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 200,
        seed: int = 0,
    ) -> None:
        params = MLPParams(tuple(hidden), epochs, lr, weight_decay, batch_size)
        self.hidden = params.hidden
        self.epochs = params.epochs
        self.lr = float(params.lr)
        self.weight_decay = float(params.weight_decay)
        self.batch_size = params.batch_size
        self.seed = int(seed)
        self.model: nn.Module | None = None
        self.mean = 0.0
        self.std = 1.0

    def _build(self, inputs: int, generator: torch.Generator) -> nn.Module:
        layers: list[nn.Module] = []
        width = inputs
        # skip_init: no default initialisation, which would draw from torch's global generator
        for h in self.hidden:
            layers += [nn.utils.skip_init(nn.Linear, width, h), nn.ReLU()]
            width = h
        layers.append(nn.utils.skip_init(nn.Linear, width, 1))
        model = nn.Sequential(*layers)
        with torch.no_grad():  # initialise from our generator, not the global torch seed
            for layer in model:
                if isinstance(layer, nn.Linear):
                    bound = 1.0 / np.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)
        return model

    def fit(self, X: np.ndarray, y: np.ndarray) -> MLPPredictor:
        """Train a fresh network on ``X`` and ``y``."""
        X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
        y_np = np.asarray(y, dtype=np.float64).ravel()
        if X_t.ndim != 2 or len(X_t) != len(y_np) or len(y_np) == 0:
            raise ValueError(f"fit needs X [n, d] and y [n] with n >= 1, got {tuple(X_t.shape)}")
        self.mean = float(y_np.mean())
        std = float(y_np.std())
        self.std = std if std > 1e-12 else 1.0
        y_t = torch.as_tensor((y_np - self.mean) / self.std, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self.model = model = self._build(X_t.shape[1], generator)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n = len(y_t)
        batch = max(1, min(self.batch_size, n))
        model.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                loss = torch.mean((model(X_t[idx]).squeeze(-1) - y_t[idx]) ** 2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return self

    @torch.no_grad()
    def predict(self, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Predicted accuracy of each row, in the units of the ``y`` given to :meth:`fit`."""
        if self.model is None:
            raise RuntimeError("MLPPredictor.predict called before fit")
        self.model.eval()
        X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
        parts = [
            self.model(X_t[i : i + batch_size]).squeeze(-1)
            for i in range(0, len(X_t), batch_size)
        ]
        out = torch.cat(parts).numpy().astype(np.float64) if parts else np.zeros(0)
        return out * self.std + self.mean
