"""The NAS-Bench-101 network (Ying et al., ICML 2019) as a PyTorch module.

Skeleton: a 3x3 conv-BN-ReLU stem, ``num_stacks`` stacks of ``cells_per_stack`` cells, a 2x2
max-pool (stride 2) before every stack but the first, where the channel count also doubles,
global average pooling and a linear classifier. The standard network has a 128-channel stem and
3 stacks of 3 cells (channels 128, 256, 512).

Channel handling inside a cell (as the paper describes it):

- the output vertex *concatenates* the interior vertices that feed it, so the cell's output
  channels are divided among them: each gets ``C_out // k`` and the first ``C_out % k`` of them
  (in vertex order) one more;
- an interior vertex that does not feed the output takes the largest channel count of the
  vertices it feeds (computed from the last vertex backwards), so it can feed all of them;
- a vertex sums its inputs: the cell input is first projected to the vertex's channels by its own
  1x1 conv-BN-ReLU; an interior input with more channels than needed is truncated to the first
  ones (which costs no parameters);
- an input -> output edge adds a 1x1 conv-BN-ReLU projection of the input to the concatenation.

Operations keep the channel count: conv3x3-BN-ReLU, conv1x1-BN-ReLU, 3x3 max-pool (stride 1).
Convolutions have no bias; batch-norm scale and shift are trainable (they count as parameters).
With the standard settings :func:`count_params` equals the ``params`` the benchmark publishes
for every cell in ``specs-1k.json`` (checked by the tests).

Departure for training from scratch in PyTorch: batch-norm uses PyTorch's momentum (0.1), not
TensorFlow's 0.997, so that its running statistics are useful after a few epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, NB101Space, NB101Spec

STANDARD = {"stem_channels": 128, "num_stacks": 3, "cells_per_stack": 3}
CPU_SCALE = {"stem_channels": 16, "num_stacks": 3, "cells_per_stack": 1}
_OP_PARAMS = {CONV3X3: 9, CONV1X1: 1, MAXPOOL3X3: 0}  # weights per (channel x channel)


def _as_spec(arch: Any) -> NB101Spec:
    return arch if isinstance(arch, NB101Spec) else NB101Space().validate(arch)


def vertex_channels(matrix: Sequence[Sequence[int]], c_in: int, c_out: int) -> list[int]:
    """Channels of every vertex of a cell with ``c_in`` input and ``c_out`` output channels."""
    m = np.asarray(matrix, dtype=np.int64)
    n = len(m)
    ch = [0] * n
    ch[0], ch[-1] = c_in, c_out
    feeding = [v for v in range(1, n - 1) if m[v, n - 1]]
    if not feeding:
        return ch
    share, extra = divmod(c_out, len(feeding))
    for i, v in enumerate(feeding):
        ch[v] = share + (1 if i < extra else 0)
    for v in range(n - 2, 0, -1):
        if not m[v, n - 1]:
            ch[v] = max(ch[w] for w in range(v + 1, n - 1) if m[v, w])
    return ch


def cell_params(spec: NB101Spec, c_in: int, c_out: int) -> int:
    """Trainable parameters of one cell, computed without building it."""
    m = spec.adjacency()
    n = len(m)
    ch = vertex_channels(m, c_in, c_out)
    total = 0
    for v in range(1, n):
        if m[0, v]:
            total += c_in * ch[v] + 2 * ch[v]  # 1x1 projection + BN
        if v < n - 1:
            k = _OP_PARAMS[spec.ops[v]]
            if k:
                total += k * ch[v] * ch[v] + 2 * ch[v]
    return total


def _layout(stem_channels: int, num_stacks: int, cells_per_stack: int):
    """(stack, c_in, c_out) of every cell, in order."""
    out = []
    c_in = c_out = stem_channels
    for s in range(num_stacks):
        if s > 0:
            c_out *= 2
        for _ in range(cells_per_stack):
            out.append((s, c_in, c_out))
            c_in = c_out
    return out, c_out


def count_params(
    arch: Any,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    in_channels: int = 3,
) -> int:
    """Trainable parameters of the network, computed without building it (fast)."""
    spec = _as_spec(arch)
    total = 9 * in_channels * stem_channels + 2 * stem_channels
    cells, last = _layout(stem_channels, num_stacks, cells_per_stack)
    total += sum(cell_params(spec, c_in, c_out) for _, c_in, c_out in cells)
    return total + last * num_classes + num_classes


class ConvBnRelu(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def _op(name: str, channels: int) -> nn.Module:
    if name == CONV3X3:
        return ConvBnRelu(channels, channels, 3)
    if name == CONV1X1:
        return ConvBnRelu(channels, channels, 1)
    if name == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NAS-Bench-101 operation {name!r}")


class NB101Cell(nn.Module):
    """One cell: a DAG of up to 7 vertices, see the module docstring for its channels."""

    def __init__(self, spec: NB101Spec, c_in: int, c_out: int) -> None:
        super().__init__()
        m = spec.adjacency()
        self.n = len(m)
        self.matrix = [[int(x) for x in row] for row in m]
        self.channels = vertex_channels(m, c_in, c_out)
        self.proj = nn.ModuleDict(
            {str(v): ConvBnRelu(c_in, self.channels[v], 1) for v in range(1, self.n) if m[0, v]}
        )
        self.ops = nn.ModuleDict(
            {str(v): _op(spec.ops[v], self.channels[v]) for v in range(1, self.n - 1)}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, ch = self.n, self.matrix, self.channels
        outs: list[torch.Tensor] = [x]
        for v in range(1, n - 1):
            terms = [outs[u][:, : ch[v]] for u in range(1, v) if m[u][v]]
            if m[0][v]:
                terms.append(self.proj[str(v)](x))
            h = terms[0]
            for t in terms[1:]:
                h = h + t
            outs.append(self.ops[str(v)](h))
        parts = [outs[v] for v in range(1, n - 1) if m[v][n - 1]]
        y = torch.cat(parts, 1) if parts else None
        if m[0][n - 1]:
            p = self.proj[str(n - 1)](x)
            y = p if y is None else y + p
        assert y is not None  # a pruned cell always reaches its output
        return y


class NB101Network(nn.Module):
    """The NAS-Bench-101 network of one cell; defaults are the benchmark's settings."""

    def __init__(
        self,
        arch: Any,
        stem_channels: int = 128,
        num_stacks: int = 3,
        cells_per_stack: int = 3,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        spec = _as_spec(arch)
        self.stem = ConvBnRelu(in_channels, stem_channels, 3)
        layers: list[nn.Module] = []
        cells, last = _layout(stem_channels, num_stacks, cells_per_stack)
        previous = 0
        for stack, c_in, c_out in cells:
            if stack != previous:
                layers.append(nn.MaxPool2d(2, stride=2))
                previous = stack
            layers.append(NB101Cell(spec, c_in, c_out))
        self.cells = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cells(self.stem(x))
        return self.classifier(torch.flatten(self.pool(x), 1))
