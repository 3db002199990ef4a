"""How values are written into any storage: JSON text for data, ``torch.save`` blobs for
checkpoints. Shared by every implementation, so a study moved from one to another reads back
the same values."""

from __future__ import annotations

import io
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seminas.benchmarks.base import Record
    from seminas.study.storage._base import TrialRow


def dumps(value: Any) -> str:
    """JSON text of ``value``; NumPy scalars and arrays become plain numbers and lists."""
    return json.dumps(value, default=_json_default, allow_nan=True, sort_keys=True)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    raise TypeError(f"cannot store a {type(value).__name__} in a study")


def to_blob(obj: Any) -> bytes:
    """A checkpoint's bytes (tensors, numbers, strings, lists and dicts)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def from_blob(blob: bytes) -> Any:
    """Read a checkpoint back with ``weights_only=True``: loading a study never runs its code."""
    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


def as_float(value: Any) -> float | None:
    """A float, or None for a missing or NaN value (stored as NULL)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def given_up_extra(final: bool, attempts: Any) -> str | None:
    """The ``extra`` JSON a failure stores when the query is given up for good (``final``): the
    ``gave_up`` flag that :attr:`TrialRow.gave_up` reads and every failed attempt; else None,
    which keeps the row's extra as it was."""
    if not final:
        return None
    return dumps({"gave_up": True, "attempts": list(attempts or [])})


def trial_values(row: TrialRow) -> dict[str, Any]:
    """The columns a proposed trial is stored with, by name (``arch`` and ``encoding`` as JSON
    text, a NaN prediction as NULL)."""
    return {
        "number": int(row.number),
        "arch_id": row.arch_id,
        "arch": dumps(row.arch),
        "encoding": dumps(list(row.encoding)),
        "iteration": int(row.iteration),
        "predicted": as_float(row.predicted),
    }


def result_values(record: Record) -> dict[str, Any]:
    """The columns a finished trial's result is stored in, by name (``extra`` as JSON text)."""
    return {
        "search_metric": float(record.search_metric),
        "report_metric": as_float(record.report_metric),
        "cost_seconds": as_float(record.cost_seconds),
        "params": None if record.params is None else int(record.params),
        "extra": dumps(record.extra or {}),
    }
