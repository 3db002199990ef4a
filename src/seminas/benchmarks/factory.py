"""One place that turns command-line names into evaluators: the registries' look-up.

``make_evaluator("nb201", dataset="cifar10")`` is the space's tabular benchmark;
``make_evaluator("nb201", evaluator="train", data=..., epochs=2)`` the training evaluator
(:class:`seminas.training.TrainingEvaluator`); an installed plugin adds its own spaces and
evaluator kinds (see :mod:`seminas.registry`). Each kind takes the options it declares (the
space's ``table_options`` for the table), defaults filled in, and ignores the other command-line
options.
"""

from __future__ import annotations

from seminas.registry import evaluator_spec, make_evaluator
from seminas.spaces.nb101_enum import NB101_SIZE

__all__ = ["NB101_SIZE", "evaluator_spec", "make_evaluator"]
