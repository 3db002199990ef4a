"""NASLib's NAS-Bench-201 tables (``nb201_cifar10_full_training.pickle`` and its siblings).

Each file is a dict from a cell to ``{dataset: info}``, the cell given as the official string or
as NASLib's six op indices. ``info`` holds one 200-epoch run: per-epoch lists ``train_acc1es``,
``train_losses``, ``eval_acc1es`` and ``eval_losses`` (NASLib's validation numbers: it answers
both its validation and its test queries from ``eval_*``), and ``cost_info`` with ``flops``,
``params``, ``latency`` and ``train_time`` (the time of one training epoch). NASLib does not
record which seed the run used, so the imported run has no seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.importers.arch_results import MAX_EPOCHS
from seminas.importers.builder import Run

# NASLib's op order and edge order (nodes numbered 1..4), as documented by NASLib.
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
_LISTS = (list, tuple, np.ndarray)


def is_cell_info(key: Any, value: Any) -> bool:
    """Whether ``(key, value)`` is one ``dataset: info`` item of a NASLib cell."""
    return (
        isinstance(key, str)
        and isinstance(value, dict)
        and isinstance(value.get("eval_acc1es"), _LISTS)
    )


def arch_string(key: Any, where: str) -> str:
    """The official string of a NASLib cell key (a string, or six op indices)."""
    if isinstance(key, str):
        return key
    if isinstance(key, (tuple, list)) and len(key) == 6:
        try:
            ops = {edge: NASLIB_OPS[int(k)] for edge, k in zip(NASLIB_EDGES, key, strict=True)}
        except (IndexError, TypeError, ValueError):
            pass
        else:
            order = sorted(ops, key=lambda e: e[1])  # by target node, then source (stable)
            parts = [f"{ops[e]}~{e[0] - 1}" for e in order]
            return "|{}|+|{}|{}|+|{}|{}|{}|".format(*parts)
    raise SeminasError(
        f"{where}: cell key {key!r:.60} is neither an architecture string nor six op indices"
    )


def _floats(values: Any, where: str, what: str) -> list[float]:
    if not isinstance(values, _LISTS):
        raise SeminasError(f"{where}: {what} is {type(values).__name__}, expected a list")
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise SeminasError(f"{where}: {what} holds {v!r:.30}, not a number") from None
    return out


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def runs_of(cell: Mapping[str, Any], where: str) -> list[Run]:
    """One seedless run per dataset of a NASLib cell."""
    runs = []
    for dataset, info in cell.items():
        here = f"{where} {dataset}"
        if not is_cell_info(dataset, info):
            raise SeminasError(f"{here}: not a NASLib result (no eval_acc1es list)")
        acc = _floats(info["eval_acc1es"], here, "eval_acc1es")
        epochs = len(acc)
        if not 0 < epochs <= MAX_EPOCHS:
            raise SeminasError(f"{here}: eval_acc1es has {epochs} epochs")
        loss = _series(info.get("eval_losses"), epochs, here, "eval_losses")
        run = Run(epochs, dataset, None, epochs)
        run.curves["valid_acc"] = acc
        run.curves["valid_loss"] = loss
        f = run.finals
        f["valid_acc"], f["valid_loss"] = acc[-1], loss[-1]
        f["train_acc"] = _series(info.get("train_acc1es"), epochs, here, "train_acc1es")[-1]
        f["train_loss"] = _series(info.get("train_losses"), epochs, here, "train_losses")[-1]
        cost = info.get("cost_info")
        if isinstance(cost, Mapping):
            f["params"] = _num(cost.get("params"))
            f["flops"] = _num(cost.get("flops"))
            f["latency"] = _num(cost.get("latency"))
            per_epoch = _num(cost.get("train_time"))
            f["train_epoch_time"] = per_epoch
            f["train_time"] = per_epoch * epochs
        runs.append(run)
    return runs


def _series(values: Any, epochs: int, where: str, what: str) -> Sequence[float]:
    if values is None:
        return [math.nan] * epochs
    out = _floats(values, where, what)
    if len(out) != epochs:
        raise SeminasError(f"{where}: {what} has {len(out)} epochs, eval_acc1es {epochs}")
    return out
