"""NAS-Bench-101 cell space (Ying et al., ICML 2019).

A cell is a DAG of at most 7 vertices and 9 edges given by an upper-triangular 0/1 adjacency
matrix and one operation per vertex (first ``input``, last ``output``). As in the official
benchmark, vertices that are not on an input-to-output path are pruned before anything else, and
cells are identified by the official iterative-md5 graph hash, so isomorphic cells share an id.

Token encoding (SemiNAS, length 27): for each vertex i = 1..6, one token per earlier vertex j < i
(1 = no edge j->i, 2 = edge), then the vertex's op token (3 conv1x1, 4 conv3x3, 5 maxpool,
6 output). A pruned cell with n < 7 vertices ends at its output vertex's block; the remaining
positions hold 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.errors import InvalidArchitectureError
from seminas.spaces.base import SearchSpace

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)  # order gives the hash labels 0, 1, 2
MAX_VERTICES = 7
MAX_EDGES = 9

OP_TOKENS = {CONV1X1: 3, CONV3X3: 4, MAXPOOL3X3: 5, OUTPUT: 6}
TOKEN_OPS = {v: k for k, v in OP_TOKENS.items()}
NO_EDGE_TOKEN, EDGE_TOKEN = 1, 2
SEQ_LEN = sum(i + 1 for i in range(1, MAX_VERTICES))  # 27
_LABEL_TO_OP = {-1: INPUT, -2: OUTPUT, 0: CONV3X3, 1: CONV1X1, 2: MAXPOOL3X3}
_OP_ALIASES = {"conv3x3": CONV3X3, "conv1x1": CONV1X1, "maxpool": MAXPOOL3X3}


@dataclass(frozen=True)
class NB101Spec:
    """A pruned, valid cell. ``matrix`` is a tuple of row tuples."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return int(sum(map(sum, self.matrix)))

    def adjacency(self) -> np.ndarray:
        return np.asarray(self.matrix, dtype=np.int8)

    def labels(self) -> list[int]:
        return [-1] + [OPS.index(op) for op in self.ops[1:-1]] + [-2]


def graph_hash(matrix: np.ndarray | Sequence[Sequence[int]], labels: Sequence[int]) -> str:
    """The official NAS-Bench-101 module hash.

    Each vertex starts from md5 of ``(out_degree, in_degree, label)``; for as many rounds as there
    are vertices, a vertex's hash becomes md5 of its sorted in-neighbour hashes, '|', its sorted
    out-neighbour hashes, '|', its own hash. The fingerprint is md5 of the sorted final hashes.
    """
    mat = np.asarray(matrix, dtype=np.int64)
    n = mat.shape[0]
    ins = mat.sum(axis=0).tolist()
    outs = mat.sum(axis=1).tolist()
    preds = [[w for w in range(n) if mat[w, v]] for v in range(n)]
    succs = [[w for w in range(n) if mat[v, w]] for v in range(n)]
    md5 = hashlib.md5
    hashes = [
        md5(str((outs[v], ins[v], int(labels[v]))).encode()).hexdigest() for v in range(n)
    ]
    for _ in range(n):
        hashes = [
            md5(
                (
                    "".join(sorted(hashes[w] for w in preds[v]))
                    + "|"
                    + "".join(sorted(hashes[w] for w in succs[v]))
                    + "|"
                    + hashes[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return md5(str(sorted(hashes)).encode()).hexdigest()


def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """Drop vertices not on an input-to-output path; ``None`` when input cannot reach output."""
    n = matrix.shape[0]
    forward = {0}
    for v in range(1, n):
        if any(matrix[u, v] for u in forward if u < v):
            forward.add(v)
    backward = {n - 1}
    for v in range(n - 2, -1, -1):
        if any(matrix[v, w] for w in backward if w > v):
            backward.add(v)
    keep = sorted(forward & backward)
    if 0 not in keep or n - 1 not in keep:
        return None
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


def _normalise_op(op: Any) -> str:
    if op in (INPUT, OUTPUT) or op in OPS:
        return op
    if op in _OP_ALIASES:
        return _OP_ALIASES[op]
    raise InvalidArchitectureError(
        f"unknown NAS-Bench-101 operation {op!r} (allowed: {INPUT}, {', '.join(OPS)}, {OUTPUT})"
    )


def make_spec(matrix: Any, ops: Sequence[Any]) -> NB101Spec:
    """Validate and prune a (matrix, ops) pair exactly as the official benchmark does."""
    try:
        raw = np.asarray(matrix)
        if raw.dtype == object or raw.dtype.kind not in "biuf":
            raise TypeError(raw.dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArchitectureError(f"adjacency matrix is not numeric: {matrix!r}") from exc
    if raw.ndim != 2 or raw.shape[0] != raw.shape[1]:
        raise InvalidArchitectureError(
            f"adjacency matrix must be a square list of rows (e.g. [[0, 1], [0, 0]]), got "
            f"{matrix!r}" + (f" (shape {raw.shape})" if raw.ndim == 2 else "")
        )
    if not np.isin(raw, (0, 1)).all():  # before any cast: 1.5 is not an edge
        bad = sorted(set(raw.ravel().tolist()) - {0, 1})
        raise InvalidArchitectureError(f"adjacency matrix entries must be 0 or 1, got {bad[0]}")
    mat = raw.astype(np.int64)
    n = mat.shape[0]
    if n < 2 or n > MAX_VERTICES:
        raise InvalidArchitectureError(
            f"a NAS-Bench-101 cell has 2..{MAX_VERTICES} vertices, got {n}"
        )
    if np.any(np.tril(mat)):
        raise InvalidArchitectureError(
            "adjacency matrix must be strictly upper triangular (edges go from lower to "
            "higher vertex index)"
        )
    ops = [_normalise_op(op) for op in ops]
    if len(ops) != n:
        raise InvalidArchitectureError(f"{n} vertices need {n} ops, got {len(ops)}")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise InvalidArchitectureError(
            f"first op must be {INPUT!r} and last {OUTPUT!r}, got {ops[0]!r} and {ops[-1]!r}"
        )
    if any(op in (INPUT, OUTPUT) for op in ops[1:-1]):
        raise InvalidArchitectureError("inner vertices cannot be 'input' or 'output'")
    pruned = prune(mat, ops)
    if pruned is None:
        raise InvalidArchitectureError("no path from the input to the output vertex")
    pmat, pops = pruned
    edges = int(pmat.sum())
    if edges > MAX_EDGES:
        raise InvalidArchitectureError(
            f"cell has {edges} edges after pruning; NAS-Bench-101 allows at most {MAX_EDGES}"
        )
    return NB101Spec(tuple(tuple(int(x) for x in row) for row in pmat), tuple(pops))


def spec_from_labels(matrix: Any, labels: Sequence[int]) -> NB101Spec:
    try:
        ops = [_LABEL_TO_OP[int(lab)] for lab in labels]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArchitectureError(
            f"labels must use -1 (input), -2 (output), 0 conv3x3, 1 conv1x1, 2 maxpool: "
            f"got {list(labels)!r}"
        ) from exc
    return make_spec(matrix, ops)


def _block_layout() -> list[tuple[int, int]]:
    """(vertex, first position) of each vertex's block in the 27-token sequence."""
    layout, pos = [], 0
    for v in range(1, MAX_VERTICES):
        layout.append((v, pos))
        pos += v + 1
    return layout


_LAYOUT = _block_layout()


class SpecPool:
    """A finite list of cells to sample from (a partial table, a benchmark subset).

    Has the same interface as the full enumeration, so :class:`NB101Space` can draw from it.
    """

    def __init__(self, specs: Sequence[NB101Spec], hashes: Sequence[str] | None = None) -> None:
        self.specs = list(specs)
        self.hashes = list(hashes) if hashes is not None else [
            graph_hash(s.matrix, s.labels()) for s in self.specs
        ]
        self._index = {h: i for i, h in enumerate(self.hashes)}

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, module_hash: object) -> bool:
        return module_hash in self._index

    def spec(self, i: int) -> NB101Spec:
        return self.specs[i]

    def hash(self, i: int) -> str:
        return self.hashes[i]

    def sample(self, n: int, rng: np.random.Generator, exclude=()) -> list[NB101Spec]:
        excluded = set(exclude)
        out = []
        for i in rng.permutation(len(self.specs)):
            if self.hashes[i] not in excluded:
                out.append(self.specs[i])
                if len(out) == n:
                    return out
        from seminas.errors import SeminasError

        raise SeminasError(
            f"only {len(out)} unseen cells are left in this pool of {len(self.specs)}, "
            f"{n} were asked for: lower the number of architectures or use a larger table"
        )


class NB101Space(SearchSpace[NB101Spec]):
    """NAS-Bench-101 space. Pass an enumeration (see :mod:`seminas.spaces.nb101_enum`) to sample
    uniformly over the 423,624 unique cells; without one a rejection sampler is used."""

    name = "nb101"
    seq_len = SEQ_LEN
    vocab_size = 7

    def __init__(self, enumeration: Any | None = None, restrict: bool = False) -> None:
        self.enumeration = enumeration
        # restrict: cells outside ``enumeration`` are invalid (a space cut down to a table)
        self.restrict = bool(restrict and enumeration is not None)

    @property
    def uniform(self) -> bool:
        return self.enumeration is not None

    def validate(self, arch: Any) -> NB101Spec:
        if isinstance(arch, NB101Spec):
            spec = make_spec(arch.matrix, arch.ops)
        elif isinstance(arch, dict):
            spec = self._from_native(arch)
        elif (
            isinstance(arch, (tuple, list))
            and len(arch) == 2
            and isinstance(arch[0], (list, tuple, np.ndarray))
            and isinstance(arch[1], (list, tuple))
        ):
            spec = make_spec(arch[0], arch[1])
        else:
            raise InvalidArchitectureError(
                f"cannot read {arch!r} as a NAS-Bench-101 cell: give {{'matrix': ..., 'ops': ...}}"
            )
        if self.restrict and self.arch_id(spec) not in self.enumeration:
            raise InvalidArchitectureError(
                f"cell {self.arch_id(spec)} is outside this space's {len(self.enumeration)} cells"
            )
        return spec

    def arch_id(self, arch: NB101Spec) -> str:
        return graph_hash(arch.matrix, arch.labels())

    def encode(self, arch: NB101Spec) -> list[int]:
        mat = arch.matrix
        n = arch.num_vertices
        tokens: list[int] = []
        for v in range(1, n):
            tokens.extend(EDGE_TOKEN if mat[u][v] else NO_EDGE_TOKEN for u in range(v))
            tokens.append(OP_TOKENS[arch.ops[v]])
        tokens.extend([0] * (SEQ_LEN - len(tokens)))
        return tokens

    def decode(self, tokens: Sequence[int]) -> NB101Spec:
        tokens = [int(t) for t in tokens]
        if len(tokens) != SEQ_LEN:
            raise InvalidArchitectureError(
                f"NAS-Bench-101 token sequence must have length {SEQ_LEN}, got {len(tokens)}"
            )
        ops = [INPUT]
        edges: list[tuple[int, int]] = []
        end = None
        for v, start in _LAYOUT:
            block = tokens[start : start + v + 1]
            for u, tok in enumerate(block[:-1]):
                if tok not in (NO_EDGE_TOKEN, EDGE_TOKEN):
                    raise InvalidArchitectureError(
                        f"position {start + u}: edge token must be 1 or 2, got {tok}"
                    )
                if tok == EDGE_TOKEN:
                    edges.append((u, v))
            op_tok = block[-1]
            if op_tok not in TOKEN_OPS:
                raise InvalidArchitectureError(
                    f"position {start + v}: op token must be 3..6, got {op_tok}"
                )
            ops.append(TOKEN_OPS[op_tok])
            if op_tok == OP_TOKENS[OUTPUT]:
                end = start + v + 1
                break
        if end is None:
            raise InvalidArchitectureError("no output vertex: the last block's op must be 6")
        if any(tokens[end:]):
            raise InvalidArchitectureError(
                f"positions after the output vertex (from {end}) must be 0 (padding)"
            )
        n = len(ops)
        mat = np.zeros((n, n), dtype=np.int64)
        for u, v in edges:
            mat[u, v] = 1
        return self.validate((mat, ops))

    def token_mask(self) -> np.ndarray:
        mask = np.zeros((SEQ_LEN, self.vocab_size), dtype=bool)
        for v, start in _LAYOUT:
            mask[start : start + v, [NO_EDGE_TOKEN, EDGE_TOKEN]] = True
            if v == MAX_VERTICES - 1:
                mask[start + v, OP_TOKENS[OUTPUT]] = True
            else:
                mask[start + v, 3:7] = True
            if v >= 2:  # shorter cells pad from the second block on
                mask[start : start + v + 1, 0] = True
        return mask

    def position_labels(self) -> list[tuple[str, dict[int, Any]]]:
        """``"1<-0"``... (is there an edge into vertex i from vertex j: ``yes``/``no``) and
        ``"op1"``... (vertex i's operation, ``output`` where the cell ends); ``-`` where a
        smaller cell has ended before that position."""
        mask = self.token_mask()
        edge = {0: "-", NO_EDGE_TOKEN: "no", EDGE_TOKEN: "yes"}
        op = {0: "-", **TOKEN_OPS}
        out: list[tuple[str, dict[int, Any]]] = []
        for v, start in _LAYOUT:
            meanings = [(f"{v}<-{u}", edge) for u in range(v)] + [(f"op{v}", op)]
            for pos, (name, labels) in enumerate(meanings, start=start):
                out.append((name, {int(t): labels[int(t)] for t in np.flatnonzero(mask[pos])}))
        return out

    def sample_one(self, rng: np.random.Generator) -> NB101Spec:
        if self.enumeration is not None:
            return self.enumeration.spec(int(rng.integers(len(self.enumeration))))
        return self._rejection_sample(rng)

    def sample(self, n, rng, exclude=(), max_attempts_factor=50):
        if self.enumeration is not None:
            return self.enumeration.sample(n, rng, exclude)
        return super().sample(n, rng, exclude, max_attempts_factor)

    @staticmethod
    def _rejection_sample(rng: np.random.Generator) -> NB101Spec:
        """Random 7-vertex matrix and ops until valid (not uniform over unique cells)."""
        iu = np.triu_indices(MAX_VERTICES, k=1)
        while True:
            mat = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
            mat[iu] = rng.integers(2, size=len(iu[0]))
            ops = [INPUT] + [OPS[int(i)] for i in rng.integers(3, size=5)] + [OUTPUT]
            try:
                return make_spec(mat, ops)
            except InvalidArchitectureError:
                continue

    def neighbours(self, arch: NB101Spec) -> list[NB101Spec]:
        """Change one inner op, flip one edge, or add a vertex on a new path; valid and unique."""
        base_id = self.arch_id(arch)
        seen = {base_id}
        out = []
        n = arch.num_vertices
        mat = arch.adjacency()
        for v in range(1, n - 1):
            for op in OPS:
                if op != arch.ops[v]:
                    ops = list(arch.ops)
                    ops[v] = op
                    self._add_if_new(mat, ops, seen, out)
        for u in range(n):
            for v in range(u + 1, n):
                flipped = mat.copy()
                flipped[u, v] = 1 - flipped[u, v]
                self._add_if_new(flipped, arch.ops, seen, out)
        if n < MAX_VERTICES:  # grow: a new vertex w with edges u -> w -> v, placed just before v
            for u in range(n - 1):
                for v in range(u + 1, n):
                    grown = np.insert(np.insert(mat, v, 0, axis=0), v, 0, axis=1)
                    grown[u, v] = 1
                    grown[v, v + 1] = 1
                    for op in OPS:
                        ops = list(arch.ops[:v]) + [op] + list(arch.ops[v:])
                        self._add_if_new(grown, ops, seen, out)
        return out

    def _add_if_new(self, mat, ops, seen: set[str], out: list[NB101Spec]) -> None:
        try:
            spec = make_spec(mat, ops)
        except InvalidArchitectureError:
            return
        key = self.arch_id(spec)
        if key not in seen:
            seen.add(key)
            out.append(spec)

    def mutate(self, arch: NB101Spec, rng: np.random.Generator) -> NB101Spec:
        """The mutation used for regularized evolution in the NAS-Bench-101 paper's code:
        on the padded 7-vertex cell, flip each possible edge with probability 1/21 and change each
        inner op with probability 1/5, repeating until the child is valid and differs."""
        n = arch.num_vertices
        mat = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
        mat[: n - 1, : n - 1] = arch.adjacency()[: n - 1, : n - 1]
        mat[: n - 1, MAX_VERTICES - 1] = arch.adjacency()[: n - 1, n - 1]
        ops = list(arch.ops[:-1]) + [CONV3X3] * (MAX_VERTICES - n) + [OUTPUT]
        base_id = self.arch_id(arch)
        iu = np.triu_indices(MAX_VERTICES, k=1)
        edge_p = 1.0 / len(iu[0])
        op_p = 1.0 / (MAX_VERTICES - 2)
        while True:
            child = mat.copy()
            flips = rng.random(len(iu[0])) < edge_p
            child[iu[0][flips], iu[1][flips]] = 1 - child[iu[0][flips], iu[1][flips]]
            child_ops = list(ops)
            for v in range(1, MAX_VERTICES - 1):
                if rng.random() < op_p:
                    choices = [op for op in OPS if op != child_ops[v]]
                    child_ops[v] = choices[int(rng.integers(len(choices)))]
            try:
                spec = make_spec(child, child_ops)
            except InvalidArchitectureError:
                continue
            if self.arch_id(spec) != base_id:
                return spec

    def to_native(self, arch: NB101Spec) -> dict:
        return {"matrix": [list(r) for r in arch.matrix], "ops": list(arch.ops)}

    def from_native(self, obj: Any) -> NB101Spec:
        return self.validate(obj)

    def _from_native(self, obj: Any) -> NB101Spec:
        if not isinstance(obj, dict) or "matrix" not in obj:
            raise InvalidArchitectureError(
                f"a NAS-Bench-101 cell is {{'matrix': [[...]], 'ops': [...]}} or "
                f"{{'matrix': ..., 'labels': ...}}, got {obj!r}"
            )
        if "ops" in obj:
            return make_spec(obj["matrix"], obj["ops"])
        if "labels" in obj:
            return spec_from_labels(obj["matrix"], obj["labels"])
        raise InvalidArchitectureError("a NAS-Bench-101 cell needs 'ops' or 'labels'")

    @property
    def size(self) -> int:
        """423,624 cells, or a restricted space's own (a partial table, a subset)."""
        return len(self.enumeration) if self.restrict else 423_624
