"""DAS, the "distinguishing activation score" (Liu, Li, Sun & Liu, "DAS: Neural Architecture
Search via Distinguishing Activation Score", arXiv:2212.12132, 2022) -- this project's reading.

What the paper states (abstract): the NASWOT score is not atomic; it is decoupled into two
atomic metrics, the network's *distinguishing ability* and the *number of activation units*, and
DAS recombines them by a better rule than NASWOT's. The paper's exact formula was not available
to us (see docs/zero-cost.md), so this module implements the reading that follows from that
statement and from NASWOT's own definition:

- The decoupling is exact. With ``N_A`` units per image and ``D`` the matrix of Hamming
  distances, ``K_H = N_A (J - D / N_A) = N_A S``, where ``S`` is the kernel normalised to a unit
  diagonal (``S[i, j]``: the fraction of units on which images i and j agree). Hence
  ``log |K_H| = B log N_A + log |S|`` for a batch of B images.
- *Distinguishing ability*: ``log |S|`` (<= 0 by Hadamard's inequality; 0 when the codes are
  mutually orthogonal in the ±1 sense, ``-inf`` when two images share a code). It depends only on
  how far apart the codes are, not on how many units there are.
- *Number of activation units*: ``log N_A``.
- NASWOT weighs the units term B times (``|K_H| = |S| N_A^B``), so with a batch of 64-128 images
  the unit count -- a size measure -- dominates it. The combination here weighs the two atomic
  metrics equally: ``DAS = log |S| + units_weight * log N_A``, i.e. ``log(|S| N_A)`` at the
  default ``units_weight = 1``.

The two atomic metrics are returned too (:func:`das_components`), so a study can judge the
combination rule from the same forward pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seminas.zero_cost.activations import ActivationKernel, activation_kernel, logdet

UNITS_WEIGHT = 1.0


def das_components(k: ActivationKernel) -> dict[str, float]:
    """The two atomic metrics: ``distinguish`` = ``log |S|``, ``units`` = ``log N_A``."""
    return {"distinguish": logdet(k.kernel / k.units), "units": math.log(k.units)}


def das_from_kernel(k: ActivationKernel, units_weight: float = UNITS_WEIGHT) -> float:
    """``log |S| + units_weight * log N_A``."""
    parts = das_components(k)
    return parts["distinguish"] + units_weight * parts["units"]


def das(net: nn.Module, batch: torch.Tensor, units_weight: float = UNITS_WEIGHT) -> float:
    """The DAS score (this project's reading, see the module docstring) of ``net`` on ``batch``."""
    return das_from_kernel(activation_kernel(net, batch), units_weight)
