"""A training-free score as one more input column of a search's predictor.

A filter (:mod:`seminas.strategies.score_filter`) uses a score file to say which cells may be
evaluated; this uses the same file to tell the predictor what the score says about *every* cell.
With ten labeled cells a tree ensemble cannot learn much of the cell-to-accuracy map from the
operations alone, but it can learn "accuracy grows with synflow" from a single split -- which is
what AceNAS gets from pretraining its encoder on weak labels, at the cost of one feature.

The column is the cell's score as a quantile of the file's scores (0 = the worst scored cell,
1 = the best): scale-free, so a tree and an MLP see the same thing whatever the score's units.
Cells the file does not score get 0. Reading it asks no evaluator and costs no query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seminas.strategies.base import SearchContext
from seminas.strategies.score_files import parse_file_spec, scored_catalog_rows

OPTION = "score_feature"


class ScoreColumn:
    """Each catalog cell's score quantile; :meth:`of_rows` and :meth:`of_archs` give a column."""

    def __init__(self, ctx: SearchContext, spec: str) -> None:
        catalog, rows, score = scored_catalog_rows(ctx, spec, OPTION)
        order = np.argsort(np.argsort(score, kind="stable"), kind="stable")
        quantile = order / max(len(score) - 1, 1)
        self.values = np.zeros(len(catalog), dtype=np.float64)
        self.values[rows] = quantile
        self._catalog = catalog
        self._space = ctx.space

    def of_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.values[np.asarray(rows, dtype=np.int64)]

    def of_archs(self, archs: list[Any]) -> np.ndarray:
        out = np.zeros(len(archs), dtype=np.float64)
        for i, arch in enumerate(archs):
            found = self._catalog.indices([self._space.arch_id(arch)])
            if len(found):
                out[i] = self.values[int(found[0])]
        return out


def make_column(ctx: SearchContext, spec: str) -> ScoreColumn | None:
    """The column of a strategy's ``score_feature`` option, or ``None`` for ``"none"``."""
    if parse_file_spec(spec, OPTION, "none") is None:
        return None
    return ScoreColumn(ctx, spec)


__all__ = ["OPTION", "ScoreColumn", "make_column"]
