"""Real training: data, the recipe, and the evaluator that trains architectures.

``from seminas.training import TrainingEvaluator, Recipe, load_image_data``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ImageData": "data",
    "load_image_data": "data",
    "split_validation": "data",
    "augment": "data",
    "normalise": "data",
    "Recipe": "recipe",
    "TrainOutcome": "recipe",
    "train_network": "recipe",
    "NonFiniteLoss": "recipe",
    "TrainingEvaluator": "evaluator",
    "TrainRequest": "evaluator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"seminas.training.{_EXPORTS[name]}"), name)
