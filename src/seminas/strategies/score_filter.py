"""A training-free score as a cheap filter inside a predictor-based search.

Issue 17 asks for the best training-free score "as a cheap filter inside a predictor-based
search". The filter shrinks the space a search walks in: only the best ``keep`` fraction of the
space's cells by a score file (:mod:`seminas.strategies.score_files`, e.g. the synflow column
of ``seminas zero-cost study --cells all --scores synflow``) may be evaluated -- the first random
cells, the moves and the restarts alike. The file is read once per search and asks no evaluator,
so it costs no query; what it cost to compute is the score study's CPU time, paid once per space
and reported there.

Cells the file does not score are kept (the filter only removes what it knows to be poor);
ties at the threshold are all kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seminas.strategies.base import SearchContext
from seminas.strategies.score_files import parse_file_spec, scored_catalog_rows

OPTION = "score_filter"


class ScoreFilter:
    """Which catalog rows a search may evaluate; :meth:`allows` asks it of one architecture."""

    def __init__(self, ctx: SearchContext, spec: str, keep: float) -> None:
        catalog, rows, score = scored_catalog_rows(ctx, spec, OPTION)
        threshold = np.quantile(score, 1.0 - float(keep), method="higher")
        self.allowed = np.ones(len(catalog), dtype=bool)
        self.allowed[rows] = score >= threshold
        self._catalog = catalog
        self._space = ctx.space
        self.kept = int(self.allowed.sum())

    def allows(self, arch: Any) -> bool:
        rows = self._catalog.indices([self._space.arch_id(arch)])
        return bool(len(rows) == 0 or self.allowed[int(rows[0])])

    def allowed_rows(self, rows: np.ndarray | None, archs: Any) -> np.ndarray:
        """A boolean per candidate: by catalog ``rows`` where known, else cell by cell."""
        if rows is not None:
            return self.allowed[np.asarray(rows, dtype=np.int64)]
        return np.array([self.allows(a) for a in archs], dtype=bool)

    def allowed_of(self, archs: list[Any]) -> list[Any]:
        """The allowed ones of ``archs``, in their order."""
        return [a for a in archs if self.allows(a)]

    def sample(self, ctx: SearchContext, rng: np.random.Generator, n: int,
               exclude: set[str] | frozenset[str] = frozenset()) -> list[Any]:
        """``n`` distinct random unevaluated cells among the allowed ones (fewer if fewer
        remain); ids in ``exclude`` are left out too."""
        taken = self._catalog.mask(set(ctx.evaluated_ids) | set(exclude))
        free = np.flatnonzero(self.allowed & ~taken)
        pick = rng.choice(free, size=min(int(n), len(free)), replace=False)
        return [self._catalog.arch(int(i)) for i in pick]


def make_filter(ctx: SearchContext, spec: str, keep: float) -> ScoreFilter | None:
    """The filter of a strategy's ``score_filter`` option, or ``None`` for ``"none"``."""
    if parse_file_spec(spec, OPTION, "none") is None:
        return None
    return ScoreFilter(ctx, spec, keep)


__all__ = ["OPTION", "ScoreFilter", "make_filter"]
