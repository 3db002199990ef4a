"""Where a pipeline keeps what it finished: each stage (and each from-scratch training) is one
record of the common results store (``stages.jsonl``), so a resumed pipeline redoes only what
had not finished; ``config.json`` and the final results are rewritten atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.store import ResultsStore, atomic_write_text

STAGES_FILE = "stages.jsonl"
CONFIG_JSON = "config.json"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


def _stages(out: Path, kind: str) -> ResultsStore:
    return ResultsStore(
        out / STAGES_FILE, kind, key=lambda r: (str(r["stage"]), int(r["item"]))
    )


def saved(out: Path, stage: str, item: int = 0, kind: str = "mobilenet-pipeline") -> Any:
    """The stored result of ``stage`` (its ``item``-th unit), or None if it has not finished.
    ``kind`` names the pipeline (the TTS pipeline keeps its stages the same way)."""
    for record in _stages(out, kind).read(repair=True):
        if record["stage"] == stage and int(record["item"]) == item:
            return record["result"]
    return None


def save(
    out: Path, stage: str, result: Any, item: int = 0, kind: str = "mobilenet-pipeline"
) -> None:
    """Record a finished stage (or unit) durably."""
    clean = json.loads(json.dumps(result, default=_json_default))
    _stages(out, kind).append({"stage": stage, "item": item, "result": clean})


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON, replacing ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None where there is no such file."""
    return json.loads(path.read_text()) if path.is_file() else None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
