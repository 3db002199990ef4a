"""Experiments: many independent units of work (bench runs, predictor-study cells, pipeline
stages) recorded in one results store (:mod:`seminas.experiments.store`)."""

from seminas.experiments.store import ResultsStore, StoreWarning, atomic_write_text

__all__ = ["ResultsStore", "StoreWarning", "atomic_write_text"]
