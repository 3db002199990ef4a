"""Random search: uniform samples of unique architectures, the baseline every method must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seminas.options import Options, opt
from seminas.strategies.base import SearchContext, Strategy


@dataclass(frozen=True)
class RandomSearchConfig(Options):
    # candidates handed to the evaluator at once (at least ctx.parallelism)
    batch_size: int = opt(10, low=1, doc="candidates handed to the evaluator at once")


class RandomSearch(Strategy):
    name = "rs"
    Config = RandomSearchConfig

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        ctx.set_phase("sampling")
        while True:
            size = max(self.config.batch_size, ctx.parallelism)
            batch = ctx.space.sample(min(size, ctx.remaining), rng, exclude=ctx.evaluated_ids)
            ctx.evaluate(batch, iteration=0)
