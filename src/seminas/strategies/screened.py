"""Searches whose moves are screened by a predictor before a query is spent on them.

Both take SemiNAS's view that a predictor is nearly free next to an evaluation, and spend it on
*choosing among local moves* rather than on ranking the whole space at once (which is where the
controller and the one-shot peers lose order, see ``docs/results/peers.md``):

- ``predictor-ls`` -- **iterated local search with a screening predictor.** Evaluate ``initial``
  random cells. Each round, fit the predictor on everything evaluated, predict every unevaluated
  neighbour (one edit) of the current local search's best cell and evaluate the
  ``per_iteration`` best-predicted ones. When the best cell has no unevaluated neighbour left it
  is a local optimum: the search restarts from the predictor's best unevaluated cell at least
  ``restart_distance`` edits away from every local optimum found so far. Local search alone is a
  strong NAS-Bench baseline (White, Nolen, Hutter, "Exploring the loss landscape in neural
  architecture search", UAI 2021); the predictor decides the order in which neighbours are
  tried and where to restart.
- ``semi-predictor-ls`` -- the same with SemiNAS's step in every fit (Luo et al., NeurIPS
  2020): the fitted predictor pseudo-labels ``pseudo_labels`` random unevaluated cells and is
  refit on the labeled rows repeated ``upsample`` times plus the pseudo-labeled ones.
- ``predictor-re`` -- **regularized evolution with screened children** (Real et al., AAAI 2019,
  plus the screening): each child is the best-predicted unevaluated neighbour of its tournament
  winner, instead of one random mutation.

The predictor is any flat-feature predictor of the registry (``gbdt`` -- LightGBM -- by
default, ``mlp``). A neighbourhood is the space's ``neighbours(arch)`` where it defines one,
else ``mutations`` distinct mutants. Distances for restarts are counted in changed positions of
the flat encoding (one edit of a NAS-Bench-201 cell = one position).

``score_filter=file:PATH#name`` (with ``filter_keep``) restricts all three to the best share of
cells by a training-free score file (:mod:`seminas.strategies.score_filter`): no query is spent
on it, and on NAS-Bench-201 CIFAR-10 a synflow filter brought ``predictor-ls`` to the validation
optimum in 54.1 queries on average instead of 67.8 (``docs/results/zero-cost/filter``).
``score_feature=file:PATH#name`` gives the predictor the same score as one more input column
(:mod:`seminas.strategies.score_feature`). Development seeds 1000-1039, CIFAR-10, budget 200,
``semi-predictor-ls`` with the synflow filter: mean queries to the validation optimum 52.6
without the column, 43.1 with it (31 instead of 26 of 40 runs there by 50 queries), 32.8 with
it and ``filter_keep`` 0.1. That last setting on the reported seeds 0-99 (three datasets, 500
queries): the search-metric optimum in 300 of 300 runs after 40.7 / 46.9 / 44.5 queries
(``docs/results/zero-cost/filter``).

Settings (the ``nb201`` preset = the defaults) were chosen on development seeds 1000-1019,
NAS-Bench-201 CIFAR-10, budget 500, by the queries needed to reach the validation optimum
(``docs/results/screened.md``); the reported seeds 0-99 were never used to choose them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.options import Options, opt, refuse
from seminas.predictors.encoding import features
from seminas.registry import make_predictor
from seminas.strategies.base import SearchContext, Strategy
from seminas.strategies.candidates import (
    draw_candidates,
    evaluate_random,
    rank,
    unevaluated_moves,
)
from seminas.strategies.score_feature import ScoreColumn, make_column
from seminas.strategies.score_files import FILE_PATTERN
from seminas.strategies.score_filter import ScoreFilter, make_filter

FLAT_PREDICTORS = ("gbdt", "mlp")


@dataclass(frozen=True)
class ScreenedConfig(Options):
    initial: int = opt(10, low=1, doc="random architectures evaluated first")
    per_iteration: int = opt(5, low=1, doc="best-predicted moves evaluated per round")
    predictor: str = opt("gbdt", choices=FLAT_PREDICTORS, doc="the screening predictor",
                         label="screening predictor")
    gbdt_min_data_in_leaf: int = opt(2, low=1, doc="fewest samples in a leaf (predictor gbdt)")
    mlp_hidden: tuple[int, ...] = opt((128, 128, 128, 128), low=1, doc="MLP hidden widths")
    mlp_epochs: int = opt(100, low=1, doc="MLP training epochs per fit")
    pseudo_labels: int = opt(0, low=0, doc="M: unevaluated cells pseudo-labeled per fit "
                             "(0 = none)")
    upsample: int = opt(10, low=1, doc="labeled rows repeated this often next to pseudo-labels")
    mutations: int = opt(64, low=1, doc="mutants drawn as the neighbourhood where the space "
                         "lists no neighbours")
    pool: int = opt(0, low=0, doc="cells ranked for a restart; 0 = the whole space if listable")
    fallback_pool: int = opt(10_000, low=1, doc="cells ranked for a restart when pool = 0 but "
                             "the space cannot be listed")
    score_filter: str = opt("none", doc="a training-free score file: only its best filter_keep "
                            "share of cells is ever evaluated (none: no filter)",
                            pattern="none|" + FILE_PATTERN,
                            pattern_text="'none' or 'file:PATH#name' (a score file, e.g. from "
                            "`seminas zero-cost study`)")
    filter_keep: float = opt(0.25, above=0, high=1, doc="share of the scored cells the filter "
                             "keeps")
    score_feature: str = opt("none", doc="a training-free score file whose score (as a "
                             "quantile) is one more input of the predictor (none: no column)",
                             pattern="none|" + FILE_PATTERN,
                             pattern_text="'none' or 'file:PATH#name' (a score file, e.g. from "
                             "`seminas zero-cost study`)")


@dataclass(frozen=True)
class ScreenedLSConfig(ScreenedConfig):
    restart_distance: int = opt(2, low=1, doc="edits a restart keeps from every local optimum")


@dataclass(frozen=True)
class ScreenedREConfig(ScreenedConfig):
    population_size: int = opt(10, low=1, doc="architectures kept alive (the oldest dies)")
    tournament_size: int = opt(3, low=1, doc="members sampled; the fittest is the parent")

    def _check(self) -> None:
        if self.tournament_size > self.population_size:
            raise refuse("tournament_size", self.tournament_size,
                         f"at most population_size ({self.population_size})")


class _Screened(Strategy):
    """What both searches share: the predictor of a round and the neighbourhood of a cell."""

    Config = ScreenedConfig
    _filter: ScoreFilter | None = None
    _column: ScoreColumn | None = None

    def _start(self, ctx: SearchContext, rng: np.random.Generator,
               ) -> tuple[list[Any], list[float], np.ndarray]:
        """Read the score filter (if any; no query) and evaluate the first random cells."""
        c = self.config
        self._filter = make_filter(ctx, c.score_filter, c.filter_keep)
        if self._filter is not None:
            ctx.diagnostics["score_filter"] = {"file": c.score_filter, "keep": c.filter_keep,
                                               "cells_allowed": self._filter.kept}
        self._column = make_column(ctx, c.score_feature)
        ctx.set_phase("evaluation")
        draw = None if self._filter is None else self._filter.sample
        return evaluate_random(ctx, rng, c.initial, draw)

    def _inputs(self, F: np.ndarray, archs: list[Any] | None = None,
                rows: np.ndarray | None = None) -> np.ndarray:
        """What the predictor sees of cells with flat features ``F``: ``F`` itself, or with
        ``score_feature`` one more column, the cells' score (by catalog ``rows`` where known)."""
        if self._column is None:
            return F
        column = self._column.of_rows(rows) if rows is not None else self._column.of_archs(
            list(archs or []))
        return np.column_stack([F, column])

    def _predict(self, model: Any, ctx: SearchContext, archs: list[Any]) -> np.ndarray:
        return model.predict(self._inputs(features(ctx.space, archs), archs))

    def _fit(self, ctx: SearchContext, rng: np.random.Generator, X: np.ndarray,
             y: np.ndarray, archs: list[Any]) -> Any:
        """The round's predictor, fitted on the evaluated cells (flat features ``X`` of
        ``archs``) and, with ``pseudo_labels``, on pseudo-labeled unevaluated ones."""
        c = self.config
        X = self._inputs(X, archs)
        options = {
            "gbdt": {"min_data_in_leaf": c.gbdt_min_data_in_leaf},
            "mlp": {"hidden": tuple(c.mlp_hidden), "epochs": c.mlp_epochs},
        }[c.predictor]
        ctx.set_phase("training")
        teacher = make_predictor(c.predictor, seed=int(rng.integers(2**31 - 1)), **options)
        teacher.fit(X, y)
        if c.pseudo_labels <= 0:
            return teacher
        ctx.set_phase("pseudo-labeling")
        unlabeled = draw_candidates(ctx, rng, c.pseudo_labels, c.pseudo_labels)
        fresh = ~unlabeled.evaluated  # never an evaluated cell
        U = self._inputs(unlabeled.features[fresh], [unlabeled.arch(i) for i in
                                                     np.flatnonzero(fresh)]
                         if unlabeled.rows is None else None,
                         None if unlabeled.rows is None else unlabeled.rows[fresh])
        X_mix = np.concatenate([np.tile(X, (c.upsample, 1)), U])
        y_mix = np.concatenate([np.tile(y, c.upsample), teacher.predict(U)])
        ctx.set_phase("training")
        student = make_predictor(c.predictor, seed=int(rng.integers(2**31 - 1)), **options)
        return student.fit(X_mix, y_mix)

    def _neighbours(self, ctx: SearchContext, rng: np.random.Generator, arch: Any) -> list[Any]:
        """The unevaluated, valid one-edit moves from ``arch`` that the filter allows, each once,
        in a fixed order."""
        moves = unevaluated_moves(ctx, arch, rng, self.config.mutations)
        return moves if self._filter is None else self._filter.allowed_of(moves)


def _distance(F: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Fewest changed positions (half the L1 distance of flat encodings) to any anchor row,
    one anchor at a time (a row-by-anchor-by-feature array would not fit for large pools)."""
    out = np.full(F.shape[0], np.inf)
    for anchor in anchors:
        np.minimum(out, np.abs(F - anchor).sum(axis=1) / 2.0, out=out)
    return out


class _FarFromOptima:
    """Each pool row's distance to the nearest local optimum found so far. The pool is usually
    the same catalog every restart, so the distances are kept and only the new optima are
    measured (a restart costs one pass over the pool, not one per optimum)."""

    def __init__(self) -> None:
        self._pool: np.ndarray | None = None
        self._done = 0
        self._distance: np.ndarray | None = None

    def __call__(self, pool: np.ndarray, optima: np.ndarray) -> np.ndarray:
        if self._pool is not pool or self._distance is None:
            self._pool, self._done = pool, 0
            self._distance = np.full(pool.shape[0], np.inf)
        if len(optima) > self._done:
            np.minimum(self._distance, _distance(pool, optima[self._done:]), out=self._distance)
            self._done = len(optima)
        return self._distance


class ScreenedLocalSearch(_Screened):
    name = "predictor-ls"
    Config = ScreenedLSConfig
    presets = {"nb201": {}}

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        c = self.config
        space = ctx.space
        ctx.diagnostics.setdefault("iterations", [])
        archs, ys, X = self._start(ctx, rng)
        best = int(np.argmax(ys))  # the current local search's best (index into archs)
        optima: list[np.ndarray] = []  # flat encodings of the local optima found
        far_from = _FarFromOptima()
        iteration = 0
        while True:
            iteration += 1
            model = self._fit(ctx, rng, X, np.asarray(ys), archs)
            ctx.set_phase("prediction")
            moves = self._neighbours(ctx, rng, archs[best])
            restart = not moves
            if restart:  # a local optimum: restart from the predictor's best far-away cell
                optima.append(X[best])
                new, scores = self._restart(ctx, rng, model, np.stack(optima), far_from)
            else:
                predicted = self._predict(model, ctx, moves)
                order = rank(predicted, rng)[: min(c.per_iteration, ctx.remaining)]
                new, scores = [moves[i] for i in order], predicted[order]
            ctx.diagnostics["iterations"].append({
                "iteration": iteration, "labeled": len(ys), "restart": restart,
                "local_optima": len(optima),
            })
            ctx.set_phase("evaluation")
            evaluated = ctx.evaluate(new, iteration=iteration, predicted=scores)
            start = len(archs)
            for arch, record in evaluated:
                archs.append(arch)
                ys.append(record.search_metric)
            if restart:  # the restart cell leads its own local search (if it was evaluated)
                best = start if evaluated else int(np.argmax(ys))
            for j in range(start, len(archs)):
                if ys[j] > ys[best]:
                    best = j
            X = np.concatenate([X, features(space, [a for a, _ in evaluated])])

    def _restart(self, ctx: SearchContext, rng: np.random.Generator, model: Any,
                 optima: np.ndarray, far_from: _FarFromOptima) -> tuple[list[Any], np.ndarray]:
        c = self.config
        pool = draw_candidates(ctx, rng, c.pool, c.fallback_pool)
        inputs = self._inputs(pool.features, None if pool.rows is not None else
                              [pool.arch(i) for i in range(len(pool))], pool.rows)
        scores = np.where(pool.evaluated, -np.inf, model.predict(inputs))
        if self._filter is not None:
            allowed = self._filter.allowed_rows(pool.rows, (pool.arch(i) for i in range(len(pool))))
            if np.isfinite(scores[allowed]).any():  # else every allowed cell is evaluated
                scores = np.where(allowed, scores, -np.inf)
        far = far_from(pool.features, optima) >= c.restart_distance
        if np.isfinite(scores[far]).any():
            scores = np.where(far, scores, -np.inf)
        pick = int(rank(scores, rng)[0])
        return [pool.arch(pick)], scores[[pick]]


class SemiScreenedLocalSearch(ScreenedLocalSearch):
    """``predictor-ls`` whose predictor is refit on pseudo-labeled cells too (SemiNAS's step)."""

    name = "semi-predictor-ls"
    presets = {"nb201": {"pseudo_labels": 1000, "upsample": 10}}


class ScreenedEvolution(_Screened):
    name = "predictor-re"
    Config = ScreenedREConfig
    presets = {"nb201": {}}

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        c = self.config
        space = ctx.space
        archs, ys, X = self._start(ctx, rng)
        population: deque = deque(range(len(archs)))  # indices into archs, oldest first
        while len(population) > c.population_size:
            population.popleft()
        cycle = 0
        while True:
            cycle += 1
            model = self._fit(ctx, rng, X, np.asarray(ys), archs)
            ctx.set_phase("prediction")
            children: list[Any] = []
            predicted: list[float] = []
            taken: set[str] = set()
            for _ in range(min(c.per_iteration, ctx.remaining)):
                k = min(c.tournament_size, len(population))
                picks = rng.choice(len(population), size=k, replace=False)
                parent = max((population[int(i)] for i in picks), key=lambda i: ys[i])
                moves = [m for m in self._neighbours(ctx, rng, archs[parent])
                         if space.arch_id(m) not in taken]
                if not moves and self._filter is not None:
                    moves = self._filter.sample(ctx, rng, 1, exclude=taken)
                if not moves:  # a parent with every neighbour evaluated: a fresh random cell
                    moves = space.sample(1, rng, exclude=ctx.evaluated_ids | taken)
                scores = self._predict(model, ctx, moves)
                best = int(rank(scores, rng)[0])
                children.append(moves[best])
                predicted.append(float(scores[best]))
                taken.add(space.arch_id(moves[best]))
            ctx.set_phase("evaluation")
            evaluated = ctx.evaluate(children, iteration=cycle, predicted=np.asarray(predicted))
            for arch, record in evaluated:
                archs.append(arch)
                ys.append(record.search_metric)
                population.append(len(archs) - 1)
                if len(population) > c.population_size:
                    population.popleft()
            X = np.concatenate([X, features(space, [a for a, _ in evaluated])])
