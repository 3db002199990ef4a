"""An ensemble of any predictor: several members with different seeds (and, optionally, each on
a bootstrap resample of the labeled rows), their mean as the prediction and their spread as the
uncertainty.

Deep ensembles (Lakshminarayanan et al., "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles", NeurIPS 2017) estimate uncertainty by the disagreement of
independently trained networks; bagging (Breiman, 1996) adds resampled training sets. BANANAS
(White et al., AAAI 2021) uses such an ensemble of neural predictors in NAS.

**Uncertainty, the one documented way**: :meth:`EnsemblePredictor.predict_std` gives the
standard deviation of the members' predictions for each row (population std, in the
prediction's units); :meth:`~EnsemblePredictor.predict` is their mean. A strategy or the
semi-supervised wrapper (:mod:`seminas.predictors.semi`) finds the uncertainty by looking for
``predict_std``.

The members are built by a factory: a registered predictor's name (``member``) with its
options, or any callable ``factory(seed) -> predictor``. Member ``k`` gets the ``k``-th seed
drawn from the ensemble's own generator (seeded with ``seed``); bootstrap resamples come from
the same generator. ``encoding`` is the members' encoding, and ``pretrain`` (when the members
have it) pretrains every member, so an ensemble works wherever its members do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.options import Options, opt
from seminas.predictors.base import encoding_of, supports_pretraining, take_rows

BASES: tuple[str, ...] = ("gbdt", "mlp", "gnn")


@dataclass(frozen=True)
class EnsembleParams(Options):
    """The ensemble's own options (the members' options pass through to the members)."""

    member: str = opt("gnn", choices=BASES, doc="the members' predictor", label="ensemble member")
    members: int = opt(5, low=1, doc="number of members")
    bootstrap: bool = opt(False, doc="fit each member on a bootstrap resample of the rows")


def member_factory(
    base: str | Callable[[int], Any], options: dict[str, Any]
) -> Callable[[int], Any]:
    """``factory(seed) -> predictor`` for a registered name (with ``options``) or a callable."""
    if callable(base):
        if options:
            raise ValueError("member options go with a predictor's name, not with a factory")
        return base
    from seminas.registry import make_predictor

    return lambda seed: make_predictor(base, seed=seed, **options)


def _member_class(base: str | Callable[[int], Any]) -> Any:
    if callable(base):
        return None
    from seminas.registry import predictors

    return predictors.get(base)


class EnsemblePredictor:
    """Mean and spread of ``members`` predictors; ``fit(X, y)`` / ``predict(X)`` /
    ``predict_std(X)``."""

    Options = EnsembleParams
    encoding: str | None = None  # the base's, set on each instance

    def __init__(
        self,
        seed: int = 0,
        member: str | Callable[[int], Any] = "gnn",
        members: int = 5,
        bootstrap: bool = False,
        **member_options: Any,
    ) -> None:
        if isinstance(member, str):
            self.params = EnsembleParams(member, members, bootstrap)
        else:
            self.params = EnsembleParams(members=members, bootstrap=bootstrap)
        self.member = member
        self.members_count = self.params.members
        self.bootstrap = self.params.bootstrap
        self.seed = int(seed)
        self.member_options = dict(member_options)
        self._factory = member_factory(member, self.member_options)
        seeds = np.random.default_rng(self.seed).integers(2**31 - 1, size=self.members_count)
        self.members = [self._factory(int(s)) for s in seeds]
        cls = _member_class(member)
        self.encoding = encoding_of(self.members[0] if cls is None else cls)
        if supports_pretraining(self.members[0]):
            self.pretrain = self._pretrain

    def _pretrain(self, X: Any, free: np.ndarray) -> EnsemblePredictor:
        """Pretrain every member on the free labels (see :mod:`seminas.predictors.neural`)."""
        for member in self.members:
            member.pretrain(X, free)
        return self

    def fit(self, X: Any, y: np.ndarray) -> EnsemblePredictor:
        y = np.asarray(y, dtype=np.float64).ravel()
        rng = np.random.default_rng([self.seed, 1])
        for member in self.members:
            if self.bootstrap and len(y) > 1:
                idx = rng.integers(len(y), size=len(y))
                member.fit(take_rows(X, idx), y[idx])
            else:
                member.fit(X, y)
        return self

    def member_predictions(self, X: Any) -> np.ndarray:
        """Every member's predictions, ``[members, n]``."""
        return np.stack([np.asarray(m.predict(X), dtype=np.float64) for m in self.members])

    def predict(self, X: Any) -> np.ndarray:
        return self.member_predictions(X).mean(axis=0)

    def predict_std(self, X: Any) -> np.ndarray:
        """The members' disagreement on each row: the standard deviation of their predictions."""
        return self.member_predictions(X).std(axis=0)

    def predict_mean_std(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_std(X))`` from one pass over the members."""
        preds = self.member_predictions(X)
        return preds.mean(axis=0), preds.std(axis=0)


__all__ = ["BASES", "EnsembleParams", "EnsemblePredictor", "member_factory"]
