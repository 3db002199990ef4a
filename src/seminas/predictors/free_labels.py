"""Free labels: what can be known about a cell without training it.

FBNetV3 (Dai et al., "FBNetV3: Joint Architecture-Recipe Search using Predictor Pretraining",
CVPR 2021) pretrains its accuracy predictor's encoder on statistics that cost nothing to
compute (FLOPs, parameters) for many unlabeled architectures, then fine-tunes it on the few
measured accuracies. This module computes such statistics for every cell of the two built-in
spaces, analytically (no network is built), as a float32 array ``[n, k]`` whose columns are
named by :func:`free_label_names`:

- **NAS-Bench-201** (the benchmark's network: 16 channels, 5 cells per stage, 10 classes, 32x32
  input). ``params_m`` and ``macs_m``: parameters and multiply-accumulates (convolutions and the
  classifier) of the network with every non-``none`` operation, in millions -- with the standard
  settings they span the benchmark's published ranges, 0.073306-1.531546 M parameters and
  7.78-220.1 M FLOPs. A *live* operation lies on an input-to-output path of non-``none``
  operations (the others are computed but cannot change the output, or are never computed):
  ``live_params_m``, ``live_macs_m``, counts of each operation and of the live ones,
  ``connected`` (input reaches output), the longest and shortest input-to-output path in live
  edges, the number of such paths, the most convolutions on one path (``conv_depth``), the
  largest receptive-field growth along a path (``receptive_field``: +2 per 3x3 convolution or
  pooling) and whether a path of ``skip_connect`` alone exists (``skip_path``).
- **NAS-Bench-101** (the benchmark's network: a 128-channel stem, 3 stacks of 3 cells, 10
  classes, 32x32 input). ``params_m`` (equal to the benchmark's published count,
  :func:`seminas.networks.nb101.count_params`), ``macs_m``, vertices, edges, counts of each
  operation, the longest and shortest input-to-output path, the number of paths,
  ``conv_depth``, ``receptive_field``, whether the input feeds the output directly and how many
  vertices the output concatenates.

:func:`free_labels` picks the space's function; a space of another kind may offer its own
``free_labels(archs)`` method. The predictors standardise each column before pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, NB101Spec
from seminas.spaces.nb201 import EDGES
from seminas.spaces.nb201 import OPS as NB201_OPS

NB201_FREE_LABELS: tuple[str, ...] = (
    "params_m", "macs_m", "live_params_m", "live_macs_m",
    "skip", "conv1x1", "conv3x3", "pool",
    "live_skip", "live_conv1x1", "live_conv3x3", "live_pool",
    "connected", "longest_path", "shortest_path", "paths",
    "conv_depth", "receptive_field", "skip_path",
)
NB101_FREE_LABELS: tuple[str, ...] = (
    "params_m", "macs_m", "vertices", "edges", "conv3x3", "conv1x1", "maxpool",
    "longest_path", "shortest_path", "paths", "conv_depth", "receptive_field",
    "input_to_output", "output_fan_in",
)

# -- NAS-Bench-201 ---------------------------------------------------------------------------------
_SKIP, _C1, _C3, _POOL = (NB201_OPS.index(o) for o in
                          ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
_NONE = NB201_OPS.index("none")
_NB201_STAGES = (16, 32, 64)  # cell channels per stage
_NB201_CELLS = 5  # cells per stage
_NB201_HW = (32 * 32, 16 * 16, 8 * 8)  # resolution of each stage (CIFAR)
# everything but the cells' operations: stem, two residual reductions, last BN, classifier
_NB201_FIXED_PARAMS = 73_306
_NB201_FIXED_MACS = 7_783_040


def _nb201_op_costs() -> tuple[np.ndarray, np.ndarray]:
    """Parameters and MACs one edge of each operation adds to the whole network."""
    params = np.zeros(len(NB201_OPS))
    macs = np.zeros(len(NB201_OPS))
    for c, hw in zip(_NB201_STAGES, _NB201_HW, strict=True):
        for op, k in ((_C1, 1), (_C3, 9)):
            params[op] += _NB201_CELLS * (k * c * c + 2 * c)  # conv + BN
            macs[op] += _NB201_CELLS * k * c * c * hw
    return params, macs


_OP_PARAMS, _OP_MACS = _nb201_op_costs()


def nb201_op_free_labels(op_index: np.ndarray) -> np.ndarray:
    """Free labels of NAS-Bench-201 cells given as each edge's operation index ``[n, 6]``."""
    ops = np.asarray(op_index, dtype=np.int64).reshape(-1, len(EDGES))
    n = len(ops)
    on = ops != _NONE
    # reachability over the 4 cell nodes through non-none edges
    fwd = np.zeros((n, 4), dtype=bool)
    fwd[:, 0] = True
    for k, (s, t) in enumerate(EDGES):  # EDGES are in topological order of their targets
        fwd[:, t] |= on[:, k] & fwd[:, s]
    bwd = np.zeros((n, 4), dtype=bool)
    bwd[:, 3] = True
    for k in reversed(range(len(EDGES))):
        s, t = EDGES[k]
        bwd[:, s] |= on[:, k] & bwd[:, t]
    live = np.stack([on[:, k] & fwd[:, s] & bwd[:, t] for k, (s, t) in enumerate(EDGES)], 1)

    def longest(weight: np.ndarray, best=np.maximum, start: float = 0.0) -> np.ndarray:
        """Best path weight from node 0 to node 3 over live edges (-inf/inf: no path)."""
        worst = -np.inf if best is np.maximum else np.inf
        value = np.full((n, 4), worst)
        value[:, 0] = start
        for k, (s, t) in enumerate(EDGES):
            cand = np.where(live[:, k], value[:, s] + weight[:, k], worst)
            value[:, t] = best(value[:, t], cand)
        out = value[:, 3]
        return np.where(np.isfinite(out), out, 0.0)

    ones = np.ones((n, len(EDGES)))
    paths = np.zeros((n, 4))
    paths[:, 0] = 1
    skip_only = np.zeros((n, 4), dtype=bool)
    skip_only[:, 0] = True
    for k, (s, t) in enumerate(EDGES):
        paths[:, t] += np.where(live[:, k], paths[:, s], 0)
        skip_only[:, t] |= live[:, k] & (ops[:, k] == _SKIP) & skip_only[:, s]
    is_conv = ((ops == _C1) | (ops == _C3)).astype(np.float64)
    growth = (((ops == _C3) | (ops == _POOL)) * 2).astype(np.float64)

    def count(mask: np.ndarray, op: int) -> np.ndarray:
        return ((ops == op) & mask).sum(1)

    cols = [
        (_NB201_FIXED_PARAMS + _OP_PARAMS[ops].sum(1)) / 1e6,
        (_NB201_FIXED_MACS + _OP_MACS[ops].sum(1)) / 1e6,
        (_NB201_FIXED_PARAMS + (_OP_PARAMS[ops] * live).sum(1)) / 1e6,
        (_NB201_FIXED_MACS + (_OP_MACS[ops] * live).sum(1)) / 1e6,
        *(count(on, op) for op in (_SKIP, _C1, _C3, _POOL)),
        *(count(live, op) for op in (_SKIP, _C1, _C3, _POOL)),
        fwd[:, 3],
        longest(ones),
        longest(ones, np.minimum),
        paths[:, 3],
        longest(is_conv),
        longest(growth),
        skip_only[:, 3],
    ]
    return np.stack([np.asarray(c, dtype=np.float64) for c in cols], 1).astype(np.float32)


def nb201_free_labels(archs: Sequence[Any]) -> np.ndarray:
    """Free labels of NAS-Bench-201 architectures (anything with ``ops``)."""
    ops = np.asarray([[NB201_OPS.index(op) for op in a.ops] for a in archs], dtype=np.int64)
    return nb201_op_free_labels(ops.reshape(-1, len(EDGES)))


def nb201_code_free_labels(codes: np.ndarray) -> np.ndarray:
    """Free labels of the cells with dense codes ``codes`` (``NB201Space.from_code``)."""
    from seminas.predictors.graphs import nb201_code_ops

    return nb201_op_free_labels(nb201_code_ops(codes))


# -- NAS-Bench-101 ---------------------------------------------------------------------------------
_NB101_KERNEL = {CONV3X3: 9, CONV1X1: 1, MAXPOOL3X3: 0}
_NB101_STEM, _NB101_STACKS, _NB101_CELLS = 128, 3, 3


def _nb101_macs(spec: NB101Spec) -> float:
    from seminas.networks.nb101 import _layout, vertex_channels

    m = spec.adjacency()
    n = len(m)
    total = 32 * 32 * 9 * 3 * _NB101_STEM  # stem
    cells, last = _layout(_NB101_STEM, _NB101_STACKS, _NB101_CELLS)
    for stack, c_in, c_out in cells:
        hw = (32 >> stack) ** 2
        ch = vertex_channels(m, c_in, c_out)
        for v in range(1, n):
            if m[0, v]:
                total += hw * c_in * ch[v]  # 1x1 projection of the cell input
            if v < n - 1:
                total += hw * _NB101_KERNEL[spec.ops[v]] * ch[v] * ch[v]
    return float(total + last * 10)


def _nb101_paths(spec: NB101Spec) -> tuple[float, float, float, float, float]:
    """Longest and shortest input-to-output path, paths, conv depth, receptive-field growth."""
    m = spec.adjacency()
    n = len(m)
    inf = float("inf")
    longest = [-inf] * n
    shortest = [inf] * n
    count = [0] * n
    conv = [-inf] * n
    field = [-inf] * n
    longest[0] = shortest[0] = conv[0] = field[0] = 0
    count[0] = 1
    for v in range(1, n):
        op = spec.ops[v]
        is_conv = 1 if op in (CONV3X3, CONV1X1) else 0
        grow = 2 if op in (CONV3X3, MAXPOOL3X3) else 0
        for u in range(v):
            if m[u, v]:
                longest[v] = max(longest[v], longest[u] + 1)
                shortest[v] = min(shortest[v], shortest[u] + 1)
                count[v] += count[u]
                conv[v] = max(conv[v], conv[u] + is_conv)
                field[v] = max(field[v], field[u] + grow)
    t = n - 1
    return float(longest[t]), float(shortest[t]), float(count[t]), float(conv[t]), float(field[t])


def nb101_free_labels(specs: Sequence[NB101Spec]) -> np.ndarray:
    """Free labels of pruned NAS-Bench-101 cells."""
    from seminas.networks.nb101 import count_params

    rows = []
    for spec in specs:
        m = spec.adjacency()
        n = len(m)
        interior = spec.ops[1:-1]
        rows.append([
            count_params(spec) / 1e6,
            _nb101_macs(spec) / 1e6,
            n,
            int(m.sum()),
            interior.count(CONV3X3),
            interior.count(CONV1X1),
            interior.count(MAXPOOL3X3),
            *_nb101_paths(spec),
            float(m[0, n - 1]),
            float(m[1 : n - 1, n - 1].sum()),
        ])
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(NB101_FREE_LABELS))


# -- any space -------------------------------------------------------------------------------------
def free_label_names(space: Any) -> tuple[str, ...]:
    """The names of the columns :func:`free_labels` gives for ``space``."""
    name = getattr(space, "name", None)
    if name == "nb201":
        return NB201_FREE_LABELS
    if name == "nb101":
        return NB101_FREE_LABELS
    own = getattr(space, "free_label_names", None)
    if callable(own):
        return tuple(own())
    raise SeminasError(f"search space {name!r} has no free labels (nb201 and nb101 have)")


def free_labels(space: Any, archs: Sequence[Any]) -> np.ndarray:
    """Free labels of ``archs`` of ``space``: float32 ``[len(archs), k]`` (see the module)."""
    name = getattr(space, "name", None)
    if name == "nb201":
        return nb201_free_labels(archs)
    if name == "nb101":
        return nb101_free_labels(archs)
    own = getattr(space, "free_labels", None)
    if callable(own):
        return np.asarray(own(archs), dtype=np.float32)
    raise SeminasError(
        f"search space {name!r} has no free labels: pretraining works on nb201 and nb101, or on "
        f"a space with a free_labels(archs) method"
    )


__all__ = [
    "NB101_FREE_LABELS",
    "NB201_FREE_LABELS",
    "free_label_names",
    "free_labels",
    "nb101_free_labels",
    "nb201_code_free_labels",
    "nb201_free_labels",
    "nb201_op_free_labels",
]
