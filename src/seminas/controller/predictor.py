"""The SemiNAS controller's predictor behind the common predictor protocol
(:mod:`seminas.predictors.base`): ``fit(tokens, y)`` returns the predictor, ``predict(tokens)``
the predicted search metric, so studies and strategies can treat it like GBDT or the MLP."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seminas.controller.model import ControllerShape
from seminas.controller.trainer import ControllerTrainer, TrainConfig


class ControllerPredictor:
    """Encoder + predictor of the controller (the decoder trains alongside, as in the paper's
    joint loss). ``epochs`` passes per :meth:`fit`; targets are standardised with the labeled
    values of each fit; weights, batch order and dropout come from ``generator`` (or ``seed``).
    Unlike GBDT and the MLP, a fit continues from the weights of the previous one (the paper's
    training across iterations)."""

    encoding = "tokens"  # it reads the space's token rows (seminas.predictors.base)

    def __init__(
        self,
        space: Any,
        epochs: int = 100,
        shape: ControllerShape | None = None,
        train: TrainConfig | None = None,
        seed: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        if generator is None:
            generator = torch.Generator().manual_seed(int(seed))
        shape = shape or ControllerShape(vocab_size=space.vocab_size, seq_len=space.seq_len)
        self.trainer = ControllerTrainer(space, shape, train or TrainConfig(), generator)
        self.epochs = int(epochs)
        self.history: list[float] = []

    def fit(self, X: Any, y: np.ndarray) -> ControllerPredictor:
        tokens = torch.as_tensor(np.asarray(X), dtype=torch.long)
        self.trainer.standardise_with(y)
        self.history = self.trainer.fit(tokens, np.asarray(y, dtype=np.float64), self.epochs)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.trainer.predict(torch.as_tensor(np.asarray(X), dtype=torch.long))
