"""The NAS-Bench-201 cell space as one weight-sharing supernet.

Every edge of the cell is a :class:`MixedEdge` holding all five candidate operations, built by
the same constructor as the standalone network (:mod:`seminas.networks.nb201`), so a path of the
supernet and the standalone network of that cell are the same computation with the same weight
names, up to a renaming (``cells.{i}.ops.{k}`` there, ``cells.{i}.edges.{k}.ops.{op}`` here).
The skeleton (stem, residual reductions, head) is shared by every cell, as in the benchmark.

Two ways to run it:

- **a sampled path** (``forward(x, arch)``): one operation per edge, the same cell in every
  position, exactly as the standalone network runs it (``none`` edges and edges leaving a node
  that received nothing are skipped) -- single-path one-shot training and scoring;
- **the continuous relaxation** (``forward(x, weights=w)``): ``w`` is a ``(6, 5)`` tensor, one
  row per edge; every edge outputs ``sum_o w[e, o] * op_o(x)`` (``none`` contributes zeros) --
  DARTS and its relatives. With one-hot rows this equals the chosen path exactly (0 and 1 are
  exact in floating point), which the tests check.

The model offers what :mod:`seminas.supernet.train` asks of a supernet (``shape`` as a
dataclass, ``arch``, ``is_supernet``, ``sharing``, ``use_channels_last``, ``path_batchnorms``,
``forward(x, arch=...)``), so its trainer (SGD, cosine schedule, DDP with unused parameters,
checkpoints), :func:`~seminas.supernet.train.recalibrate_bn` and
:class:`~seminas.supernet.train.Scorer` work on it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from seminas.networks.nb201 import CPU_SCALE, NB201Network, ResidualReduction, _op
from seminas.spaces.nb201 import EDGES, NUM_EDGES, OPS, NB201Arch, NB201Space

NUM_OPS = len(OPS)
_SPACE = NB201Space()


@dataclass(frozen=True)
class NB201Shape:
    """Size of the network: the benchmark uses 16 channels and 5 cells per stage; the CPU
    supernet :data:`CPU_SHAPE` 8 channels and 1 cell per stage (``CPU_SCALE``)."""

    channels: int = CPU_SCALE["channels"]
    cells_per_stage: int = CPU_SCALE["cells_per_stage"]
    num_classes: int = 10


CPU_SHAPE = NB201Shape()


def as_choice(arch: Any) -> tuple[int, ...]:
    """Operation index per edge (into :data:`OPS`) from a cell in any accepted form: an
    :class:`NB201Arch`, its string, op names, or six indices."""
    if isinstance(arch, (list, tuple)) and len(arch) == NUM_EDGES and all(
        isinstance(v, int) or (hasattr(v, "__index__") and not isinstance(v, str)) for v in arch
    ):
        idx = tuple(int(v) for v in arch)
        if all(0 <= i < NUM_OPS for i in idx):
            return idx
    cell = arch if isinstance(arch, NB201Arch) else _SPACE.validate(arch)
    return tuple(OPS.index(op) for op in cell.ops)


def as_arch(arch: Any) -> NB201Arch:
    return NB201Arch(tuple(OPS[i] for i in as_choice(arch)))


class MixedEdge(nn.Module):
    """One edge with all five candidates (``none`` and ``skip_connect`` hold no module)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleDict()
        for name in OPS:
            op = _op(name, channels)
            if op is not None:
                self.ops[name] = op

    def run(self, x: torch.Tensor, choice: int) -> torch.Tensor | None:
        """The output of candidate ``choice``; None for ``none`` (nothing flows)."""
        name = OPS[choice]
        return None if name == "none" else self.ops[name](x)

    def mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_o weights[o] * op_o(x)``; ``none`` adds nothing (its output is zero)."""
        out = torch.zeros_like(x)
        for o, name in enumerate(OPS):
            if name != "none":
                out = out + weights[o] * self.ops[name](x)
        return out

    def batchnorms(self, choice: int) -> list[nn.BatchNorm2d]:
        name = OPS[choice]
        if name not in self.ops:
            return []
        return [m for m in self.ops[name].modules() if isinstance(m, nn.BatchNorm2d)]


class SuperCell(nn.Module):
    """Four nodes, six mixed edges (the order of :data:`EDGES`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels) for _ in range(NUM_EDGES))

    def live_edges(self, choice: Sequence[int]) -> list[int]:
        """Edges that run on this path: not ``none``, and leaving a node that received
        something (the standalone network skips the others)."""
        alive = [True, False, False, False]
        out = []
        for k, (src, dst) in enumerate(EDGES):
            if OPS[choice[k]] != "none" and alive[src]:
                alive[dst] = True
                out.append(k)
        return out

    def forward_path(self, x: torch.Tensor, choice: Sequence[int]) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for k in self.live_edges(choice):
            src, dst = EDGES[k]
            out = self.edges[k].run(nodes[src], choice[k])
            nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        y = nodes[3]
        return torch.zeros_like(x) if y is None else y

    def forward_mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, 4):
            total = None
            for k, (src, d) in enumerate(EDGES):
                if d == dst:
                    out = self.edges[k].mixed(nodes[src], weights[k])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[3]


class NB201Supernet(nn.Module):
    """The supernet of the NAS-Bench-201 space at ``shape``; freshly initialised as PyTorch
    initialises the standalone network (build it under a seeded ``torch.random.fork_rng`` to
    repeat it: :func:`build_supernet`)."""

    arch = None  # what the MobileNet trainer reads: a supernet has no architecture of its own
    sharing = "independent"  # every candidate has its own weights

    def __init__(self, shape: NB201Shape = CPU_SHAPE, in_channels: int = 3) -> None:
        super().__init__()
        self.shape = shape
        c = shape.channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(SuperCell(c) for _ in range(shape.cells_per_stage))
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, shape.num_classes)
        self.channels_last = False

    @property
    def is_supernet(self) -> bool:
        return True

    def use_channels_last(self) -> NB201Supernet:
        """Weights and activations channels-last (what the MobileNet trainer asks for)."""
        self.channels_last = True
        return self.to(memory_format=torch.channels_last)

    def forward(
        self, x: torch.Tensor, arch: Any = None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A sampled path (``arch``: a cell in any form, see :func:`as_choice`) or the
        relaxation (``weights``: ``(6, 5)``, shared by every cell); exactly one of them."""
        if (arch is None) == (weights is None):
            raise ValueError("give the path (arch) or the relaxation weights, not both")
        if weights is not None and tuple(weights.shape) != (NUM_EDGES, NUM_OPS):
            raise ValueError(f"relaxation weights must be (6, 5), got {tuple(weights.shape)}")
        choice = None if arch is None else as_choice(arch)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        for layer in self.cells:
            if isinstance(layer, SuperCell):
                x = layer.forward_path(x, choice) if choice is not None else layer.forward_mixed(
                    x, weights
                )
            else:
                x = layer(x)
        x = self.lastact(x)
        return self.classifier(torch.flatten(self.pool(x), 1))

    def path_batchnorms(self, arch: Any) -> list[nn.BatchNorm2d]:
        """The batch norms the path ``arch`` runs through (what recalibration resets)."""
        choice = as_choice(arch)
        fixed = [self.stem, self.lastact] + [m for m in self.cells if not isinstance(m, SuperCell)]
        bns = [m for mod in fixed for m in mod.modules() if isinstance(m, nn.BatchNorm2d)]
        for layer in self.cells:
            if isinstance(layer, SuperCell):
                for k in layer.live_edges(choice):
                    bns += layer.edges[k].batchnorms(choice[k])
        return bns


def build_supernet(shape: NB201Shape = CPU_SHAPE, seed: int = 0) -> NB201Supernet:
    """A supernet initialised from ``seed`` alone (the global torch generator is restored)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return NB201Supernet(shape)


def inherit(supernet: NB201Supernet, arch: Any) -> NB201Network:
    """The standalone :class:`~seminas.networks.nb201.NB201Network` of ``arch`` at the
    supernet's shape, carrying the supernet's weights and batch-norm buffers (copies)."""
    cell = as_arch(arch)
    shape = supernet.shape
    net = NB201Network(cell, shape.channels, shape.cells_per_stage, shape.num_classes)
    source = supernet.state_dict()
    values = {}
    for key in net.state_dict():
        parts = key.split(".")
        if parts[0] == "cells" and parts[2] == "ops":  # cells.{i}.ops.{k}.rest
            k = int(parts[3])
            op = cell.ops[k]
            skey = ".".join(["cells", parts[1], "edges", str(k), "ops", op, *parts[4:]])
        else:
            skey = key
        values[key] = source[skey].detach().clone()
    net.load_state_dict(values)
    return net


def shape_dict(shape: NB201Shape) -> dict[str, int]:
    return asdict(shape)


def network_params(arch: Any, channels: int = 16, cells_per_stage: int = 5,
                   num_classes: int = 10) -> int:
    """Trainable parameters of the standalone network of ``arch`` (benchmark size by
    default), counted without building it: the all-``none`` skeleton plus, per cell, its
    convolutions (a kxk ReLU-conv-BN on ``c`` channels has ``k*k*c*c + 2c``)."""
    choice = as_choice(arch)
    per_c = {"nor_conv_1x1": (1, 2), "nor_conv_3x3": (9, 2)}
    total = 3 * 9 * channels + 2 * channels  # stem
    c = channels
    for stage in range(3):
        if stage > 0:
            # reduction: two 3x3 ReLU-conv-BN (c->2c, 2c->2c) and a 1x1 shortcut conv
            total += 9 * c * 2 * c + 4 * c + 9 * 4 * c * c + 4 * c + c * 2 * c
            c *= 2
        for op in (OPS[i] for i in choice):
            if op in per_c:
                k2, bn = per_c[op]
                total += cells_per_stage * (k2 * c * c + bn * c)
    return total + 2 * c + c * num_classes + num_classes


__all__ = [
    "CPU_SHAPE",
    "NUM_OPS",
    "MixedEdge",
    "NB201Shape",
    "NB201Supernet",
    "as_arch",
    "as_choice",
    "build_supernet",
    "inherit",
    "network_params",
]
