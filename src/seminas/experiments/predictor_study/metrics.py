"""How well a predictor ranks held-out cells: Kendall's tau-b, Spearman's rho and top-k
precision with ties counted as random tie-breaking (a constant prediction gets no credit)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

METRICS = ("kendall_tau", "spearman_rho", "top_precision")
METRIC_LABELS = {
    "kendall_tau": "Kendall tau",
    "spearman_rho": "Spearman rho",
    "top_precision": "top-1% precision",
}

def _top_membership(values: np.ndarray, k: int) -> np.ndarray:
    """Probability that each item is among the ``k`` largest when ties are broken at random."""
    order = np.sort(values)[::-1]
    cut = order[k - 1]
    above = values > cut
    tied = values == cut
    out = above.astype(np.float64)
    out[tied] = (k - int(above.sum())) / int(tied.sum())
    return out


def ranking_metrics(
    predicted: Sequence[float],
    true: Sequence[float],
    top_fraction: float = 0.01,
    top_k: int | None = None,
) -> dict[str, float]:
    """Kendall's tau-b, Spearman's rho and top-``top_fraction`` precision of a prediction.

    Precision is |predicted top k ∩ true top k| / k with k = ceil(top_fraction * n), or
    ``top_k`` when given (at most n); where ties
    make either top set ambiguous it is the expectation under random tie-breaking (the two
    memberships are independent, so it is the sum of their products). A constant prediction has
    NaN correlations.
    """
    from scipy.stats import kendalltau, spearmanr

    pred = np.asarray(predicted, dtype=np.float64)
    truth = np.asarray(true, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 1 or len(pred) < 2:
        raise ValueError("need two equally long 1-D sequences of at least 2 values")
    if top_k is not None:
        k = max(1, min(int(top_k), len(pred)))
    else:
        k = max(1, math.ceil(top_fraction * len(pred)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, reported as such
        tau = float(kendalltau(pred, truth)[0])
        rho = float(spearmanr(pred, truth)[0])
    precision = float(np.dot(_top_membership(pred, k), _top_membership(truth, k)) / k)
    return {"kendall_tau": tau, "spearman_rho": rho, "top_precision": precision, "top_k": k}
