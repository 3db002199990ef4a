"""Accuracy predictors and their encodings: one protocol (:mod:`~seminas.predictors.base`: ``fit``,
``predict``, the ``encoding`` a predictor reads), GBDT (GBDT-NAS), the MLP (WeakNAS), a GIN-style
graph network (:mod:`~seminas.predictors.gnn`), ensembles with an uncertainty
(:mod:`~seminas.predictors.ensemble`), SemiNAS's pseudo-labels for any predictor
(:mod:`~seminas.predictors.semi`), FBNetV3's free-label pretraining
(:mod:`~seminas.predictors.free_labels`, :mod:`~seminas.predictors.neural`), ranking losses
(:mod:`~seminas.predictors.ranking`), and the studies of how well they rank
(:mod:`seminas.experiments.predictor_study`). Submodules are imported on use (torch is heavy)."""

from seminas.predictors.gbdt import GBDTParams, GBDTPredictor

__all__ = ["GBDTParams", "GBDTPredictor"]
