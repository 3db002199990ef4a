"""Regularized (aging) evolution, Real et al., AAAI 2019.

Cycle: sample a tournament from the population, mutate the fittest of it, evaluate the child, add
it and remove the oldest member. Settings per space:

- NAS-Bench-201: population 10, tournament 3 -- the REA setting of the NAS-Bench-201 paper
  (Dong & Yang, ICLR 2020, Sec. 5).
- NAS-Bench-101: population 50, tournament 10, mutation rate 0.5 per cell -- the evolution example
  published with NAS-Bench-101 (Ying et al., ICML 2019); the mutation operator is
  :meth:`seminas.spaces.nb101.NB101Space.mutate`.

One departure, documented because it only helps the baseline: a child whose canonical id was
already evaluated is re-drawn (up to ``max_redraws`` times) instead of spending a query on a
duplicate.

Parallel evaluation: with ``ctx.parallelism`` p > 1 (p workers), each cycle draws p children
from p tournaments of the same population and evaluates them together, then ages the population
by each child in query order (a batched variant, as asynchronous evolution keeps p workers busy;
with p = 1 it is exactly the serial algorithm). A child whose evaluation failed is not added.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from seminas.options import Options, opt, refuse
from seminas.strategies.base import SearchContext, Strategy


@dataclass(frozen=True)
class EvolutionConfig(Options):
    population_size: int = opt(10, low=1, doc="architectures kept alive (the oldest dies)")
    tournament_size: int = opt(3, low=1, doc="members sampled; the fittest is mutated")
    max_redraws: int = opt(50, low=0, doc="mutations tried for a new child before a random cell")

    def _check(self) -> None:
        if self.tournament_size > self.population_size:
            raise refuse(
                "tournament_size",
                self.tournament_size,
                f"at most population_size ({self.population_size})",
            )


class RegularizedEvolution(Strategy):
    name = "re"
    Config = EvolutionConfig
    presets = {
        "nb201": {"population_size": 10, "tournament_size": 3},
        "nb101": {"population_size": 50, "tournament_size": 10},
    }

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        cfg = self.config
        space = ctx.space
        ctx.set_phase("initial population")
        population: deque = deque()
        initial = space.sample(min(cfg.population_size, ctx.remaining), rng)
        for arch, record in ctx.evaluate(initial, iteration=0):
            population.append((arch, record.search_metric))
        ctx.set_phase("evolution")
        cycle = 0
        while True:
            cycle += 1
            children: list = []
            taken: set[str] = set()
            for _ in range(min(ctx.parallelism, ctx.remaining)):
                if not population:  # every evaluation so far failed: start from a random cell
                    children.append(space.sample(1, rng, exclude=ctx.evaluated_ids | taken)[0])
                else:
                    k = min(cfg.tournament_size, len(population))
                    picks = rng.choice(len(population), size=k, replace=False)
                    parent = max((population[int(i)] for i in picks), key=lambda p: p[1])[0]
                    children.append(self._child(space, parent, ctx, rng, taken))
                taken.add(space.arch_id(children[-1]))
            for arch, record in ctx.evaluate(children, iteration=cycle):
                population.append((arch, record.search_metric))
                if len(population) > cfg.population_size:
                    population.popleft()

    def _child(
        self, space, parent, ctx: SearchContext, rng: np.random.Generator, taken: set[str]
    ):
        """A mutant of ``parent`` that is new and inside the space; after ``max_redraws``
        failures (e.g. a space cut down to a partial table), a fresh random unseen cell.
        ``taken``: ids of this cycle's other children."""
        for _ in range(self.config.max_redraws):
            child = space.mutate(parent, rng)
            if (
                space.try_validate(child) is not None
                and not ctx.is_evaluated(child)
                and space.arch_id(child) not in taken
            ):
                return child
        return space.sample(1, rng, exclude=ctx.evaluated_ids | taken)[0]

