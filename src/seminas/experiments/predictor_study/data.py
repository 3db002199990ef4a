"""The data of a predictor study: the NAS-Bench-101 subset's cells (features, tokens,
accuracies) and the enumerated cells outside it, which are the unlabeled candidates."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.progress import Progress


@dataclass
class StudyData:
    """The subset's cells (features, tokens, accuracies) and the unlabeled candidates."""

    y: np.ndarray  # search metric of each subset cell (%)
    features: np.ndarray  # GBDT features of each subset cell
    tokens: np.ndarray  # controller tokens of each subset cell
    enumeration: Any
    outside: np.ndarray  # enumeration indices of the cells not in the subset

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike | None = None,
        progress: Progress | None = None,
        enumeration: Any | None = None,
    ) -> StudyData:
        """The subset from ``data_dir`` and the enumerated space (``enumeration``, default: the
        cached one, built on first use, reporting to ``progress``)."""
        from seminas.benchmarks.nb101 import NB101SubsetBenchmark
        from seminas.predictors.encoding import (
            nb101_enumeration_features,
            nb101_enumeration_tokens,
        )
        from seminas.spaces.nb101_enum import load_or_build

        bench = NB101SubsetBenchmark(data_dir=data_dir)
        enum = enumeration if enumeration is not None else load_or_build(progress=progress)
        idx = enum.indices_of(bench.hashes)
        if np.any(idx < 0):
            raise SeminasError(
                f"{int(np.sum(idx < 0))} cells of {bench.path} are not in the NAS-Bench-101 space; "
                f"restore the file (`seminas data check`)"
            )
        y = np.asarray([r.search_metric for r in bench.records()], dtype=np.float64)
        outside = np.setdiff1d(np.arange(len(enum)), idx)
        return cls(
            y,
            nb101_enumeration_features(enum, idx),
            nb101_enumeration_tokens(enum, idx),
            enum,
            outside,
        )
