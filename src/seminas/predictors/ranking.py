"""Ranking losses: a search needs the order of architectures, not their accuracies.

A regression loss (MSE) spends its capacity on getting values right; a ranking loss only asks
that better architectures score higher. Both kinds take the predictions ``pred`` and targets
``target`` of one mini-batch (1-D tensors of equal length) and return a scalar:

- ``"mse"``: the mean squared error (today's loss everywhere; the default).
- ``"pairwise"``: the logistic (RankNet) loss over every ordered pair of the batch,
  ``log(1 + exp(-(s_i - s_j)))`` for each pair with ``y_i > y_j`` (Burges et al., "Learning to
  Rank using Gradient Descent", ICML 2005).
- ``"hinge"``: the margin ranking loss ``max(0, margin - (s_i - s_j))`` over the same pairs
  (Herbrich et al., "Large Margin Rank Boundaries for Ordinal Regression", 2000).
- ``"listmle"``: ListMLE (Xia et al., "Listwise Approach to Learning to Rank: Theory and
  Algorithm", ICML 2008): the negative log-likelihood of the true order under the
  Plackett-Luce model of the scores, ``sum_i [logsumexp(s_pi(i..n)) - s_pi(i)]`` / n, where
  ``pi`` sorts the targets from best to worst.
- ``"listnet"``: ListNet's top-one softmax cross-entropy (Cao et al., "Learning to Rank: From
  Pairwise Approach to Listwise Approach", ICML 2007) between ``softmax(y)`` and
  ``softmax(s)``, on standardised targets.

Scores trained with a ranking loss have no units. :func:`calibrate` maps them to the target's
scale with a monotone affine map (matching mean and standard deviation on the training rows), so
that a predictor keeps the protocol's promise of predictions in the benchmark's units -- and the
order, which is all a ranking loss learned, is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

LOSSES: tuple[str, ...] = ("mse", "pairwise", "hinge", "listmle", "listnet")
RANKING_LOSSES: tuple[str, ...] = tuple(name for name in LOSSES if name != "mse")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - target) ** 2)


def _pair_differences(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``s_i - s_j`` for every pair with ``y_i > y_j`` (ties carry no order), and their count."""
    better = target[:, None] > target[None, :]
    diff = pred[:, None] - pred[None, :]
    return diff[better], int(better.sum())


def pairwise_logistic_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    diff, pairs = _pair_differences(pred, target)
    if pairs == 0:
        return pred.sum() * 0.0  # nothing to order: no gradient, but a graph to backprop
    return F.softplus(-diff).mean()


def pairwise_hinge_loss(
    pred: torch.Tensor, target: torch.Tensor, margin: float = 0.1
) -> torch.Tensor:
    diff, pairs = _pair_differences(pred, target)
    if pairs == 0:
        return pred.sum() * 0.0
    return F.relu(margin - diff).mean()


def listmle_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(target, descending=True, stable=True)
    s = pred[order]
    # logsumexp of each suffix s[i:], by a reversed cumulative logsumexp
    suffix = torch.flip(torch.logcumsumexp(torch.flip(s, (0,)), dim=0), (0,))
    return torch.mean(suffix - s)


def listnet_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    t = target - target.mean()
    std = t.std() if len(t) > 1 else t.new_tensor(1.0)
    t = t / torch.clamp(std, min=1e-8)
    return -(F.softmax(t, dim=0) * F.log_softmax(pred, dim=0)).sum()


_FUNCTIONS: dict[str, LossFn] = {
    "mse": mse_loss,
    "pairwise": pairwise_logistic_loss,
    "hinge": pairwise_hinge_loss,
    "listmle": listmle_loss,
    "listnet": listnet_loss,
}


def loss_function(name: str) -> LossFn:
    """The loss called ``name`` (one of :data:`LOSSES`)."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose from {', '.join(LOSSES)}") from None


def calibrate(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(scale, shift)`` with ``scale > 0`` so that ``scores * scale + shift`` has the mean and
    standard deviation of ``target`` (a monotone map: the order of the scores is kept)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    s_std, y_std = float(s.std()), float(y.std())
    scale = y_std / s_std if s_std > 1e-12 and y_std > 1e-12 else 1.0
    return scale, float(y.mean() - scale * s.mean())


__all__ = [
    "LOSSES",
    "RANKING_LOSSES",
    "calibrate",
    "listmle_loss",
    "listnet_loss",
    "loss_function",
    "mse_loss",
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
]
