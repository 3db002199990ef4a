"""Accuracy predictors and their encodings: GBDT (GBDT-NAS), MLP (WeakNAS), and the study of
whether pseudo-labels improve them (:mod:`seminas.experiments.predictor_study`)."""

from seminas.predictors.gbdt import GBDTParams, GBDTPredictor

__all__ = ["GBDTParams", "GBDTPredictor"]
