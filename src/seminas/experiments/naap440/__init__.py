"""The NAAP-440 baseline study: off-the-shelf regressors and seminas's flat-feature predictors
predicting final accuracy from architecture features and the first epochs' curves
(:mod:`.study` runs it, :mod:`.report` summarises and plots it), and the same early-training
predictor on NAS-Bench-201 and NAS-Bench-101 (:mod:`.early`, :mod:`.early_report`)."""

from seminas.experiments.naap440.study import (
    ALL_FEATURE_SETS,
    FEATURE_SETS,
    PAPER_FEATURE_SETS,
    PAPER_REGRESSORS,
    QUICK_REGRESSORS,
    REGRESSORS,
    StudyOutput,
    run_study,
)

__all__ = ["ALL_FEATURE_SETS", "FEATURE_SETS", "PAPER_FEATURE_SETS", "PAPER_REGRESSORS",
           "QUICK_REGRESSORS", "REGRESSORS", "StudyOutput", "run_study"]
