"""The toy space: a chain of 4 layers, each one of 4 operations (256 architectures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.errors import InvalidArchitectureError
from seminas.spaces.base import SearchSpace

OPS = ("conv3x3", "conv5x5", "maxpool", "skip")
LAYERS = 4
SIZE = len(OPS) ** LAYERS


@dataclass(frozen=True)
class ToyArch:
    ops: tuple[str, ...]

    @property
    def code(self) -> int:
        """Position in the table: the ops as digits of a base-4 number."""
        return sum(OPS.index(op) * len(OPS) ** i for i, op in enumerate(self.ops))


class ToySpace(SearchSpace[ToyArch]):
    """Native notation: ``"conv3x3-maxpool-skip-conv5x5"``; tokens: op index + 1 per layer."""

    name = "toy"
    seq_len = LAYERS
    vocab_size = len(OPS) + 1  # token 0 is reserved (see seminas.spaces.base)

    def validate(self, arch: Any) -> ToyArch:
        if isinstance(arch, ToyArch):
            ops = arch.ops
        elif isinstance(arch, str):
            ops = tuple(arch.split("-"))
        elif isinstance(arch, (list, tuple)):
            ops = tuple(arch)
        else:
            raise InvalidArchitectureError(f"not a toy architecture: {arch!r}")
        if len(ops) != LAYERS or any(op not in OPS for op in ops):
            raise InvalidArchitectureError(
                f"a toy architecture is {LAYERS} of {', '.join(OPS)} joined by '-', got {arch!r}"
            )
        return ToyArch(tuple(ops))

    def arch_id(self, arch: ToyArch) -> str:
        return "-".join(arch.ops)

    def encode(self, arch: ToyArch) -> list[int]:
        return [OPS.index(op) + 1 for op in arch.ops]

    def decode(self, tokens: Sequence[int]) -> ToyArch:
        if len(tokens) != LAYERS or any(not 1 <= int(t) <= len(OPS) for t in tokens):
            raise InvalidArchitectureError(f"not a toy token sequence: {list(tokens)}")
        return ToyArch(tuple(OPS[int(t) - 1] for t in tokens))

    def token_mask(self) -> np.ndarray:
        mask = np.ones((LAYERS, self.vocab_size), dtype=bool)
        mask[:, 0] = False
        return mask

    def sample_one(self, rng: np.random.Generator) -> ToyArch:
        return ToyArch(tuple(OPS[int(i)] for i in rng.integers(len(OPS), size=LAYERS)))

    def neighbours(self, arch: ToyArch) -> list[ToyArch]:
        out = []
        for layer in range(LAYERS):
            for op in OPS:
                if op != arch.ops[layer]:
                    ops = list(arch.ops)
                    ops[layer] = op
                    out.append(ToyArch(tuple(ops)))
        return out

    def to_native(self, arch: ToyArch) -> str:
        return self.arch_id(arch)

    def from_native(self, obj: Any) -> ToyArch:
        return self.validate(obj)

    def from_code(self, code: int) -> ToyArch:
        return ToyArch(tuple(OPS[(int(code) // len(OPS) ** i) % len(OPS)] for i in range(LAYERS)))

    @property
    def size(self) -> int:
        return SIZE


def catalog(space: ToySpace):
    """Every cell with the features a predictor sees (the one-hot of its tokens)."""
    from seminas.predictors.catalog import Catalog
    from seminas.predictors.encoding import token_features

    archs = [space.from_code(c) for c in range(SIZE)]
    index = {space.arch_id(a): i for i, a in enumerate(archs)}

    def indices_of(ids: list[str]) -> np.ndarray:
        return np.asarray([index.get(i, -1) for i in ids], dtype=np.int64)

    return Catalog(token_features(space, archs), archs.__getitem__, indices_of)
