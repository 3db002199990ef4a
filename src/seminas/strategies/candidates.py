"""The candidates a predictor-based search ranks each round, and a tie-safe ranking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.predictors.catalog import catalog_for
from seminas.predictors.encoding import features
from seminas.strategies.base import SearchContext


@dataclass
class Candidates:
    """Rows to score: ``features[i]`` and whether candidate ``i`` was evaluated already."""

    features: np.ndarray
    evaluated: np.ndarray
    _arch: Callable[[int], Any]
    rows: np.ndarray | None = None  # each candidate's catalog row, where the space lists cells

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def arch(self, i: int) -> Any:
        return self._arch(int(i))


def draw_candidates(
    ctx: SearchContext, rng: np.random.Generator, size: int, fallback: int
) -> Candidates:
    """``size`` random unevaluated cells, or with ``size <= 0`` the whole space (evaluated cells
    included and flagged) when the space can list it, else ``fallback`` random unevaluated
    cells."""
    catalog = catalog_for(ctx.space)
    if catalog is not None:
        seen = catalog.mask(ctx.evaluated_ids)
        fresh = np.flatnonzero(~seen)
        if size <= 0 or size >= len(fresh):
            return Candidates(catalog.features, seen, catalog.arch, np.arange(len(catalog)))
        idx = np.sort(rng.choice(fresh, size=size, replace=False))
        return Candidates(catalog.features[idx], np.zeros(size, dtype=bool),
                          lambda i: catalog.arch(idx[i]), idx)
    count = size if size > 0 else fallback
    count = min(count, _unseen(ctx, count))
    archs = ctx.space.sample(count, rng, exclude=ctx.evaluated_ids)
    return Candidates(features(ctx.space, archs), np.zeros(len(archs), dtype=bool),
                      archs.__getitem__)


def _unseen(ctx: SearchContext, wanted: int) -> int:
    size = ctx.space.size
    return wanted if size is None else max(0, min(wanted, size - len(ctx.evaluated_ids)))


def rank(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices by decreasing score; ties broken at random (a constant predictor, e.g. a tree
    ensemble that could not split yet, must not favour the space's listing order)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.lexsort((rng.random(len(scores)), -scores))


def evaluate_random(
    ctx: SearchContext, rng: np.random.Generator, n: int,
    draw: Callable[[SearchContext, np.random.Generator, int], list[Any]] | None = None,
) -> tuple[list[Any], list[float], np.ndarray]:
    """Evaluate ``n`` random architectures (at least one, at most the remaining budget): the
    first labeled set of a predictor-based search. Returns them, their scores and features.
    ``draw(ctx, rng, count)``: where they come from (default: the space's uniform sample)."""
    archs, ys = [], []
    count = min(max(n, 1), ctx.remaining)
    sample = ctx.space.sample(count, rng) if draw is None else draw(ctx, rng, count)
    for arch, record in ctx.evaluate(sample, iteration=0):
        archs.append(arch)
        ys.append(record.search_metric)
    return archs, ys, features(ctx.space, archs)


def unevaluated_moves(
    ctx: SearchContext,
    arch: Any,
    rng: np.random.Generator,
    mutations: int,
    seen: set[str] | None = None,
) -> list[Any]:
    """The unevaluated, valid one-edit moves from ``arch`` (the space's ``neighbours``, else
    ``mutations`` random mutations), each once, in a fixed order; ids in ``seen`` are left out
    and the new ones added to it."""
    space = ctx.space
    listed = getattr(space, "neighbours", None)
    if callable(listed):
        moves = listed(arch)
    else:
        moves = [space.mutate(arch, rng) for _ in range(mutations)]
    seen = set() if seen is None else seen
    out = []
    for move in moves:
        if space.try_validate(move) is None or ctx.is_evaluated(move):
            continue
        key = space.arch_id(move)
        if key not in seen:
            seen.add(key)
            out.append(move)
    return out
