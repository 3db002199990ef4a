"""Flat feature vectors of architectures, for predictors that read tabular data (trees, MLPs).

Non-neural predictors see an architecture as a row of 0/1 features (GBDT-NAS: Luo et al.,
"Accuracy Prediction with Non-neural Model for Neural Architecture Search", 2020, Sec. 3.1):

- NAS-Bench-201: the one-hot operation of each of the 6 edges (6 x 5 = 30 features), in the edge
  order of :mod:`seminas.spaces.nb201`.
- NAS-Bench-101: GBDT-NAS's layout. For each vertex ``v = 1..6`` a block of its incoming edges
  ``u -> v`` (``u < v``), then a 4-way one-hot of its operation (conv3x3, conv1x1, maxpool,
  output); the pruned cell is stored top-left, so a cell of ``n < 7`` vertices has its output at
  vertex ``n - 1`` and all-zero blocks after it (21 edge + 24 op features = 45).
- Any other space: what its registry entry names (``SpaceEntry.features``), else the one-hot of
  each position of its token sequence (``space.encode``).

The NAS-Bench-101 features (and the controller's tokens) can also be computed for the whole
enumerated space at once from its arrays, which is what makes ranking all 423,624 cells cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seminas.spaces.base import SearchSpace
from seminas.spaces.nb101 import (
    CONV1X1,
    CONV3X3,
    MAX_VERTICES,
    MAXPOOL3X3,
    OP_TOKENS,
    OUTPUT,
    SEQ_LEN,
    NB101Spec,
)
from seminas.spaces.nb201 import EDGES
from seminas.spaces.nb201 import OPS as NB201_OPS

NB201_NUM_FEATURES = len(EDGES) * len(NB201_OPS)  # 30
NB101_OP_SLOTS = (CONV3X3, CONV1X1, MAXPOOL3X3, OUTPUT)
# first feature of vertex v's block: v incoming-edge bits, then the 4 op slots
_NB101_BLOCK = [0] * MAX_VERTICES
for _v in range(2, MAX_VERTICES):
    _NB101_BLOCK[_v] = _NB101_BLOCK[_v - 1] + (_v - 1) + len(NB101_OP_SLOTS)
NB101_NUM_FEATURES = _NB101_BLOCK[MAX_VERTICES - 1] + (MAX_VERTICES - 1) + len(NB101_OP_SLOTS)
# first token of vertex v's block in the controller's 27-token sequence (v edge tokens + 1 op)
_TOKEN_BLOCK = [0] * MAX_VERTICES
for _v in range(2, MAX_VERTICES):
    _TOKEN_BLOCK[_v] = _TOKEN_BLOCK[_v - 1] + _v


def nb201_features(archs: Sequence[Any]) -> np.ndarray:
    """One-hot of each edge's operation: ``[len(archs), 30]`` float32."""
    codes = np.asarray([[NB201_OPS.index(op) for op in a.ops] for a in archs], dtype=np.int64)
    return _one_hot_rows(codes.reshape(-1, len(EDGES)), len(NB201_OPS))


def nb201_code_features(codes: np.ndarray) -> np.ndarray:
    """Features of the cells with dense codes ``codes`` (see ``NB201Space.from_code``)."""
    codes = np.asarray(codes, dtype=np.int64)
    digits = np.stack([(codes // len(NB201_OPS) ** k) % len(NB201_OPS) for k in range(len(EDGES))])
    return _one_hot_rows(digits.T, len(NB201_OPS))


def _one_hot_rows(values: np.ndarray, width: int) -> np.ndarray:
    rows, cols = values.shape
    out = np.zeros((rows, cols * width), dtype=np.float32)
    if rows:
        out[np.arange(rows)[:, None], np.arange(cols) * width + values] = 1.0
    return out


def nb101_features(specs: Sequence[NB101Spec]) -> np.ndarray:
    """GBDT-NAS features of pruned cells: ``[len(specs), 45]`` float32."""
    out = np.zeros((len(specs), NB101_NUM_FEATURES), dtype=np.float32)
    for row, spec in enumerate(specs):
        n = spec.num_vertices
        for v in range(1, n):
            start = _NB101_BLOCK[v]
            for u in range(v):
                if spec.matrix[u][v]:
                    out[row, start + u] = 1.0
            out[row, start + v + NB101_OP_SLOTS.index(spec.ops[v])] = 1.0
    return out


def _enum_arrays(enumeration: Any, indices: np.ndarray | None):
    if indices is None:
        return enumeration.masks, enumeration.num_vertices, enumeration.ops
    idx = np.asarray(indices, dtype=np.int64)
    return enumeration.masks[idx], enumeration.num_vertices[idx], enumeration.ops[idx]


def _edge_bit(masks: np.ndarray, u: int, v: int) -> np.ndarray:
    """Whether each cell has edge u -> v (bit layout of :mod:`seminas.spaces.nb101_enum`)."""
    bit = sum(MAX_VERTICES - 1 - w for w in range(u)) + (v - u - 1)
    return ((masks >> np.uint32(bit)) & np.uint32(1)).astype(bool)


def nb101_enumeration_features(enumeration: Any, indices: np.ndarray | None = None) -> np.ndarray:
    """:func:`nb101_features` of enumerated cells, vectorised over the enumeration's arrays
    (all cells, or those at ``indices``); about a second for the whole space."""
    masks, num_vertices, ops = _enum_arrays(enumeration, indices)
    n = num_vertices.astype(np.int64)
    out = np.zeros((len(masks), NB101_NUM_FEATURES), dtype=np.float32)
    # enumeration op codes 0, 1, 2 are conv3x3, conv1x1, maxpool: the first three op slots
    for v in range(1, MAX_VERTICES):
        start = _NB101_BLOCK[v]
        present = n > v
        for u in range(v):
            out[:, start + u] = _edge_bit(masks, u, v) & present
        if v < MAX_VERTICES - 1:  # the last vertex can only be the output
            rows = np.flatnonzero(present & (v < n - 1))
            out[rows, start + v + ops[rows, v - 1].astype(np.int64)] = 1.0
        out[np.flatnonzero(present & (v == n - 1)), start + v + 3] = 1.0
    return out


def nb101_enumeration_tokens(enumeration: Any, indices: np.ndarray | None = None) -> np.ndarray:
    """The controller's token sequences (``NB101Space.encode``) of enumerated cells, vectorised:
    ``[cells, 27]`` int64."""
    masks, num_vertices, ops = _enum_arrays(enumeration, indices)
    n = num_vertices.astype(np.int64)
    out = np.zeros((len(masks), SEQ_LEN), dtype=np.int64)
    op_token = np.array(
        [OP_TOKENS[CONV3X3], OP_TOKENS[CONV1X1], OP_TOKENS[MAXPOOL3X3]], dtype=np.int64
    )
    for v in range(1, MAX_VERTICES):
        start = _TOKEN_BLOCK[v]
        present = n > v
        for u in range(v):
            out[:, start + u] = np.where(present, 1 + _edge_bit(masks, u, v), 0)
        if v < MAX_VERTICES - 1:
            inner = np.flatnonzero(present & (v < n - 1))
            out[inner, start + v] = op_token[ops[inner, v - 1].astype(np.int64)]
        out[np.flatnonzero(present & (v == n - 1)), start + v] = OP_TOKENS[OUTPUT]
    return out


def token_features(space: SearchSpace, archs: Sequence[Any]) -> np.ndarray:
    """The generic encoding: one-hot of every position of ``space.encode``."""
    tokens = space.encode_many(archs)
    return _one_hot_rows(tokens.reshape(-1, space.seq_len), space.vocab_size)


def features(space: SearchSpace, archs: Sequence[Any]) -> np.ndarray:
    """The flat encoding a predictor sees for ``archs`` of ``space``: the one its registry entry
    names (:class:`seminas.registry.SpaceEntry`), else the space's own ``predictor_features``
    method (spaces built at run time, e.g. :mod:`seminas.spaces.categorical`), else the one-hot
    of its tokens."""
    from seminas.registry import resolve, space_entry_for

    entry = space_entry_for(space)
    if entry is not None and entry.features is not None:
        return resolve(entry.features)(archs)
    own = getattr(space, "predictor_features", None)
    if callable(own):
        return own(archs)
    return token_features(space, archs)


def encode_for(predictor: Any, space: SearchSpace, archs: Sequence[Any]) -> Any:
    """What ``predictor`` reads for ``archs`` of ``space``, by the encoding it declares
    (:func:`seminas.predictors.base.encoding_of`): ``"flat"`` rows of :func:`features`,
    ``"graph"`` a :class:`~seminas.predictors.graphs.GraphBatch`, ``"tokens"`` the space's
    token rows. ``predictor`` is a predictor, its class, or a registered predictor's name."""
    from seminas.predictors.base import encoding_of

    if isinstance(predictor, str):
        from seminas.registry import predictors

        predictor = predictors.get(predictor)
    encoding = encoding_of(predictor)
    archs = list(archs)
    if encoding == "graph":
        from seminas.predictors.graphs import graphs

        return graphs(space, archs)
    if encoding == "tokens":
        return space.encode_many(archs)
    return features(space, archs)
