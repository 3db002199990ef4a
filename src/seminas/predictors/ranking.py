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
Top-weighted (:data:`TOP_LOSSES`; not in :data:`LOSSES`, whose members all learn the order of
the whole list):

- ``"lambdarank"``: LambdaRank (Burges, Ragno, Le, NIPS 2006; "From RankNet to LambdaRank to
  LambdaMART", 2010), the loss AceNAS trains with (Zhang et al., 2021): the RankNet loss of each
  ordered pair weighted by how much swapping the two would change the batch's NDCG at its
  current predicted order, so the pairs that decide the top of the list dominate. Relevance is
  the target mapped linearly onto ``[0, 20]`` between the batch's 20% quantile and its maximum
  (lower targets all get 0), gains are ``2^relevance - 1`` -- AceNAS's settings: only the "ace"
  architectures are worth ordering precisely. Pairs deep in the list weigh little, so it learns
  the order of the rest slowly; the GNN predictor offers it (``loss="lambdarank"``).

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
TOP_LOSSES: tuple[str, ...] = ("lambdarank",)
ALL_LOSSES: tuple[str, ...] = LOSSES + TOP_LOSSES

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


RELEVANCE_SCALE = 20.0  # AceNAS: the best target of a batch has relevance 20
RELEVANCE_FLOOR = 0.2  # targets at or below this quantile of the batch have relevance 0


def relevance(
    target: torch.Tensor, scale: float = RELEVANCE_SCALE, floor: float = RELEVANCE_FLOOR
) -> torch.Tensor:
    """Graded relevance of each target: ``0`` up to the ``floor`` quantile, ``scale`` at the
    maximum, linear between (all zeros when the targets are equal)."""
    t = target.detach().to(torch.float64)
    lower = torch.quantile(t, floor) if len(t) > 1 else t.min()
    span = t.max() - lower
    if float(span) <= 1e-12:
        return torch.zeros_like(t)
    return torch.clamp((t - lower) / span, 0.0, 1.0) * scale


def lambdarank_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    scale: float = RELEVANCE_SCALE,
    floor: float = RELEVANCE_FLOOR,
    sigma: float = 1.0,
) -> torch.Tensor:
    """LambdaRank as a loss whose gradient is the lambdas: ``sum |dNDCG_ij| *
    log(1 + exp(-sigma (s_i - s_j)))`` over the pairs with ``rel_i > rel_j``, where
    ``|dNDCG_ij|`` (no gradient) is the change in NDCG from swapping ``i`` and ``j`` in the order
    of the current scores."""
    rel = relevance(target, scale, floor)
    better = rel[:, None] > rel[None, :]
    if not bool(better.any()):
        return pred.sum() * 0.0
    with torch.no_grad():
        gain = torch.pow(2.0, rel) - 1.0
        position = torch.empty(len(pred), dtype=torch.float64)
        order = torch.argsort(pred.detach(), descending=True, stable=True)
        position[order] = torch.arange(len(pred), dtype=torch.float64)
        discount = 1.0 / torch.log2(position + 2.0)
        ideal = torch.sort(gain, descending=True).values
        ideal_dcg = torch.sum(ideal / torch.log2(torch.arange(len(pred), dtype=torch.float64)
                                                 + 2.0))
        swap = torch.abs(gain[:, None] - gain[None, :]) * torch.abs(
            discount[:, None] - discount[None, :]
        ) / ideal_dcg
        weight = swap[better].to(pred.dtype)
    diff = (pred[:, None] - pred[None, :])[better]
    return torch.sum(weight * F.softplus(-sigma * diff))


_FUNCTIONS: dict[str, LossFn] = {
    "mse": mse_loss,
    "pairwise": pairwise_logistic_loss,
    "hinge": pairwise_hinge_loss,
    "listmle": listmle_loss,
    "listnet": listnet_loss,
    "lambdarank": lambdarank_loss,
}


def loss_function(name: str) -> LossFn:
    """The loss called ``name`` (one of :data:`ALL_LOSSES`)."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose from {', '.join(ALL_LOSSES)}") from None


def calibrate(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(scale, shift)`` with ``scale > 0`` so that ``scores * scale + shift`` has the mean and
    standard deviation of ``target`` (a monotone map: the order of the scores is kept)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    s_std, y_std = float(s.std()), float(y.std())
    scale = y_std / s_std if s_std > 1e-12 and y_std > 1e-12 else 1.0
    return scale, float(y.mean() - scale * s.mean())


__all__ = [
    "ALL_LOSSES",
    "LOSSES",
    "RANKING_LOSSES",
    "RELEVANCE_FLOOR",
    "RELEVANCE_SCALE",
    "TOP_LOSSES",
    "calibrate",
    "lambdarank_loss",
    "listmle_loss",
    "listnet_loss",
    "loss_function",
    "mse_loss",
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
    "relevance",
]
