"""Semi-supervision for any predictor: SemiNAS's pseudo-labels as a wrapper.

SemiNAS (Luo et al., "Semi-Supervised Neural Architecture Search", NeurIPS 2020) trains its
predictor on N evaluated architectures, lets it label M unevaluated ones, and trains again on
the labeled ones repeated ``upsample`` times plus the pseudo-labeled ones. This wrapper does the
same for any predictor of the protocol (:mod:`seminas.predictors.base`):

1. fit a fresh base predictor on the labeled rows ``(X, y)``;
2. pick M rows of ``unlabeled`` (all of them when there are at most M; else M drawn by the
   wrapper's own generator), leaving out every row equal to a labeled row -- a labeled cell is
   never pseudo-labeled, so its true label is the only one any fit sees;
3. pseudo-label them with the current model and, with ``keep < 1``, keep only the ``keep``
   fraction the predictor is surest about: lowest ensemble disagreement (the base's own
   ``predict_std`` when it has one, e.g. :mod:`~seminas.predictors.ensemble`; otherwise a
   committee of ``committee`` base predictors with different seeds, fitted on the same rows,
   whose mean is then the pseudo-label) -- the confidence filter of self-training (e.g. Rizve et
   al., "In Defense of Pseudo-Labeling", ICLR 2021, select by uncertainty);
4. fit a fresh base predictor on labeled x ``upsample`` plus the kept pseudo-labeled rows;
5. with ``rounds > 1``, repeat 3-4 with the newest model (self-training).

**API.** The wrapper is built like any registered predictor (``make_predictor("semi",
base="gnn", m=1000, ...)``: options the wrapper does not know pass to the base) and the
unlabeled rows come with the fit: ``fit(X, y, unlabeled=U)``; ``fit(X, y)`` alone is the base
predictor's plain fit. ``X`` and ``U`` are rows of the base's encoding (the wrapper's
``encoding`` is the base's; :func:`seminas.predictors.encoding.encode_for`). When the base
learns from free labels, ``pretrain(X_free, F)`` pretrains it once; every fresh base starts from
that pretrained state (FBNetV3-style pretraining and pseudo-labels together).

**What it sees.** Only rows and the labels it is given: no evaluator, table or space, so it
can neither look up nor charge anything. Every random choice (which M rows, the base seeds)
comes from its own generator, seeded with ``seed``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from seminas.options import Options, opt
from seminas.predictors.base import (
    concat_rows,
    encoding_of,
    num_rows,
    repeat_rows,
    row_keys,
    supports_pretraining,
    take_rows,
)
from seminas.predictors.ensemble import member_factory

BASES: tuple[str, ...] = ("gbdt", "mlp", "gnn", "ensemble")


@dataclass(frozen=True)
class SemiParams(Options):
    """The wrapper's own options (the base predictor's pass through to it)."""

    base: str = opt("gbdt", choices=BASES, doc="the predictor that is semi-supervised",
                    label="semi-supervised base predictor")
    m: int = opt(1000, low=0, doc="unlabeled rows pseudo-labeled per round (0: none)")
    upsample: int = opt(10, low=1, doc="times the labeled rows are repeated in each refit")
    rounds: int = opt(1, low=1, doc="pseudo-label and refit rounds (self-training)")
    keep: float = opt(1.0, above=0, high=1, doc="fraction of pseudo-labels kept, the least "
                      "disputed first (1: all)")
    committee: int = opt(3, low=2, doc="members whose disagreement ranks the pseudo-labels "
                         "when keep < 1 and the base has no predict_std")


class SemiSupervisedPredictor:
    """A base predictor trained on its labeled rows plus pseudo-labeled unlabeled rows."""

    Options = SemiParams
    encoding: str | None = None  # the base's, set on each instance

    def __init__(
        self,
        seed: int = 0,
        base: str | Callable[[int], Any] = "gbdt",
        m: int = 1000,
        upsample: int = 10,
        rounds: int = 1,
        keep: float = 1.0,
        committee: int = 3,
        **base_options: Any,
    ) -> None:
        own = {"m": m, "upsample": upsample, "rounds": rounds, "keep": keep,
               "committee": committee}
        self.params = SemiParams(base, **own) if isinstance(base, str) else SemiParams(**own)
        self.base = base
        self.base_options = dict(base_options)
        self.seed = int(seed)
        self._factory = member_factory(base, self.base_options)
        rng = np.random.default_rng(self.seed)
        self._seeds = [int(s) for s in rng.integers(2**31 - 1, size=self.params.committee)]
        self._templates: dict[int, Any] = {}
        self._free: tuple[Any, np.ndarray] | None = None
        first = self._template(0)
        self.encoding = encoding_of(first)
        self._base_pretrains = supports_pretraining(first)
        if self._base_pretrains:
            self.pretrain = self._pretrain
        self.model: Any = None
        self.info: dict[str, Any] = {}

    # -- fresh base predictors -------------------------------------------------------------------
    def _template(self, k: int) -> Any:
        """Base predictor ``k`` (seed ``k`` of the wrapper's), unfitted, pretrained if asked."""
        if k not in self._templates:
            model = self._factory(self._seeds[k])
            if self._free is not None:
                model.pretrain(*self._free)
            self._templates[k] = model
        return self._templates[k]

    def _fresh(self, k: int = 0) -> Any:
        return copy.deepcopy(self._template(k))

    def _pretrain(self, X: Any, free: np.ndarray) -> SemiSupervisedPredictor:
        """Pretrain the base on free labels once; every later fresh base starts from it."""
        self._free = (X, np.asarray(free))
        self._templates.clear()
        self._template(0)
        return self

    # -- fitting ---------------------------------------------------------------------------------
    def _pool(self, X: Any, unlabeled: Any, rng: np.random.Generator) -> np.ndarray:
        """Indices of the unlabeled rows to pseudo-label: none equal to a labeled row, no row
        twice, at most ``m`` (drawn at random when there are more)."""
        labeled = set(row_keys(X))
        seen: set[bytes] = set()
        candidates = []
        for i, key in enumerate(row_keys(unlabeled)):
            if key in labeled or key in seen:
                continue
            seen.add(key)
            candidates.append(i)
        pool = np.asarray(candidates, dtype=np.int64)
        if len(pool) > self.params.m:
            pool = np.sort(rng.choice(pool, size=self.params.m, replace=False))
        return pool

    def _pseudo_labels(
        self, model: Any, X_fit: Any, y_fit: np.ndarray, U: Any
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Pseudo-labels of ``U`` and, when the filter is on, each one's disagreement."""
        if self.params.keep >= 1:
            return np.asarray(model.predict(U), dtype=np.float64), None
        if callable(getattr(model, "predict_std", None)):
            return (np.asarray(model.predict(U), dtype=np.float64),
                    np.asarray(model.predict_std(U), dtype=np.float64))
        preds = [np.asarray(model.predict(U), dtype=np.float64)]
        for k in range(1, self.params.committee):
            preds.append(np.asarray(self._fresh(k).fit(X_fit, y_fit).predict(U),
                                    dtype=np.float64))
        stacked = np.stack(preds)
        return stacked.mean(axis=0), stacked.std(axis=0)

    def fit(
        self, X: Any, y: np.ndarray, unlabeled: Any = None, initial: Any = None
    ) -> SemiSupervisedPredictor:
        """Fit on the labeled rows ``(X, y)`` and pseudo-labeled rows of ``unlabeled``.

        ``initial``: a base predictor already fitted on exactly ``(X, y)`` (for example the
        plain fit a caller made anyway), used in place of step 1 -- it is not refitted or
        changed. Without it the wrapper fits its own fresh base first."""
        p = self.params
        y = np.asarray(y, dtype=np.float64).ravel()
        if num_rows(X) != len(y):
            raise ValueError(f"fit needs as many targets as rows, got {num_rows(X)} and {len(y)}")
        model = initial if initial is not None else self._fresh().fit(X, y)
        self.info = {"labeled": len(y), "pseudo_labeled": 0, "kept": 0, "rounds": 0}
        if unlabeled is None or p.m == 0 or num_rows(unlabeled) == 0:
            self.model = model
            return self
        rng = np.random.default_rng([self.seed, 1])
        U = take_rows(unlabeled, self._pool(X, unlabeled, rng))
        if num_rows(U) == 0:
            self.model = model
            return self
        X_up, y_up = repeat_rows(X, p.upsample), np.tile(y, p.upsample)
        X_fit, y_fit = X, y
        kept_rows = 0
        for _ in range(p.rounds):
            pseudo, spread = self._pseudo_labels(model, X_fit, y_fit, U)
            if spread is not None:
                count = max(1, int(round(p.keep * len(pseudo))))
                keep = np.sort(np.argsort(spread, kind="stable")[:count])
            else:
                keep = np.arange(len(pseudo))
            X_fit = concat_rows([X_up, take_rows(U, keep)])
            y_fit = np.concatenate([y_up, pseudo[keep]])
            model = self._fresh().fit(X_fit, y_fit)
            kept_rows = len(keep)
        self.info.update(pseudo_labeled=num_rows(U), kept=kept_rows, rounds=p.rounds)
        self.model = model
        return self

    # -- predicting ------------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("SemiSupervisedPredictor.predict called before fit")
        return self.model.predict(X)

    def predict_std(self, X: Any) -> np.ndarray:
        """The final model's uncertainty, where the base has one (an ensemble)."""
        if self.model is None:
            raise RuntimeError("SemiSupervisedPredictor.predict_std called before fit")
        own = getattr(self.model, "predict_std", None)
        if not callable(own):
            raise AttributeError(f"the base predictor {self.base!r} gives no uncertainty")
        return own(X)


OPTION_NAMES = tuple(f.name for f in fields(SemiParams))

__all__ = ["BASES", "OPTION_NAMES", "SemiParams", "SemiSupervisedPredictor"]
