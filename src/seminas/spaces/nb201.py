"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell has four nodes; each of the six edges ``j -> i`` (j < i) carries one of five operations.
The official string lists, per target node i = 1..3, the edges from nodes 0..i-1:
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. All 5^6 = 15,625 cells are treated as distinct, as the
benchmark does (its table has one row per string).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.base import SearchSpace, sample_by_permutation

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Edge order used everywhere: (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_EDGES = len(EDGES)
_NODE_RE = re.compile(r"^\|(.+)\|$")


@dataclass(frozen=True)
class NB201Arch:
    ops: tuple[str, ...]

    def __str__(self) -> str:
        return to_string(self.ops)


def to_string(ops: Sequence[str]) -> str:
    nodes = []
    k = 0
    for target in range(1, 4):
        parts = []
        for source in range(target):
            parts.append(f"{ops[k]}~{source}")
            k += 1
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def parse_string(text: str) -> tuple[str, ...]:
    """Parse the official architecture string, with a precise error on any deviation."""
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"NAS-Bench-201 architecture must be a string, got {text!r}")
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise InvalidArchitectureError(
            f"invalid NAS-Bench-201 string {text!r}: expected 3 nodes separated by '+', "
            f"e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|none~2|"
        )
    ops: list[str] = []
    for target, node in enumerate(nodes, start=1):
        m = _NODE_RE.match(node)
        parts = m.group(1).split("|") if m else []
        if len(parts) != target:
            raise InvalidArchitectureError(
                f"invalid NAS-Bench-201 string {text!r}: node {target} must list {target} "
                f"edge(s) as |op~source|, got {node!r}"
            )
        for source, part in enumerate(parts):
            op, sep, src = part.partition("~")
            if not sep or src != str(source):
                raise InvalidArchitectureError(
                    f"invalid NAS-Bench-201 string {text!r}: expected 'op~{source}' in node "
                    f"{target}, got {part!r}"
                )
            if op not in OPS:
                raise InvalidArchitectureError(
                    f"invalid NAS-Bench-201 string {text!r}: unknown operation {op!r} "
                    f"(allowed: {', '.join(OPS)})"
                )
            ops.append(op)
    return tuple(ops)


class NB201Space(SearchSpace[NB201Arch]):
    """Tokens: 0 is the start token, operation k of :data:`OPS` is token k + 1."""

    name = "nb201"
    seq_len = NUM_EDGES
    vocab_size = len(OPS) + 1

    def validate(self, arch: Any) -> NB201Arch:
        if isinstance(arch, NB201Arch):
            ops = tuple(arch.ops)
        elif isinstance(arch, str):
            ops = parse_string(arch)
        elif isinstance(arch, (list, tuple)):
            ops = tuple(arch)
        else:
            raise InvalidArchitectureError(
                f"cannot read {arch!r} as a NAS-Bench-201 architecture: give its string"
            )
        if len(ops) != NUM_EDGES:
            raise InvalidArchitectureError(
                f"NAS-Bench-201 cell needs {NUM_EDGES} operations, got {len(ops)}: {ops!r}"
            )
        for op in ops:
            if op not in OPS:
                raise InvalidArchitectureError(
                    f"unknown NAS-Bench-201 operation {op!r} (allowed: {', '.join(OPS)})"
                )
        return NB201Arch(ops)

    def arch_id(self, arch: NB201Arch) -> str:
        return to_string(arch.ops)

    def encode(self, arch: NB201Arch) -> list[int]:
        return [OPS.index(op) + 1 for op in arch.ops]

    def decode(self, tokens: Sequence[int]) -> NB201Arch:
        tokens = [int(t) for t in tokens]
        if len(tokens) != NUM_EDGES:
            raise InvalidArchitectureError(
                f"NAS-Bench-201 token sequence must have length {NUM_EDGES}, got {len(tokens)}"
            )
        for pos, tok in enumerate(tokens):
            if not 1 <= tok <= len(OPS):
                raise InvalidArchitectureError(
                    f"token {tok} at position {pos} is not an operation (allowed 1..{len(OPS)})"
                )
        return NB201Arch(tuple(OPS[t - 1] for t in tokens))

    def token_mask(self) -> np.ndarray:
        mask = np.zeros((self.seq_len, self.vocab_size), dtype=bool)
        mask[:, 1:] = True
        return mask

    def position_labels(self) -> list[tuple[str, dict[int, Any]]]:
        """``"1<-0"``, ``"2<-0"``, ... ``"3<-2"`` (the edge into node i from node j, as
        :func:`seminas.integrations.optuna.nb201_objective` names them), each with the
        operation of every token."""
        ops = {k + 1: op for k, op in enumerate(OPS)}
        return [(f"{target}<-{source}", dict(ops)) for source, target in EDGES]

    def sample_one(self, rng: np.random.Generator) -> NB201Arch:
        return NB201Arch(tuple(OPS[int(i)] for i in rng.integers(len(OPS), size=NUM_EDGES)))

    def sample(self, n, rng, exclude=(), max_attempts_factor=50):
        excluded = set(exclude)
        left = self.size - len(excluded)
        if n > left:
            raise SeminasError(
                f"only {max(left, 0):,} of the {self.size:,} architectures of space "
                f"{self.name!r} are left, {n:,} were asked for: ask for fewer"
            )
        if left < self.size // 4:  # few cells left: draw exactly among them, never reject
            ids = self._all_ids()
            free = np.flatnonzero([key not in excluded for key in ids])
            picks = rng.choice(free, size=n, replace=False)
            return [self.from_code(int(code)) for code in picks]
        if n > self.size // 4:  # dense request: draw a permutation instead of rejecting
            return sample_by_permutation(self, self.size, n, rng, excluded)
        return super().sample(n, rng, exclude, max_attempts_factor)

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        out = []
        for k in range(NUM_EDGES):
            for op in OPS:
                if op != arch.ops[k]:
                    ops = list(arch.ops)
                    ops[k] = op
                    out.append(NB201Arch(tuple(ops)))
        return out

    def to_native(self, arch: NB201Arch) -> str:
        return to_string(arch.ops)

    def from_native(self, obj: Any) -> NB201Arch:
        return self.validate(obj)

    @property
    def size(self) -> int:
        return len(OPS) ** NUM_EDGES

    # base-5 code: a dense index used for enumeration (not the benchmark's official index)
    def from_code(self, code: int) -> NB201Arch:
        ops = []
        for _ in range(NUM_EDGES):
            ops.append(OPS[code % len(OPS)])
            code //= len(OPS)
        return NB201Arch(tuple(ops))

    def all(self) -> list[NB201Arch]:
        return [self.from_code(c) for c in range(self.size)]

    def _all_ids(self) -> list[str]:
        """``arch_id`` of every code, computed once per space (near-exhaustion sampling)."""
        ids = getattr(self, "_ids_by_code", None)
        if ids is None:
            ids = [self.arch_id(self.from_code(c)) for c in range(self.size)]
            self._ids_by_code = ids
        return ids
