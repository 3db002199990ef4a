"""NASWOT: the activation-pattern score of "Neural Architecture Search without Training"
(Mellor, Turner, Storkey & Crowley, ICML 2021).

Score = ``log |K_H|`` where ``K_H[i, j] = N_A - d_H(c_i, c_j)`` is the Hamming-similarity kernel
of the binary ReLU codes of the minibatch's images (:mod:`seminas.zero_cost.activations`).
A network whose untrained ReLUs already separate the images well has codes far apart, a kernel
close to diagonal and a large log-determinant. Two images with the same code make the kernel
singular: the score is ``-inf`` (the degenerate value, e.g. for a network that maps every
image to the same pattern).
"""

from __future__ import annotations

import torch
from torch import nn

from seminas.zero_cost.activations import ActivationKernel, activation_kernel, logdet


def naswot_from_kernel(k: ActivationKernel) -> float:
    """``log |K_H|``."""
    return logdet(k.kernel)


def naswot(net: nn.Module, batch: torch.Tensor) -> float:
    """The NASWOT score of ``net`` (freshly initialised) on the image ``batch``."""
    return naswot_from_kernel(activation_kernel(net, batch))
