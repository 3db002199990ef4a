"""Binary ReLU activation codes of a minibatch, summarised as the Hamming-similarity kernel.

Both activation-pattern scores (NASWOT and DAS) look at which ReLU units are on (input > 0) for
each image of one minibatch at initialisation. Every ``nn.ReLU`` module of the network is
hooked; per module, with the codes ``c`` (batch x units, 0/1), the kernel gains
``c c^T + (1 - c)(1 - c)^T`` -- the number of units on which two images agree, i.e.
``units - Hamming distance``. The codes themselves are never kept (the standard
NAS-Bench-201 network has about a million units per image), only the batch x batch kernel.

The network runs in training mode (BatchNorm normalises with the batch's own statistics, as
at the first step of training) without gradients; its BatchNorm running statistics move by
that one batch, so score a fresh network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class ActivationKernel:
    """``kernel[i, j]``: units on which images i and j agree; ``units``: units per image."""

    kernel: np.ndarray  # float64, batch x batch
    units: int

    @property
    def batch_size(self) -> int:
        return int(self.kernel.shape[0])


def kernel_from_codes(codes: np.ndarray | torch.Tensor) -> ActivationKernel:
    """The kernel of explicit binary codes (batch x units): for hand-made cases and tests."""
    c = torch.as_tensor(np.asarray(codes), dtype=torch.float64)
    if c.ndim != 2:
        raise ValueError(f"codes must be a batch x units matrix, got shape {tuple(c.shape)}")
    agree = c @ c.T + (1.0 - c) @ (1.0 - c).T
    return ActivationKernel(agree.numpy(), int(c.shape[1]))


def activation_kernel(net: nn.Module, batch: torch.Tensor) -> ActivationKernel:
    """Run ``batch`` through ``net`` once and accumulate the kernel over all its ReLUs."""
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError("the network has no nn.ReLU module: activation codes are undefined")
    n = int(batch.shape[0])
    # Per module the counts stay far below 2**24 (one module has C*H*W <= 16,384 units per
    # image in NAS-Bench-201), so float32 products are exact; the sum over modules is float64.
    acc = torch.zeros(n, n, dtype=torch.float64)
    units = 0

    # A tensor often feeds several ReLUs (a cell's node goes into every edge leaving it): its
    # contribution is computed once. The cache holds the last few inputs themselves, so an id is
    # never reused while it is cached.
    recent: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal acc, units
        x = inputs[0]
        part = next((p for t, p in recent if t is x), None)
        if part is None:
            c = (x.detach() > 0).reshape(n, -1).to(torch.float32)
            m = c.shape[1]
            if m >= 1 << 24:
                c = c.double()
            on = c.sum(dim=1).double()
            # (1-c)(1-c)^T = m - on_i - on_j + c c^T
            part = 2.0 * (c @ c.T).double() - on[:, None] - on[None, :] + m
            recent.append((x, part))
            del recent[:-4]
        acc += part
        units += x[0].numel()

    handles = [m.register_forward_hook(hook) for m in relus]
    was_training = net.training
    try:
        net.train()
        with torch.no_grad():
            net(batch)
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return ActivationKernel(acc.numpy(), units)


def logdet(matrix: np.ndarray) -> float:
    """``log |det|`` of a kernel; ``-inf`` when it is singular (two images share a code)."""
    sign, value = np.linalg.slogdet(np.asarray(matrix, dtype=np.float64))
    return float("-inf") if sign == 0 else float(value)
