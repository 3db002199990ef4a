"""A LightGBM regressor with GBDT-NAS's settings, behind a scikit-learn-like interface.

GBDT-NAS (Luo et al., "Accuracy Prediction with Non-neural Model for Neural Architecture
Search", 2020; code released with the paper) trains LightGBM on the flat architecture encoding
with: gradient-boosted trees, L2 regression, 100 boosting rounds, 31 leaves, learning rate 0.05,
feature fraction 0.9, bagging fraction 0.8 every 5 iterations, and LightGBM's other defaults
(e.g. at least 20 samples per leaf). Those are the defaults here.

Targets are standardised with the training set's own mean and standard deviation (GBDT-NAS
standardises too) and predictions are mapped back, so predictions are in the benchmark's units.
One thread and a fixed seed make a fit reproducible bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from seminas.options import Options, check_keys, opt


@dataclass(frozen=True)
class GBDTParams(Options):
    """GBDT-NAS's LightGBM settings (see the module text for the source)."""

    num_boost_round: int = opt(100, low=1, doc="boosting rounds")
    num_leaves: int = opt(31, low=2, doc="leaves per tree")
    learning_rate: float = opt(0.05, above=0, doc="shrinkage")
    feature_fraction: float = opt(0.9, above=0, high=1, doc="features sampled per tree")
    bagging_fraction: float = opt(0.8, above=0, high=1, doc="rows sampled per bagging round")
    bagging_freq: int = opt(5, low=0, doc="bagging every this many rounds (0 = never)")
    # LightGBM's default, which GBDT-NAS keeps
    min_data_in_leaf: int = opt(20, low=1, doc="fewest samples in a leaf")


PAPER_PARAMS = GBDTParams()


class GBDTPredictor:
    """LightGBM regression of accuracy from flat features; ``fit(X, y)`` / ``predict(X)``."""

    Options = GBDTParams  # its options, declared (the registry-walking test checks them)
    encoding = "flat"  # what it reads (seminas.predictors.base)

    def __init__(
        self,
        params: GBDTParams | None = None,
        seed: int = 0,
        n_jobs: int = 1,
        **overrides: Any,
    ) -> None:
        base = params if params is not None else PAPER_PARAMS
        check_keys(GBDTParams, overrides, "the GBDT predictor")
        self.params = GBDTParams(**{**asdict(base), **overrides})
        self.seed = int(seed)
        self.n_jobs = int(n_jobs)
        self.booster: Any = None
        self.fitted = False
        self.mean = 0.0
        self.std = 1.0

    def _lgb_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "regression",
            "boosting_type": "gbdt",
            "num_leaves": p.num_leaves,
            "learning_rate": p.learning_rate,
            "feature_fraction": p.feature_fraction,
            "bagging_fraction": p.bagging_fraction,
            "bagging_freq": p.bagging_freq,
            "min_data_in_leaf": p.min_data_in_leaf,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbose": -1,
        }

    def fit(self, X: np.ndarray, y: np.ndarray) -> GBDTPredictor:
        """Train from scratch on ``X`` (rows of features) and ``y`` (accuracies)."""
        import lightgbm as lgb

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise ValueError(f"fit needs X [n, d] and y [n] with n >= 1, got {X.shape}, {y.shape}")
        self.mean = float(y.mean())
        std = float(y.std())
        self.std = std if std > 1e-12 else 1.0
        self.fitted = True
        if len(y) < 2:  # nothing to split (and bagging would keep no row): predict the mean
            self.booster = None
            return self
        data = lgb.Dataset(X, (y - self.mean) / self.std, params={"verbose": -1})
        self.booster = lgb.train(
            self._lgb_params(), data, num_boost_round=self.params.num_boost_round
        )
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted accuracy of each row, in the units of the ``y`` given to :meth:`fit`."""
        if not self.fitted:
            raise RuntimeError("GBDTPredictor.predict called before fit")
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros(0)
        if self.booster is None:
            return np.full(len(X), self.mean)
        raw = self.booster.predict(X, num_threads=self.n_jobs)
        return np.asarray(raw, dtype=np.float64) * self.std + self.mean
