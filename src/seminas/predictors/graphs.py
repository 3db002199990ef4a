"""Cells as graphs, for graph neural predictors (:mod:`seminas.predictors.gnn`).

A :class:`GraphBatch` holds ``n`` directed acyclic graphs padded to ``V`` vertices: an adjacency
array (``adjacency[b, u, v] = 1`` for an edge ``u -> v``) and a vertex type per vertex (``-1``
for a padding vertex that is not part of the graph). Both spaces are operation-on-vertex DAGs:

- **NAS-Bench-101**: the pruned cell itself (at most 7 vertices; the matrix stored top-left,
  the output at vertex ``n - 1``). Types: 0 input, 1 conv3x3, 2 conv1x1, 3 maxpool, 4 output
  (:data:`NB101_TYPES`).
- **NAS-Bench-201**: NAS-Bench-201 puts operations on edges; the graph here puts them on
  vertices: vertex 0 is the cell input, vertices 1..6 are the six edges' operations (in the edge
  order of :mod:`seminas.spaces.nb201`), vertex 7 the cell output. The operation of edge
  ``j -> i`` reads node ``j`` of the cell, which is the cell input when ``j = 0`` and otherwise
  the sum of the operations on the edges into ``j``; it feeds the operations on the edges out of
  ``i``, or the output when ``i = 3``. A ``none`` operation outputs zeros, so its vertex keeps
  its type but has no edges. Types: 0 input, 1..5 the operations of
  :data:`seminas.spaces.nb201.OPS`, 6 output (:data:`NB201_TYPES`).

Relabelling the vertices of a graph (permuting adjacency rows and columns and the types
together) gives the same graph; a GNN with sum aggregation and a sum readout gives it the same
prediction (the tests check this on isomorphic NAS-Bench-101 cells).

Encodings of whole spaces are vectorised (:func:`nb201_code_graphs`,
:func:`nb101_enumeration_graphs`): the 423,624 enumerated NAS-Bench-101 cells take ~25 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.predictors.encoding import _edge_bit, _enum_arrays
from seminas.spaces.nb101 import CONV1X1, CONV3X3, MAX_VERTICES, MAXPOOL3X3, NB101Spec
from seminas.spaces.nb201 import EDGES
from seminas.spaces.nb201 import OPS as NB201_OPS

NB101_TYPES: tuple[str, ...] = ("input", CONV3X3, CONV1X1, MAXPOOL3X3, "output")
NB201_TYPES: tuple[str, ...] = ("input", *NB201_OPS, "output")
NB201_VERTICES = len(EDGES) + 2  # input, one per edge, output


@dataclass(frozen=True)
class GraphBatch:
    """``n`` graphs padded to ``V`` vertices: ``adjacency`` uint8 ``[n, V, V]``, ``types`` int8
    ``[n, V]`` (``-1``: padding), ``num_types`` the number of vertex types."""

    adjacency: np.ndarray
    types: np.ndarray
    num_types: int

    def __post_init__(self) -> None:
        a, t = self.adjacency, self.types
        if a.ndim != 3 or a.shape[1] != a.shape[2] or t.shape != a.shape[:2]:
            raise ValueError(
                f"a GraphBatch needs adjacency [n, V, V] and types [n, V], got {a.shape}, "
                f"{t.shape}"
            )

    def __len__(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.adjacency.shape[1])

    def take_rows(self, index: Any) -> GraphBatch:
        idx = np.asarray(index)
        return GraphBatch(self.adjacency[idx], self.types[idx], self.num_types)

    @classmethod
    def concat_rows(cls, parts: Sequence[GraphBatch]) -> GraphBatch:
        shapes = {(p.num_vertices, p.num_types) for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"cannot concatenate graphs of different layouts: {sorted(shapes)}")
        return cls(
            np.concatenate([p.adjacency for p in parts]),
            np.concatenate([p.types for p in parts]),
            parts[0].num_types,
        )

    def row_keys(self) -> list[bytes]:
        a = np.ascontiguousarray(self.adjacency).reshape(len(self), -1)
        t = np.ascontiguousarray(self.types).reshape(len(self), -1)
        return [ar.tobytes() + b"|" + tr.tobytes() for ar, tr in zip(a, t, strict=True)]

    def relabelled(self, row: int, perm: Sequence[int]) -> GraphBatch:
        """Graph ``row`` with vertex ``perm[i]`` renamed ``i`` (an isomorphic copy)."""
        p = np.asarray(perm)
        a = self.adjacency[row][np.ix_(p, p)]
        return GraphBatch(a[None], self.types[row][p][None], self.num_types)


# -- NAS-Bench-201 ---------------------------------------------------------------------------------
def _nb201_edge_links() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Which edge vertices read the input, which feed the output, and edge -> edge links."""
    from_input = np.array([s == 0 for s, _ in EDGES])
    to_output = np.array([t == 3 for _, t in EDGES])
    links = [(a, b) for a, (_, ta) in enumerate(EDGES) for b, (sb, _) in enumerate(EDGES)
             if ta == sb]
    return from_input, to_output, links


def nb201_op_graphs(op_index: np.ndarray) -> GraphBatch:
    """Graphs of cells given as the index (in :data:`~seminas.spaces.nb201.OPS`) of each edge's
    operation, ``[n, 6]``."""
    ops = np.asarray(op_index, dtype=np.int64).reshape(-1, len(EDGES))
    n = len(ops)
    live = ops != NB201_OPS.index("none")
    adj = np.zeros((n, NB201_VERTICES, NB201_VERTICES), dtype=np.uint8)
    from_input, to_output, links = _nb201_edge_links()
    out = NB201_VERTICES - 1
    for k in range(len(EDGES)):
        if from_input[k]:
            adj[:, 0, k + 1] = live[:, k]
        if to_output[k]:
            adj[:, k + 1, out] = live[:, k]
    for a, b in links:
        adj[:, a + 1, b + 1] = live[:, a] & live[:, b]
    types = np.empty((n, NB201_VERTICES), dtype=np.int8)
    types[:, 0] = 0
    types[:, 1:-1] = ops + 1
    types[:, -1] = len(NB201_TYPES) - 1
    return GraphBatch(adj, types, len(NB201_TYPES))


def nb201_graphs(archs: Sequence[Any]) -> GraphBatch:
    """Graphs of NAS-Bench-201 architectures (anything with ``ops``)."""
    ops = np.asarray([[NB201_OPS.index(op) for op in a.ops] for a in archs], dtype=np.int64)
    return nb201_op_graphs(ops.reshape(-1, len(EDGES)))


def nb201_code_ops(codes: np.ndarray) -> np.ndarray:
    """Each edge's operation index of the cells with dense codes ``codes`` ``[n, 6]``."""
    codes = np.asarray(codes, dtype=np.int64)
    base = len(NB201_OPS)
    return np.stack([(codes // base**k) % base for k in range(len(EDGES))], axis=1)


def nb201_code_graphs(codes: np.ndarray) -> GraphBatch:
    """Graphs of the cells with dense codes ``codes`` (see ``NB201Space.from_code``)."""
    return nb201_op_graphs(nb201_code_ops(codes))


# -- NAS-Bench-101 ---------------------------------------------------------------------------------
_NB101_OP_TYPE = {CONV3X3: 1, CONV1X1: 2, MAXPOOL3X3: 3}


def nb101_graphs(specs: Sequence[NB101Spec]) -> GraphBatch:
    """Graphs of pruned NAS-Bench-101 cells, padded to 7 vertices."""
    n = len(specs)
    adj = np.zeros((n, MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    types = np.full((n, MAX_VERTICES), -1, dtype=np.int8)
    for row, spec in enumerate(specs):
        v = spec.num_vertices
        adj[row, :v, :v] = np.asarray(spec.matrix, dtype=np.uint8)
        types[row, 0] = 0
        types[row, v - 1] = len(NB101_TYPES) - 1
        for i in range(1, v - 1):
            types[row, i] = _NB101_OP_TYPE[spec.ops[i]]
    return GraphBatch(adj, types, len(NB101_TYPES))


def nb101_enumeration_graphs(enumeration: Any, indices: np.ndarray | None = None) -> GraphBatch:
    """:func:`nb101_graphs` of enumerated cells, vectorised over the enumeration's arrays."""
    masks, num_vertices, ops = _enum_arrays(enumeration, indices)
    nv = num_vertices.astype(np.int64)
    n = len(masks)
    adj = np.zeros((n, MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    for v in range(1, MAX_VERTICES):
        present = nv > v
        for u in range(v):
            adj[:, u, v] = _edge_bit(masks, u, v) & present
    types = np.full((n, MAX_VERTICES), -1, dtype=np.int8)
    types[:, 0] = 0
    # enumeration op codes 0, 1, 2 are conv3x3, conv1x1, maxpool: types 1, 2, 3
    for v in range(1, MAX_VERTICES - 1):
        inner = np.flatnonzero(nv - 1 > v)
        types[inner, v] = ops[inner, v - 1].astype(np.int8) + 1
    types[np.arange(n), nv - 1] = len(NB101_TYPES) - 1
    return GraphBatch(adj, types, len(NB101_TYPES))


def graphs(space: Any, archs: Sequence[Any]) -> GraphBatch:
    """The graph encoding of ``archs`` of a built-in space (``nb201`` or ``nb101``); another
    space may offer its own ``predictor_graphs(archs)`` method."""
    name = getattr(space, "name", None)
    if name == "nb201":
        return nb201_graphs(archs)
    if name == "nb101":
        return nb101_graphs(archs)
    own = getattr(space, "predictor_graphs", None)
    if callable(own):
        return own(archs)
    from seminas.errors import SeminasError

    raise SeminasError(
        f"search space {name!r} has no graph encoding: graph predictors (gnn) work on nb201 and "
        f"nb101, or on a space with a predictor_graphs(archs) method"
    )


__all__ = [
    "NB101_TYPES",
    "NB201_TYPES",
    "GraphBatch",
    "graphs",
    "nb101_enumeration_graphs",
    "nb101_graphs",
    "nb201_code_graphs",
    "nb201_code_ops",
    "nb201_graphs",
    "nb201_op_graphs",
]
