"""Where a TTS pipeline keeps what it finished: the common results store of the MobileNet
pipeline (``stages.jsonl``, one record per stage or unit), under its own kind, so a resumed run
redoes only what had not finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seminas.supernet.pipeline.store import read_json, write_json
from seminas.supernet.pipeline.store import save as _save
from seminas.supernet.pipeline.store import saved as _saved

KIND = "tts-pipeline"
CONFIG_JSON = "config.json"
RESULTS_JSON = "results.json"
RESULTS_MD = "README.md"

__all__ = ["CONFIG_JSON", "RESULTS_JSON", "RESULTS_MD", "read_json", "save", "saved",
           "write_json"]


def saved(out: Path, stage: str, item: int = 0) -> Any:
    """The stored result of ``stage`` (its ``item``-th unit), or None."""
    return _saved(out, stage, item, kind=KIND)


def save(out: Path, stage: str, result: Any, item: int = 0) -> None:
    """Record a finished stage (or unit) durably."""
    _save(out, stage, result, item, kind=KIND)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file renamed over ``path``: a kill leaves the old file or
    the new one, never half of one."""
    import os

    import torch

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
