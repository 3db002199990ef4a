"""The predictor protocol: what every accuracy predictor offers, whatever it is inside.

scikit-learn's estimator verbs, kept small: ``fit(X, y)`` trains on the labeled rows and returns
the predictor itself (so ``predictor.fit(X, y).predict(Z)`` reads as one step), ``predict(X)``
gives one predicted search metric per row, in the benchmark's units. ``X`` is whatever encoding
the predictor consumes: feature rows for GBDT and the MLP, token rows for the SemiNAS
controller. A predictor owns its randomness (it is built with a seed or a generator).

Satisfied by :class:`~seminas.predictors.gbdt.GBDTPredictor`,
:class:`~seminas.predictors.mlp.MLPPredictor` and
:class:`~seminas.controller.predictor.ControllerPredictor`; a plugin registers its own in the
``seminas.predictors`` group (:mod:`seminas.registry`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """Fit on labeled rows, predict the search metric of any rows."""

    def fit(self, X: Any, y: np.ndarray) -> Predictor: ...

    def predict(self, X: Any) -> np.ndarray: ...
