"""WeakNAS (Wu et al., "Stronger NAS with Weaker Predictors", NeurIPS 2021).

Instead of one predictor that must rank the whole space, a sequence of weak predictors, each
fitted only on what was evaluated so far, narrows the search step by step:

1. Evaluate ``initial`` random architectures.
2. Fit a weak predictor on every evaluated architecture (flat one-hot encoding).
3. Rank the whole space with it (or ``pool`` random cells where the space cannot be listed) and
   take the predicted top ``top_m`` region; draw ``per_iteration`` architectures uniformly from
   the unevaluated cells of that region (should fewer remain, the next best-predicted cells fill
   the batch) and evaluate them.
4. Repeat 2-3 until the budget is spent.

Paper settings (its Sec. 3 and released commands): NAS-Bench-201 starts from 10 random cells and
adds 10 per iteration; NAS-Bench-101 starts from 100 and adds 10; both sample uniformly from the
predicted top 100. The weak predictor is an MLP with four hidden layers of 1,000 units trained
for 100 epochs (:class:`~seminas.predictors.mlp.MLPPredictor`); tree ensembles are a documented
alternative in the paper (``predictor="gbdt"`` here).

The weak predictor can be any flat-encoding predictor of the registry (``predictor=mlp``, ``gbdt``
or ``ensemble``: five bootstrap LightGBM models), and ``pseudo_labels = M > 0`` semi-supervises
it with SemiNAS's pseudo-labels (:mod:`seminas.strategies.predictor_fit`); both default to the
paper's plain weak predictor.

Presets: ``paper-nb201`` / ``paper-nb101`` are the paper's settings exactly. ``nb201`` (also the
defaults) and ``nb101`` keep them except for the MLP's width: four layers of 128 units, because
the 1,000-unit network costs seconds per refit on one CPU core and a 500-query search refits 49
times (hours for a 100-seed bench); on development seeds (1000-1004, NAS-Bench-201 CIFAR-10) the
narrower network found architectures as good at a twelfth of the cost (``docs/results/peers.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.options import Options, opt
from seminas.predictors.encoding import features
from seminas.strategies.base import SearchContext, Strategy
from seminas.strategies.candidates import draw_candidates, evaluate_random, rank
from seminas.strategies.predictor_fit import FLAT_PREDICTORS, fit_round_predictor

PREDICTORS = FLAT_PREDICTORS


@dataclass(frozen=True)
class WeakNASConfig(Options):
    initial: int = opt(10, low=1, doc="random architectures evaluated first")
    per_iteration: int = opt(10, low=1, doc="new architectures per iteration")
    top_m: int = opt(100, low=1, doc="size of the predicted top region the new ones come from")
    pool: int = opt(0, low=0, doc="cells ranked per iteration; 0 = the whole space if listable")
    fallback_pool: int = opt(10_000, low=1, doc="cells ranked when pool = 0 but the space "
                             "cannot be listed")
    # "mlp" (the paper's default) or "gbdt" (LightGBM, GBDT-NAS settings)
    predictor: str = opt("mlp", choices=PREDICTORS, doc="the weak predictor",
                         label="WeakNAS predictor")
    mlp_hidden: tuple[int, ...] = opt((128, 128, 128, 128), low=1, doc="MLP hidden widths")
    mlp_epochs: int = opt(100, low=1, doc="MLP training epochs per fit")
    mlp_lr: float = opt(1e-3, above=0, doc="MLP Adam learning rate")
    mlp_weight_decay: float = opt(1e-4, low=0, doc="MLP L2 penalty")
    mlp_batch_size: int = opt(200, low=1, doc="MLP mini-batch size")
    gbdt_min_data_in_leaf: int = opt(5, low=1, doc="fewest samples in a leaf (predictor gbdt)")
    pseudo_labels: int = opt(0, low=0, doc="M: unevaluated cells pseudo-labeled per fit "
                             "(0 = none, the paper)")
    upsample: int = opt(10, low=1, doc="labeled rows repeated this often next to pseudo-labels")
    pseudo_keep: float = opt(1.0, above=0, high=1, doc="share of pseudo-labels kept, the least "
                             "disputed first")


PAPER_MLP = {"mlp_hidden": (1000, 1000, 1000, 1000), "mlp_epochs": 100}
NB201 = {"initial": 10, "per_iteration": 10, "top_m": 100}
NB101 = {"initial": 100, "per_iteration": 10, "top_m": 100}


class WeakNAS(Strategy):
    name = "weaknas"
    Config = WeakNASConfig
    presets = {
        "nb201": NB201,
        "nb101": NB101,
        "paper-nb201": {**NB201, **PAPER_MLP},
        "paper-nb101": {**NB101, **PAPER_MLP},
    }

    def _fit(self, ctx: SearchContext, rng: np.random.Generator, X: np.ndarray,
             y: np.ndarray) -> Any:
        c = self.config
        gbdt = {"min_data_in_leaf": c.gbdt_min_data_in_leaf}
        options = {  # this strategy's settings of each predictor it offers
            "gbdt": gbdt,
            "ensemble": {"member": "gbdt", "members": 5, "bootstrap": True, **gbdt},
            "mlp": {
                "hidden": tuple(c.mlp_hidden),
                "epochs": c.mlp_epochs,
                "lr": c.mlp_lr,
                "weight_decay": c.mlp_weight_decay,
                "batch_size": c.mlp_batch_size,
            },
        }
        return fit_round_predictor(ctx, rng, c.predictor, options, X, y,
                                   c.pseudo_labels, c.upsample, c.pseudo_keep)

    def run(self, ctx: SearchContext, rng: np.random.Generator) -> None:
        c = self.config
        space = ctx.space
        ctx.diagnostics.setdefault("iterations", [])
        ctx.set_phase("evaluation")
        archs, ys, X = evaluate_random(ctx, rng, c.initial)
        iteration = 0
        while True:
            iteration += 1
            ctx.set_phase("training")
            model = self._fit(ctx, rng, X, np.asarray(ys))
            ctx.set_phase("prediction")
            pool = draw_candidates(ctx, rng, c.pool, c.fallback_pool)
            scores = model.predict(pool.features)
            order = rank(scores, rng)
            quota = min(c.per_iteration, ctx.remaining)
            region = order[: c.top_m]
            region = region[~pool.evaluated[region]]
            if len(region) >= quota:
                picks = rng.choice(region, size=quota, replace=False)
            else:  # the region is (nearly) exhausted: the next best-predicted cells fill up
                rest = order[c.top_m :]
                rest = rest[~pool.evaluated[rest]][: quota - len(region)]
                picks = np.concatenate([region, rest])
            ctx.diagnostics["iterations"].append(
                {"iteration": iteration, "labeled": len(ys), "region_unevaluated": len(region)}
            )
            new = [pool.arch(i) for i in picks]
            evaluated = ctx.evaluate(new, iteration=iteration, predicted=scores[picks])
            for arch, record in evaluated:
                archs.append(arch)
                ys.append(record.search_metric)
            X = np.concatenate([X, features(space, [a for a, _ in evaluated])])
