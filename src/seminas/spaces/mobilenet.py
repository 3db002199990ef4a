"""The MobileNet-v2 search space of SemiNAS's ImageNet experiment (ProxylessNAS-style).

Fixed part: a 3x3 stem convolution (stride 2, 32 channels), one MBConv with expansion 1 and
kernel 3 (16 channels), and a head (1x1 convolution to 1280 channels, global average pooling,
linear classifier). Searched part: 21 layers in six stages of 4, 4, 4, 4, 4 and 1 layers with
widths 24, 40, 80, 96, 192, 320 and strides 2, 2, 2, 1, 2, 1 (the stride belongs to a stage's
first layer). Each layer is an MBConv with kernel 3, 5 or 7 and expansion 3 or 6, or ``skip``
(the identity) -- except the first layer of a stage, which changes width or resolution and so
cannot be skipped. That is 6^6 * 7^15, about 2.2e17 architectures.

Notation: the 21 operation names, stages separated by ``|`` and layers by ``,``, e.g.
``k3e6,skip,k5e3,skip|...|k7e6``. Tokens: 0 is the decoder's start token, operation k of
:data:`OPS` is token k + 1, and :meth:`MobileNetSpace.token_mask` forbids ``skip`` at the first
layer of each stage, so the controller can only decode valid architectures.

FLOPs are **multiply-adds (MACs)** of every convolution and the classifier, the convention of the
MobileNet, ProxylessNAS and SemiNAS papers (MobileNet-v2 1.0 at 224x224: 300.8M). Batch norm,
activations, residual additions, pooling and biases are not counted (they are < 1% and the
papers leave them out). ``torch.utils.flop_counter`` counts 2 FLOPs per MAC for the same layers;
the tests compare against it exactly.

A :class:`MobileNetSpace` with ``max_flops`` is the constrained space of the paper's search: an
architecture over the limit is not a member (``validate`` says why, ``try_decode`` returns
``None``, sampling and mutation only produce feasible ones), so a strategy can never ask for --
or be charged for -- an evaluation of one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.base import SearchSpace

OPS: tuple[str, ...] = ("skip", "k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6")
MBCONV_OPS: tuple[str, ...] = OPS[1:]
STAGE_DEPTHS: tuple[int, ...] = (4, 4, 4, 4, 4, 1)
STAGE_STRIDES: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
SEARCH_WIDTHS: tuple[int, ...] = (24, 40, 80, 96, 192, 320)  # the supernet's widths (paper)
FINAL_WIDTHS: tuple[int, ...] = (32, 56, 112, 128, 256, 432)  # the final network's (paper)
NUM_LAYERS = sum(STAGE_DEPTHS)
# index of the first layer of each stage: these layers cannot be skip
FIRST_LAYERS: frozenset[int] = frozenset(
    int(i) for i in np.cumsum((0,) + STAGE_DEPTHS[:-1])
)
_OP_RE = re.compile(r"^k([357])e([36])$")


def op_kernel_expansion(op: str) -> tuple[int, int]:
    """``"k5e6"`` -> ``(5, 6)``."""
    m = _OP_RE.match(op)
    if m is None:
        raise InvalidArchitectureError(f"{op!r} is not an MBConv operation")
    return int(m.group(1)), int(m.group(2))


def stage_of(layer: int) -> tuple[int, int]:
    """(stage, position in the stage) of searchable layer ``layer``."""
    for stage, depth in enumerate(STAGE_DEPTHS):
        if layer < depth:
            return stage, layer
        layer -= depth
    raise IndexError(layer)


@dataclass(frozen=True)
class MobileNetArch:
    """21 operation names, one per searchable layer."""

    ops: tuple[str, ...]

    def __str__(self) -> str:
        return to_string(self.ops)


def to_string(ops: Sequence[str]) -> str:
    out, k = [], 0
    for depth in STAGE_DEPTHS:
        out.append(",".join(ops[k : k + depth]))
        k += depth
    return "|".join(out)


def _check_ops(ops: Sequence[Any]) -> tuple[str, ...]:
    ops = tuple(ops)
    if len(ops) != NUM_LAYERS:
        raise InvalidArchitectureError(
            f"a MobileNet architecture has {NUM_LAYERS} layers (stages of "
            f"{', '.join(map(str, STAGE_DEPTHS))}), got {len(ops)}"
        )
    for i, op in enumerate(ops):
        if op not in OPS:
            raise InvalidArchitectureError(
                f"layer {i}: unknown operation {op!r} (allowed: {', '.join(OPS)})"
            )
        if op == "skip" and i in FIRST_LAYERS:
            stage, _ = stage_of(i)
            raise InvalidArchitectureError(
                f"layer {i} is the first layer of stage {stage + 1}, which changes width or "
                f"resolution: it cannot be skip"
            )
    return ops  # type: ignore[return-value]


def parse_string(text: str) -> tuple[str, ...]:
    """Read ``k3e6,skip,...|...`` (stages by ``|``) or 21 names separated by commas/spaces."""
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"expected a MobileNet architecture string, got {text!r}")
    stages = text.strip().split("|")
    if len(stages) > 1:
        if len(stages) != len(STAGE_DEPTHS):
            raise InvalidArchitectureError(
                f"invalid MobileNet architecture {text!r}: expected {len(STAGE_DEPTHS)} stages "
                f"separated by '|', got {len(stages)}"
            )
        ops: list[str] = []
        for s, (part, depth) in enumerate(zip(stages, STAGE_DEPTHS, strict=True)):
            names = [p.strip() for p in part.split(",")]
            if len(names) != depth:
                raise InvalidArchitectureError(
                    f"invalid MobileNet architecture {text!r}: stage {s + 1} needs {depth} "
                    f"layer(s), got {len(names)}"
                )
            ops.extend(names)
        return _check_ops(ops)
    return _check_ops([p for p in re.split(r"[,\s]+", text.strip()) if p])


# -- network shapes and FLOPs ------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkShape:
    """Everything besides the architecture that fixes a network's size.

    ``cifar`` adapts the network to 32x32 inputs by the stem's stride (1 instead of 2): every
    later map is then 32/112 of its ImageNet size (stages at 16, 8, 4, 4, 2, 2 pixels against
    56, 28, 14, 14, 7, 7), so the layers keep their relative cost and receptive fields. Keeping
    the first stage at 32x32 as well (the other common adaptation) costs 4x the compute in every
    searchable layer, which a 2-core CPU cannot afford.
    """

    widths: tuple[int, ...] = SEARCH_WIDTHS
    stem: int = 32
    first: int = 16
    head: int = 1280
    num_classes: int = 1000
    resolution: int = 224
    cifar: bool = False

    @property
    def stem_stride(self) -> int:
        return 1 if self.cifar else 2

    @property
    def strides(self) -> tuple[int, ...]:
        return STAGE_STRIDES

    def scaled(self, multiplier: float) -> NetworkShape:
        """Every width (stem, stages, head) times ``multiplier``, rounded as MobileNet does."""
        return replace(
            self,
            widths=tuple(scale_width(w, multiplier) for w in self.widths),
            stem=scale_width(self.stem, multiplier),
            first=scale_width(self.first, multiplier),
            head=scale_width(self.head, multiplier),
        )


def scale_width(width: int, multiplier: float, divisor: int = 8) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (MobileNet's convention): at
    least ``divisor`` channels and never more than 10% below the exact value, so that narrow
    networks keep usable layers (the widths at multiplier 1 are unchanged)."""
    value = width * multiplier
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if out < 0.9 * value:
        out += divisor
    return out


SEARCH_SHAPE = NetworkShape()  # what the paper's supernet was: search widths, 224x224
FINAL_SHAPE = NetworkShape(widths=FINAL_WIDTHS)  # the paper's final network at 224x224


def _conv_macs(c_in: int, c_out: int, kernel: int, out_hw: int, groups: int = 1) -> int:
    return c_out * out_hw * out_hw * (c_in // groups) * kernel * kernel


def _out_size(size: int, stride: int) -> int:
    # kernel k, padding k // 2 (odd k): floor((size - 1) / stride) + 1
    return (size - 1) // stride + 1


def mbconv_macs(c_in: int, c_out: int, kernel: int, expansion: int, size: int, stride: int) -> int:
    """MACs of one MBConv: 1x1 expansion, kxk depthwise (strided), 1x1 projection."""
    mid = c_in * expansion
    out = _out_size(size, stride)
    macs = _conv_macs(c_in, mid, 1, size) if expansion != 1 else 0
    return macs + _conv_macs(mid, mid, kernel, out, groups=mid) + _conv_macs(mid, c_out, 1, out)


@lru_cache(maxsize=64)
def layer_flops_table(shape: NetworkShape) -> tuple[int, np.ndarray]:
    """(MACs of the fixed parts, ``[NUM_LAYERS, len(OPS)]`` MACs of each op at each layer).

    The network's MACs are additive over layers: a layer's input width and resolution do not
    depend on the choices of the other layers (only first layers change them, and they are
    never skipped). This makes exact totals, minima and constrained sampling cheap.
    """
    size = _out_size(shape.resolution, shape.stem_stride)
    fixed = _conv_macs(3, shape.stem, 3, size)
    fixed += mbconv_macs(shape.stem, shape.first, 3, 1, size, 1)
    table = np.zeros((NUM_LAYERS, len(OPS)), dtype=np.int64)
    c_in, layer = shape.first, 0
    for depth, width, stride in zip(STAGE_DEPTHS, shape.widths, shape.strides, strict=True):
        for j in range(depth):
            s = stride if j == 0 else 1
            for k, op in enumerate(OPS):
                if op != "skip":
                    kernel, expansion = op_kernel_expansion(op)
                    table[layer, k] = mbconv_macs(c_in, width, kernel, expansion, size, s)
            size = _out_size(size, s)
            c_in = width
            layer += 1
    fixed += _conv_macs(c_in, shape.head, 1, size) + shape.head * shape.num_classes
    return int(fixed), table


def flops(arch: MobileNetArch | Sequence[str], shape: NetworkShape = FINAL_SHAPE) -> int:
    """Exact multiply-adds (MACs) of ``arch`` in the network ``shape`` (default: the paper's
    final network at 224x224) -- convolutions and classifier, see the module docstring."""
    ops = arch.ops if isinstance(arch, MobileNetArch) else tuple(arch)
    fixed, table = layer_flops_table(shape)
    return fixed + int(sum(table[i, OPS.index(op)] for i, op in enumerate(ops)))


def min_max_flops(shape: NetworkShape = FINAL_SHAPE) -> tuple[int, int]:
    """The smallest and largest MACs of any architecture of the space in ``shape``."""
    fixed, table = layer_flops_table(shape)
    lo = hi = fixed
    for i in range(NUM_LAYERS):
        row = table[i, 1:] if i in FIRST_LAYERS else table[i]
        lo += int(row.min())
        hi += int(row.max())
    return lo, hi


_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}


def parse_flops(text: str | int | float) -> int:
    """``"600M"``, ``"0.6G"``, ``"600000000"`` -> 600,000,000 (MACs); a clear error otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgG]?)\s*", str(text))
        if m is None:
            raise SeminasError(
                f"invalid FLOPs value {text!r}: give a number of multiply-adds with an optional "
                f"K, M or G suffix, e.g. 600M"
            )
        value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not np.isfinite(value) or value <= 0:
        raise SeminasError(f"invalid FLOPs value {text!r}: it must be a positive number")
    return int(round(value))


def format_flops(macs: int | float) -> str:
    return f"{macs / 1e6:.1f}M"


# -- the space ---------------------------------------------------------------------------------
class MobileNetSpace(SearchSpace[MobileNetArch]):
    """The 21-layer MobileNet-v2 space, optionally restricted to ``flops <= max_flops``.

    ``flops_shape`` is the network in which the limit is measured: by default the paper's final
    network (final widths, 224x224), whose FLOPs the paper reports (599M under 600M).
    """

    name = "mobilenet"
    seq_len = NUM_LAYERS
    vocab_size = len(OPS) + 1

    def __init__(
        self, max_flops: int | str | None = None, flops_shape: NetworkShape = FINAL_SHAPE
    ) -> None:
        self.flops_shape = flops_shape
        self.max_flops = None if max_flops is None else parse_flops(max_flops)
        if self.max_flops is not None:
            lo, hi = min_max_flops(flops_shape)
            if self.max_flops < lo:
                raise SeminasError(
                    f"--max-flops {format_flops(self.max_flops)} is below the smallest "
                    f"architecture of the space ({format_flops(lo)} multiply-adds at "
                    f"{flops_shape.resolution}x{flops_shape.resolution}, largest "
                    f"{format_flops(hi)}): raise the limit"
                )

    # -- identity and validity ---------------------------------------------------------------
    def validate(self, arch: Any) -> MobileNetArch:
        if isinstance(arch, MobileNetArch):
            ops = _check_ops(arch.ops)
        elif isinstance(arch, str):
            ops = parse_string(arch)
        elif isinstance(arch, (list, tuple)):
            ops = _check_ops(arch)
        else:
            raise InvalidArchitectureError(
                f"cannot read {arch!r} as a MobileNet architecture: give its string "
                f"(e.g. 'k3e6,skip,skip,skip|...') or a list of {NUM_LAYERS} operation names"
            )
        out = MobileNetArch(ops)
        self._check_flops(out)
        return out

    def _check_flops(self, arch: MobileNetArch) -> None:
        if self.max_flops is None:
            return
        macs = flops(arch, self.flops_shape)
        if macs > self.max_flops:
            raise InvalidArchitectureError(
                f"{to_string(arch.ops)} has {format_flops(macs)} multiply-adds, over the limit "
                f"of {format_flops(self.max_flops)}"
            )

    def feasible(self, arch: MobileNetArch) -> bool:
        return self.max_flops is None or flops(arch, self.flops_shape) <= self.max_flops

    def flops(self, arch: MobileNetArch) -> int:
        """MACs of ``arch`` in this space's reference network (:attr:`flops_shape`)."""
        return flops(arch, self.flops_shape)

    def arch_id(self, arch: MobileNetArch) -> str:
        return to_string(arch.ops)

    # -- tokens ------------------------------------------------------------------------------
    def encode(self, arch: MobileNetArch) -> list[int]:
        return [OPS.index(op) + 1 for op in arch.ops]

    def decode(self, tokens: Sequence[int]) -> MobileNetArch:
        tokens = [int(t) for t in tokens]
        if len(tokens) != NUM_LAYERS:
            raise InvalidArchitectureError(
                f"MobileNet token sequence must have length {NUM_LAYERS}, got {len(tokens)}"
            )
        for pos, tok in enumerate(tokens):
            if not 1 <= tok <= len(OPS):
                raise InvalidArchitectureError(
                    f"token {tok} at position {pos} is not an operation (allowed 1..{len(OPS)})"
                )
        return self.validate(tuple(OPS[t - 1] for t in tokens))

    def token_mask(self) -> np.ndarray:
        mask = np.zeros((self.seq_len, self.vocab_size), dtype=bool)
        mask[:, 1:] = True
        for layer in FIRST_LAYERS:
            mask[layer, OPS.index("skip") + 1] = False
        return mask

    # -- sampling ----------------------------------------------------------------------------
    def _sample_unconstrained(self, rng: np.random.Generator) -> tuple[str, ...]:
        ops = []
        for i in range(NUM_LAYERS):
            choices = MBCONV_OPS if i in FIRST_LAYERS else OPS
            ops.append(choices[int(rng.integers(len(choices)))])
        return tuple(ops)

    def sample_one(self, rng: np.random.Generator) -> MobileNetArch:
        """Uniform over the (constrained) space by rejection; when the limit is so tight that
        rejection keeps failing, a random architecture is shrunk (random layers made cheaper)
        until it fits -- feasible, though no longer exactly uniform."""
        for _ in range(1000):
            arch = MobileNetArch(self._sample_unconstrained(rng))
            if self.feasible(arch):
                return arch
        return self._shrink(list(self._sample_unconstrained(rng)), rng)

    def _shrink(self, ops: list[str], rng: np.random.Generator) -> MobileNetArch:
        fixed, table = layer_flops_table(self.flops_shape)
        assert self.max_flops is not None
        while True:
            arch = MobileNetArch(tuple(ops))
            if self.feasible(arch):
                return arch
            options = []
            for i, op in enumerate(ops):
                cost = table[i, OPS.index(op)]
                cheaper = [
                    o
                    for o in OPS
                    if table[i, OPS.index(o)] < cost and not (o == "skip" and i in FIRST_LAYERS)
                ]
                if cheaper:
                    options.append((i, cheaper))
            i, cheaper = options[int(rng.integers(len(options)))]
            ops[i] = cheaper[int(rng.integers(len(cheaper)))]

    def neighbours(self, arch: MobileNetArch) -> list[MobileNetArch]:
        out = []
        for i in range(NUM_LAYERS):
            for op in OPS:
                if op == arch.ops[i] or (op == "skip" and i in FIRST_LAYERS):
                    continue
                ops = list(arch.ops)
                ops[i] = op
                cand = MobileNetArch(tuple(ops))
                if self.feasible(cand):
                    out.append(cand)
        return out

    def mutate(self, arch: MobileNetArch, rng: np.random.Generator) -> MobileNetArch:
        options = self.neighbours(arch)
        if not options:  # only possible at an extreme of a very tight limit
            return self.sample_one(rng)
        return options[int(rng.integers(len(options)))]

    # -- native notation ---------------------------------------------------------------------
    def to_native(self, arch: MobileNetArch) -> str:
        return to_string(arch.ops)

    def from_native(self, obj: Any) -> MobileNetArch:
        return self.validate(obj)

    @property
    def size(self) -> int | None:
        """Unconstrained count (6^6 * 7^15); None under a FLOPs limit (not counted)."""
        if self.max_flops is not None:
            return None
        return len(MBCONV_OPS) ** len(FIRST_LAYERS) * len(OPS) ** (NUM_LAYERS - len(FIRST_LAYERS))


def mobilenet_v2_like(target_flops: int, shape: NetworkShape = FINAL_SHAPE) -> MobileNetArch:
    """A MobileNet-v2-like architecture (every layer k3e6, as MobileNet-v2) whose depth is cut
    to come as close as possible to ``target_flops`` without exceeding it: skips are added one
    at a time, each time removing the layer whose removal leaves FLOPs closest to the target
    (later layers of a stage first on ties), never a stage's first layer. A fixed baseline of
    similar cost for comparing a searched architecture."""
    ops = ["k3e6"] * NUM_LAYERS
    fixed, table = layer_flops_table(shape)
    k3e6 = OPS.index("k3e6")
    while flops(ops, shape) > target_flops:
        current = flops(ops, shape)
        best = None
        for i in reversed(range(NUM_LAYERS)):
            if i in FIRST_LAYERS or ops[i] == "skip":
                continue
            after = current - int(table[i, k3e6])
            # prefer the removal that lands closest to the target from above, else just below
            key = (after < target_flops, abs(after - target_flops))
            if best is None or key < best[0]:
                best = (key, i)
        if best is None:
            break
        ops[best[1]] = "skip"
    return MobileNetArch(tuple(ops))
