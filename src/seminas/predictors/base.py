"""The predictor protocol: what every accuracy predictor offers, whatever it is inside.

scikit-learn's estimator verbs, kept small: ``fit(X, y)`` trains on the labeled rows and returns
the predictor itself (so ``predictor.fit(X, y).predict(Z)`` reads as one step), ``predict(X)``
gives one predicted search metric per row, in the benchmark's units. A predictor owns its
randomness (it is built with a seed or a generator).

**What ``X`` is: the encoding a predictor declares.** Every predictor names the encoding it
consumes in its ``encoding`` attribute (on the class; an instance may override it), one of
:data:`ENCODINGS`:

- ``"flat"``: a float32 array ``[n, d]`` of features (:func:`seminas.predictors.encoding.features`);
  GBDT and the MLP. A predictor without the attribute is read as ``"flat"``.
- ``"graph"``: a :class:`~seminas.predictors.graphs.GraphBatch` of cell DAGs (the GNN).
- ``"tokens"``: the space's token rows (``space.encode_many``), the SemiNAS controller.

:func:`seminas.predictors.encoding.encode_for` turns architectures into what a predictor reads,
and :func:`seminas.predictors.catalog.encode_catalog` does so for every cell of a finite space,
so a strategy can use any predictor by its name without knowing its inputs.

**Optional verbs** (a wrapper or a strategy checks for them, nothing requires them):

- ``pretrain(X, F) -> self``: learn from free labels ``F`` ``[n, k]`` of unlabeled rows
  (:mod:`seminas.predictors.free_labels`) before any ``fit``; every later ``fit`` starts from
  what was pretrained (the MLP and the GNN). See :func:`supports_pretraining`.
- ``predict_std(X)``: one uncertainty per row, in the prediction's units (the ensemble).

Rows of any encoding are handled by :func:`take_rows`, :func:`concat_rows`, :func:`row_keys`
and :func:`num_rows`, so wrappers (:mod:`~seminas.predictors.semi`,
:mod:`~seminas.predictors.ensemble`) work with every encoding.

Satisfied by :class:`~seminas.predictors.gbdt.GBDTPredictor`,
:class:`~seminas.predictors.mlp.MLPPredictor`, :class:`~seminas.predictors.gnn.GNNPredictor`,
:class:`~seminas.predictors.ensemble.EnsemblePredictor`,
:class:`~seminas.predictors.semi.SemiSupervisedPredictor` and
:class:`~seminas.controller.predictor.ControllerPredictor`; a plugin registers its own in the
``seminas.predictors`` group (:mod:`seminas.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

ENCODINGS: tuple[str, ...] = ("flat", "graph", "tokens")


@runtime_checkable
class Predictor(Protocol):
    """Fit on labeled rows, predict the search metric of any rows."""

    def fit(self, X: Any, y: np.ndarray) -> Predictor: ...

    def predict(self, X: Any) -> np.ndarray: ...


def encoding_of(predictor: Any) -> str:
    """The encoding a predictor (instance or class) consumes; ``"flat"`` when it declares none."""
    encoding = getattr(predictor, "encoding", "flat")
    if encoding is None:  # a wrapper's class: the encoding is its base's
        raise ValueError(
            f"{getattr(predictor, '__name__', type(predictor).__name__)} reads what its base "
            f"predictor reads: ask the predictor object, not its class or name"
        )
    if encoding not in ENCODINGS:
        raise ValueError(
            f"{type(predictor).__name__} declares encoding {encoding!r}: must be one of "
            f"{', '.join(ENCODINGS)}"
        )
    return encoding


def supports_pretraining(predictor: Any) -> bool:
    """Whether the predictor learns from free labels (has a ``pretrain(X, F)`` method)."""
    return callable(getattr(predictor, "pretrain", None))


# -- rows of any encoding --------------------------------------------------------------------------
def num_rows(X: Any) -> int:
    return len(X)


def take_rows(X: Any, index: Any) -> Any:
    """The rows at ``index`` (an integer array or a boolean mask)."""
    if hasattr(X, "take_rows"):
        return X.take_rows(index)
    return np.asarray(X)[np.asarray(index)]


def concat_rows(parts: Sequence[Any]) -> Any:
    """The rows of ``parts`` (all of one encoding), in order."""
    first = parts[0]
    if hasattr(first, "concat_rows"):
        return type(first).concat_rows(parts)
    return np.concatenate([np.asarray(p) for p in parts])


def repeat_rows(X: Any, times: int) -> Any:
    """``X``'s rows repeated ``times`` times (as ``np.tile`` does for an array)."""
    return concat_rows([X] * int(times))


def row_keys(X: Any) -> list[bytes]:
    """One hashable key per row: equal rows, equal keys (to find rows that are the same cell in
    the same encoding)."""
    if hasattr(X, "row_keys"):
        return X.row_keys()
    arr = np.ascontiguousarray(np.asarray(X))
    return [row.tobytes() for row in arr.reshape(len(arr), -1)]


__all__ = [
    "ENCODINGS",
    "Predictor",
    "concat_rows",
    "encoding_of",
    "num_rows",
    "repeat_rows",
    "row_keys",
    "supports_pretraining",
    "take_rows",
]
