"""Experiments: many independent units of work recorded in one results store
(:mod:`seminas.experiments.store`: append-only, fsynced, versioned, atomic rewrites only).

- :mod:`seminas.experiments.bench`: many seeds of strategy variants on a tabular benchmark,
  each run one job of an executor (:mod:`seminas.execution`);
- :mod:`seminas.experiments.predictor_study`: do pseudo-labels improve the predictor?
- :mod:`seminas.experiments.plan`: a whole comparison as one TOML file;
- :mod:`seminas.experiments.seeds`: seed lists (``0-99``, ``0,3,5-7``).

The MobileNet pipeline (:mod:`seminas.supernet.pipeline`) keeps its stages in the same store.
The package spans two layers (pyproject.toml, ``[tool.importlinter]``): the store, plans and
seeds below the search spaces, so any layer can record results; the bench and the predictor
study above the executors and strategies they run.
"""

from seminas.experiments.store import ResultsStore, StoreWarning, atomic_write_text

__all__ = ["ResultsStore", "StoreWarning", "atomic_write_text"]
