"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020) as a PyTorch module.

Skeleton: a 3x3 conv + BN stem with ``channels`` (16) channels, three stages of
``cells_per_stage`` (5) cells at ``C``, ``2C``, ``4C`` channels, a residual reduction block
between stages, then BN + ReLU, global average pooling and a linear classifier.

- Cell: four nodes; node 0 is the cell input, node ``i`` is the sum over ``j < i`` of
  ``op_ji(node j)``, the cell output is node 3. Operations: ``none`` (zero), ``skip_connect``
  (identity), ``nor_conv_1x1`` and ``nor_conv_3x3`` (ReLU -> conv -> BN), ``avg_pool_3x3``
  (stride 1, padding not counted in the average).
- Reduction block: a ResNet basic block of stride 2 doubling the channels -- ReLU-conv3x3(stride
  2)-BN, then ReLU-conv3x3-BN, plus a shortcut of 2x2 average pooling and a 1x1 conv.

With the standard settings the parameter counts span 0.073306 M (every edge ``none``) to
1.531546 M (every edge ``nor_conv_3x3``), the range the benchmark reports for CIFAR-10; the tests
check both ends. Edges that are ``none`` are skipped in the forward pass (they add zeros).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seminas.spaces.nb201 import EDGES, NB201Arch, NB201Space

STANDARD = {"channels": 16, "cells_per_stage": 5}
CPU_SCALE = {"channels": 8, "cells_per_stage": 1}


def _as_arch(arch: Any) -> NB201Arch:
    return arch if isinstance(arch, NB201Arch) else NB201Space().validate(arch)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def _op(name: str, channels: int) -> nn.Module | None:
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 operation {name!r}")


class NB201Cell(nn.Module):
    """A four-node cell; ``none`` edges hold no module and are skipped."""

    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = list(EDGES)
        self.ops = nn.ModuleDict()
        for k, name in enumerate(arch.ops):
            op = _op(name, channels)
            if op is not None:
                self.ops[str(k)] = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for k, (src, dst) in enumerate(self.edges):
            op = self.ops[str(k)] if str(k) in self.ops else None
            if op is None or nodes[src] is None:
                continue
            out = op(nodes[src])
            nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        y = nodes[3]
        return torch.zeros_like(x) if y is None else y


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2: halves the resolution, doubles the channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network of one cell; defaults are the benchmark's settings."""

    def __init__(
        self,
        arch: Any,
        channels: int = 16,
        cells_per_stage: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        cell = _as_arch(arch)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(NB201Cell(cell, c) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))
