"""A hill climber with random restarts: works on any seminas space (it only uses neighbours)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seminas.strategies import SearchContext, Strategy


@dataclass(frozen=True)
class HillClimbConfig:
    initial: int = 4  # random architectures evaluated first
    batch_size: int = 4  # unevaluated neighbours of the current architecture per step


class HillClimb(Strategy):
    name = "toy-hill"  # the entry point's name: studies rebuild the strategy by it
    Config = HillClimbConfig
    presets = {"toy": {"initial": 4, "batch_size": 4}, "nb201": {"initial": 10, "batch_size": 8}}

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        c = self.config
        ctx.set_phase("initial sample")
        first = ctx.evaluate(ctx.space.sample(min(c.initial, ctx.remaining), rng), iteration=0)
        current, score = max(first, key=lambda pair: pair[1].search_metric)
        score = score.search_metric
        step = 0
        ctx.set_phase("climbing")
        while True:
            step += 1
            fresh = [n for n in ctx.space.neighbours(current) if not ctx.is_evaluated(n)]
            restart = not fresh  # the neighbourhood is spent: climb again from a random cell
            if restart:
                fresh = ctx.space.sample(1, rng, exclude=ctx.evaluated_ids)
            picks = rng.permutation(len(fresh))[: max(c.batch_size, ctx.parallelism)]
            done = ctx.evaluate([fresh[int(i)] for i in picks], iteration=step)
            if not done:
                continue
            arch, record = max(done, key=lambda pair: pair[1].search_metric)
            if restart or record.search_metric > score:
                current, score = arch, record.search_metric
