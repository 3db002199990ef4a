"""Studies: searches that survive interruption, can be shared by workers, and report progress.

A study is one search's config plus everything it produced (trials, checkpoints, timings) in a
:class:`~seminas.study.storage.Storage` -- an SQLite file by default. See
:mod:`seminas.study.runner` for how resuming and several workers stay exact.

Names are imported on first use, so ``seminas --help`` does not pay for numpy and torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "FORMAT_VERSION": "storage",
    "Checkpoint": "storage",
    "SQLiteStorage": "storage",
    "Storage": "storage",
    "StudyDiverged": "storage",
    "StudyError": "storage",
    "StudyWarning": "storage",
    "TrialRow": "storage",
    "open_storage": "storage",
    "Study": "study",
    "config_differences": "study",
    "evaluator_spec": "study",
    "make_config": "study",
    "StudyBackend": "runner",
    "WorkerStats": "runner",
    "run_study": "runner",
    "run_worker": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"seminas.study.{_EXPORTS[name]}"), name)
