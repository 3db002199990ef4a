"""The training-free score study on NAS-Bench-201: how well DAS, NASWOT and synflow rank a
fixed random sample of cells (:mod:`.study` runs it, :mod:`.report` summarises and plots it)."""

from seminas.experiments.zero_cost.study import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CELLS,
    NETWORKS,
    StudyOutput,
    StudySettings,
    run_study,
    sample_cells,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CELLS",
    "NETWORKS",
    "StudyOutput",
    "StudySettings",
    "run_study",
    "sample_cells",
]
