"""Synflow: the data-free "synaptic flow" saliency (Tanaka, Kunin, Yamins & Ganguli, NeurIPS
2020), summed over the network as a zero-cost proxy (Abdelfattah, Mehrotra, Dudziak & Lane,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

Every parameter is replaced by its absolute value, the network runs in evaluation mode (at
initialisation BatchNorm's running statistics are 0 and 1, so it only rescales by
``1/sqrt(1 + eps)``) on one all-ones input, ``R`` is the sum of the outputs, and the score is
``sum |theta * dR/dtheta|`` over the weights of the convolutions and linear layers, as the
zero-cost-proxy paper sums it. No data is used. Everything runs in float64: products of a
few dozen layers of absolute weights overflow float32.

The caller's network is not touched (a copy is scored).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

SCORED_LAYERS = (nn.Conv2d, nn.Linear)


def synflow(net: nn.Module, batch: torch.Tensor | Sequence[int]) -> float:
    """The synflow score of ``net``; ``batch`` gives the input shape only (one image is used)."""
    shape = tuple(batch.shape[1:]) if isinstance(batch, torch.Tensor) else tuple(batch)
    model = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
            p.requires_grad_(True)
    model.zero_grad(set_to_none=True)
    out = model(torch.ones((1, *shape), dtype=torch.float64))
    out.sum().backward()
    total = 0.0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, SCORED_LAYERS) and module.weight.grad is not None:
                total += float((module.weight * module.weight.grad).abs().sum())
    return total
