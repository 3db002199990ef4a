"""The predictor of one round of a predictor-based search: any flat-encoding predictor of the
registry, optionally semi-supervised with SemiNAS's pseudo-labels.

WeakNAS and GBDT-NAS were written around one predictor each. SemiNAS's claim is that its
semi-supervised predictor "can be applied to various NAS algorithms", so these strategies name
their predictor (``predictor=gbdt|mlp|ensemble``) and, with ``pseudo_labels = M > 0``, wrap it
in :class:`~seminas.predictors.semi.SemiSupervisedPredictor`: fitted on the evaluated cells,
it pseudo-labels M unevaluated candidates and is refit on the labeled rows x ``upsample`` plus
the pseudo-labeled ones (``pseudo_keep < 1`` keeps only the least disputed share).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from seminas.registry import make_predictor
from seminas.strategies.base import SearchContext
from seminas.strategies.candidates import draw_candidates

# predictors that read the flat encoding every candidate pool carries
FLAT_PREDICTORS = ("gbdt", "mlp", "ensemble")


def fit_round_predictor(
    ctx: SearchContext,
    rng: np.random.Generator,
    name: str,
    options: Mapping[str, Mapping[str, Any]],
    X: np.ndarray,
    y: np.ndarray,
    pseudo_labels: int = 0,
    upsample: int = 10,
    keep: float = 1.0,
) -> Any:
    """A fresh predictor ``name`` (its options from ``options[name]``) fitted on ``(X, y)``;
    with ``pseudo_labels > 0`` semi-supervised on that many unevaluated candidates. The seed
    is drawn from ``rng`` first, so that without pseudo-labels a strategy draws exactly what it
    drew before it could choose."""
    seed = int(rng.integers(2**31 - 1))
    own = dict(options.get(name, {}))
    if pseudo_labels <= 0:
        return make_predictor(name, seed=seed, **own).fit(X, y)
    # the whole semi-supervised fit (teacher, pseudo-labels, refit) is booked as pseudo-labeling
    ctx.set_phase("pseudo-labeling")
    unlabeled = draw_candidates(ctx, rng, pseudo_labels, pseudo_labels)
    U = unlabeled.features[~unlabeled.evaluated]  # never an evaluated cell
    model = make_predictor(
        "semi", seed=seed, base=name, m=pseudo_labels, upsample=upsample, keep=keep, **own
    )
    return model.fit(X, y, unlabeled=U)
