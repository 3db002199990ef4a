"""The weight-sharing supernet of the MobileNet-v2 space, and standalone networks built from it.

One class, :class:`MobileNet`, builds both. A standalone network holds one MBConv per layer
(``layers.{i}.ops.{op}``). The supernet holds all six MBConv candidates of every layer (``skip``
needs no module), in one of two ways:

- ``sharing="nested"`` (default): the candidates of a layer are slices of one set of weights and
  batch norms -- a kxk kernel is the centre of the 7x7 one, expansion 3 uses the first half of
  the expansion-6 channels (as Once-for-All and BigNAS share weights). Every step trains the
  same tensors, so the supernet learns nearly as fast as one network.
- ``sharing="independent"``: every candidate has its own weights and batch norms, as in
  ProxylessNAS and the SemiNAS code. Measured on the CIFAR-10 subset at width 0.35 (uniform
  paths, SGD 0.1), such a supernet was still at chance accuracy after 6 epochs (420 steps).
  Ablations (shared convolution weights, 50 steps): a fixed path reached 28% training accuracy,
  varying only the depth 17%, varying only the kernel size with shared batch norms 20%, but
  varying kernel size and expansion with a batch norm per candidate stayed at chance -- so
  batch norms are shared too. Independent candidates need the long GPU schedules they were
  designed for.

:func:`inherit` builds the standalone network of an architecture with the supernet's weights
(slices, for nested sharing) and batch-norm buffers; it computes exactly what the supernet
computes on that path (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seminas.spaces.mobilenet import (
    FIRST_LAYERS,
    MBCONV_OPS,
    NUM_LAYERS,
    STAGE_DEPTHS,
    MobileNetArch,
    NetworkShape,
    op_kernel_expansion,
)

SHARING = ("nested", "independent")


class ConvBN(nn.Module):
    """Convolution (no bias), batch norm, optional ReLU6 -- MobileNet-v2's unit."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual body: 1x1 expansion (absent for expansion 1), kxk depthwise, linear 1x1
    projection. The residual addition is done by the layer, which knows when it applies."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expansion: int, stride: int) -> None:
        super().__init__()
        mid = c_in * expansion
        self.expand = ConvBN(c_in, mid, 1) if expansion != 1 else None
        self.dw = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, c_out, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.expand is not None:
            x = self.expand(x)
        return self.project(self.dw(x))


class SlicedBatchNorm(nn.BatchNorm2d):
    """A batch norm whose first ``m`` channels serve an input of ``m`` channels (the
    expansion-3 candidates use the first half of the expansion-6 statistics and affine)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.shape[1]
        if m == self.num_features:
            return super().forward(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as nn.BatchNorm2d
                factor = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(
            x, self.running_mean[:m], self.running_var[:m], self.weight[:m], self.bias[:m],
            self.training, factor, self.eps,
        )


class SharedMBConv(nn.Module):
    """Every MBConv candidate of a layer as a slice of one set of weights (nested sharing):
    the kxk depthwise kernel is the centre of the 7x7 one, expansion 3 the first half of the
    expansion-6 channels, and the batch norms are shared the same way (Once-for-All's scheme).
    Shared batch-norm statistics are wrong for any one path -- hence recalibration."""

    max_kernel = 7
    max_expansion = 6

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        mid = c_in * self.max_expansion
        k = self.max_kernel
        self.c_in, self.stride = c_in, stride
        self.expand = nn.Parameter(torch.empty(mid, c_in, 1, 1))
        self.dw = nn.Parameter(torch.empty(mid, 1, k, k))
        self.project = nn.Parameter(torch.empty(c_out, mid, 1, 1))
        self.expand_bn = SlicedBatchNorm(mid)
        self.dw_bn = SlicedBatchNorm(mid)
        self.project_bn = SlicedBatchNorm(c_out)

    def weights(self, op: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(expand, depthwise, project) weights of candidate ``op``: views into the shared ones."""
        kernel, expansion = op_kernel_expansion(op)
        mid = self.c_in * expansion
        off = (self.max_kernel - kernel) // 2
        return (
            self.expand[:mid],
            self.dw[:mid, :, off : off + kernel, off : off + kernel],
            self.project[:, :mid],
        )

    def bn_state(self, op: str) -> dict[str, torch.Tensor]:
        """The batch-norm parameters and buffers of ``op``, named as in a standalone MBConv."""
        _, expansion = op_kernel_expansion(op)
        mid = self.c_in * expansion
        out = {}
        for part, bn, m in (("expand", self.expand_bn, mid), ("dw", self.dw_bn, mid),
                            ("project", self.project_bn, None)):
            for name, tensor in bn.state_dict().items():
                out[f"{part}.bn.{name}"] = tensor if m is None or tensor.dim() == 0 else tensor[:m]
        return out

    def forward(self, x: torch.Tensor, op: str) -> torch.Tensor:
        expand, dw, project = self.weights(op)
        kernel = dw.shape[-1]
        x = F.relu6(self.expand_bn(F.conv2d(x, expand)))
        x = F.conv2d(x, dw, stride=self.stride, padding=kernel // 2, groups=dw.shape[0])
        x = F.relu6(self.dw_bn(x))
        return self.project_bn(F.conv2d(x, project))


class ChoiceLayer(nn.Module):
    """One searchable layer: its candidate operations, and a residual connection except on a
    stage's first layer (which changes width or resolution)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        first: bool,
        candidates: Sequence[str],
        sharing: str = "independent",
    ) -> None:
        super().__init__()
        self.first = first
        self.ops = nn.ModuleDict()
        self.shared = None
        if sharing == "nested":
            self.shared = SharedMBConv(c_in, c_out, stride)
        else:
            for op in candidates:
                if op != "skip":
                    kernel, expansion = op_kernel_expansion(op)
                    self.ops[op] = MBConv(c_in, c_out, kernel, expansion, stride)

    def forward(self, x: torch.Tensor, op: str) -> torch.Tensor:
        if op == "skip":
            return x
        out = self.shared(x, op) if self.shared is not None else self.ops[op](x)
        return out if self.first else x + out

    def op_modules(self, op: str) -> list[nn.Module]:
        """The modules whose batch norms candidate ``op`` runs through."""
        if op == "skip":
            return []
        if self.shared is not None:
            return [self.shared.expand_bn, self.shared.dw_bn, self.shared.project_bn]
        return [self.ops[op]]


class MobileNet(nn.Module):
    """A network of the MobileNet-v2 space: the supernet (``arch=None``) or one architecture.

    ``forward(x, arch)`` runs the path ``arch`` (required for the supernet; a standalone network
    runs its own architecture and accepts only that).
    """

    def __init__(
        self, shape: NetworkShape, arch: MobileNetArch | None = None, sharing: str = "nested"
    ) -> None:
        super().__init__()
        if sharing not in SHARING:
            raise ValueError(f"sharing must be one of {', '.join(SHARING)}, got {sharing!r}")
        self.shape = shape
        self.arch = arch
        self.sharing = sharing if arch is None else "independent"
        self.channels_last = False  # see use_channels_last()
        self.stem = ConvBN(3, shape.stem, 3, shape.stem_stride)
        self.first = MBConv(shape.stem, shape.first, 3, 1, 1)
        layers = []
        c_in, i = shape.first, 0
        for depth, width, stride in zip(STAGE_DEPTHS, shape.widths, shape.strides, strict=True):
            for j in range(depth):
                if arch is None:
                    candidates = MBCONV_OPS if i in FIRST_LAYERS else ("skip", *MBCONV_OPS)
                else:
                    candidates = (arch.ops[i],)
                layers.append(
                    ChoiceLayer(
                        c_in, width, stride if j == 0 else 1, j == 0, candidates, self.sharing
                    )
                )
                c_in, i = width, i + 1
        self.layers = nn.ModuleList(layers)
        self.head = ConvBN(c_in, shape.head, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(shape.head, shape.num_classes)
        _init_weights(self)

    def use_channels_last(self) -> MobileNet:
        """Store weights and run activations channels-last: depthwise convolutions on CPUs run
        2-3x faster that way (measured: 7x7 depthwise, 32x32 maps). Results are unchanged up to
        floating-point rounding."""
        self.channels_last = True
        return self.to(memory_format=torch.channels_last)

    @property
    def is_supernet(self) -> bool:
        return self.arch is None

    def forward(self, x: torch.Tensor, arch: MobileNetArch | None = None) -> torch.Tensor:
        if arch is None:
            if self.arch is None:
                raise ValueError("the supernet needs the path to run: forward(x, arch)")
            arch = self.arch
        elif self.arch is not None and arch != self.arch:
            raise ValueError("a standalone network runs only its own architecture")
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.first(self.stem(x))
        for layer, op in zip(self.layers, arch.ops, strict=True):
            x = layer(x, op)
        x = self.pool(self.head(x)).flatten(1)
        return self.classifier(x)

    def path_modules(self, arch: MobileNetArch) -> list[nn.Module]:
        """The modules ``arch`` runs through (fixed parts and the chosen candidates; for nested
        sharing, the candidates' own batch norms -- the shared weights are sliced)."""
        mods: list[nn.Module] = [self.stem, self.first]
        for layer, op in zip(self.layers, arch.ops, strict=True):
            mods += layer.op_modules(op)
        mods += [self.head, self.classifier]
        return mods

    def path_batchnorms(self, arch: MobileNetArch) -> list[nn.BatchNorm2d]:
        return [
            m
            for mod in self.path_modules(arch)
            for m in mod.modules()
            if isinstance(m, nn.BatchNorm2d)
        ]


def _init_weights(model: nn.Module) -> None:
    """He initialisation for convolutions, small normal for the classifier (MobileNet-v2's)."""
    for m in model.modules():
        if isinstance(m, SharedMBConv):
            for w in (m.expand, m.dw, m.project):
                nn.init.kaiming_normal_(w, mode="fan_out")
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def build_supernet(shape: NetworkShape, sharing: str = "nested") -> MobileNet:
    return MobileNet(shape, None, sharing)


def build_network(arch: MobileNetArch, shape: NetworkShape) -> MobileNet:
    """A standalone network of ``arch``, freshly initialised (seed torch first to repeat it)."""
    return MobileNet(shape, arch)


def inherit(supernet: MobileNet, arch: MobileNetArch) -> MobileNet:
    """A standalone network of ``arch`` carrying the supernet's weights and batch-norm buffers."""
    net = MobileNet(supernet.shape, arch)
    source = supernet.state_dict()
    target = net.state_dict()
    values = {}
    for key in target:
        if key in source:
            values[key] = source[key]
    if supernet.sharing == "nested":
        for i, (layer, op) in enumerate(zip(supernet.layers, arch.ops, strict=True)):
            if op == "skip":
                continue
            expand, dw, project = layer.shared.weights(op)
            base = f"layers.{i}.ops.{op}"
            values[f"{base}.expand.conv.weight"] = expand
            values[f"{base}.dw.conv.weight"] = dw
            values[f"{base}.project.conv.weight"] = project
            for name, tensor in layer.shared.bn_state(op).items():
                values[f"{base}.{name}"] = tensor
    missing = [k for k in target if k not in values]
    if missing:
        raise ValueError(f"supernet lacks {len(missing)} weight(s) of the path, e.g. {missing[0]}")
    with torch.no_grad():
        net.load_state_dict({k: v.detach().clone() for k, v in values.items()})
    return net


def strip_ddp_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict saved from a ``DistributedDataParallel`` wrapper, without ``module.``."""
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}


def count_params(model: nn.Module, arch: MobileNetArch | None = None) -> int:
    """Trainable parameters of ``model`` (of the standalone network of ``arch``, for a
    supernet: what the architecture costs, whatever the sharing)."""
    if arch is None:
        return int(sum(p.numel() for p in model.parameters()))
    assert isinstance(model, MobileNet)
    return network_params(arch, model.shape)


def network_params(arch: MobileNetArch, shape: NetworkShape) -> int:
    """Parameters of the standalone network of ``arch`` (convolutions, batch norms,
    classifier), computed without building it."""

    def mbconv(c_in: int, c_out: int, kernel: int, expansion: int) -> int:
        mid = c_in * expansion
        n = (c_in * mid + 2 * mid) if expansion != 1 else 0
        return n + mid * kernel * kernel + 2 * mid + mid * c_out + 2 * c_out

    total = 3 * shape.stem * 9 + 2 * shape.stem + mbconv(shape.stem, shape.first, 3, 1)
    c_in, i = shape.first, 0
    for depth, width in zip(STAGE_DEPTHS, shape.widths, strict=True):
        for _ in range(depth):
            if arch.ops[i] != "skip":
                total += mbconv(c_in, width, *op_kernel_expansion(arch.ops[i]))
            c_in, i = width, i + 1
    total += c_in * shape.head + 2 * shape.head + shape.head * shape.num_classes
    return total + shape.num_classes


__all__ = [
    "NUM_LAYERS",
    "MobileNet",
    "build_network",
    "build_supernet",
    "count_params",
    "inherit",
    "network_params",
    "strip_ddp_prefix",
]
