"""PONAS (Huang & Chu, "PONAS: Progressive One-shot Neural Architecture Search for Very
Efficient Deployment", IJCNN 2021 / arXiv 2003.05112) on the NAS-Bench-201 supernet.

PONAS's idea: while searching, build a table of the validation accuracy of every candidate
block at every layer; a network for any hardware constraint is then read off the table in
seconds, picking the candidates that lose least accuracy within the limit. Here a "layer" is a
cell edge and a "block" one of its five operations:

1. meta training: single-path one-shot training of the whole supernet (uniform paths), with the
   MobileNet supernet's trainer (:class:`seminas.supernet.train.SupernetTrainer`);
2. progressive fine-tuning and tabulation, edge by edge: fine-tune with the current edge's
   operation drawn uniformly, the edges already tabulated drawn from their ``keep`` best
   operations and the later edges uniformly; then row ``e`` of the table is the held-out
   accuracy (batch norms recalibrated by :func:`seminas.supernet.train.recalibrate_bn`) of
   each operation on edge ``e``, averaged over ``contexts`` paths for the other edges that all
   five operations share (a paired comparison);
3. deployment: :func:`select` maximises the summed table accuracy over all 5^6 cells whose
   standalone network (benchmark size: 16 channels, 5 cells per stage) has at most
   ``max_params`` parameters -- exact and far under a second.

The progressive narrowing (``keep``) and the paired contexts are our reading of the paper's
two-stage scheme at this scale; see docs/oneshot.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product

import numpy as np
import torch

from seminas.errors import SeminasError
from seminas.oneshot.common import (
    Clock,
    SearchData,
    SearchOutcome,
    SearchSettings,
    new_supernet,
    set_threads,
    total_steps,
)
from seminas.oneshot.supernet import network_params
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.nb201 import NUM_EDGES, OPS, NB201Arch

NUM_OPS = len(OPS)


@dataclass(frozen=True)
class PonasSettings(SearchSettings):
    epochs: float = 40.0  # meta training, over the weights' half (about 4 CPU minutes in all)
    lr: float = 0.05  # single-path SGD (cosine over all PONAS steps)
    weight_decay: float = 5e-4
    finetune_steps: int = 150  # per edge
    keep: int = 2  # operations kept for each tabulated edge while later edges are tuned
    contexts: int = 3  # paths of the other edges each table entry is averaged over
    eval_images: int = 500  # held-out images per table entry
    calib_batches: int = 2
    max_params: float | None = None  # limit for the reported cell, millions at benchmark size

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= int(self.keep) <= NUM_OPS:
            raise SeminasError(f"PONAS keep must be 1..{NUM_OPS}, got {self.keep}")
        if int(self.contexts) < 1 or int(self.eval_images) < 1 or int(self.finetune_steps) < 0:
            raise SeminasError("PONAS needs contexts >= 1, eval_images >= 1, finetune_steps >= 0")


# -- deployment: read a cell off the table --------------------------------------------------------
def _all_choices() -> np.ndarray:
    return np.array(list(product(range(NUM_OPS), repeat=NUM_EDGES)), dtype=np.int64)


def op_params(channels: int = 16, cells_per_stage: int = 5) -> tuple[int, np.ndarray]:
    """Parameters of the all-``none`` network and what each operation adds on one edge."""
    base = network_params((0,) * NUM_EDGES, channels, cells_per_stage)
    extra = np.array([
        network_params((o,) + (0,) * (NUM_EDGES - 1), channels, cells_per_stage) - base
        for o in range(NUM_OPS)
    ])
    return base, extra


def select(table: np.ndarray, max_params: float | None = None) -> NB201Arch:
    """The cell with the largest summed table accuracy among those whose benchmark-size network
    has at most ``max_params`` million parameters (all cells when None); ties go to the first
    cell in lexicographic operation order."""
    table = np.asarray(table, dtype=np.float64)
    if table.shape != (NUM_EDGES, NUM_OPS):
        raise ValueError(f"PONAS table must be (6, 5), got {table.shape}")
    choices = _all_choices()
    score = table[np.arange(NUM_EDGES), choices].sum(axis=1)
    if max_params is not None:
        base, extra = op_params()
        params = base + extra[choices].sum(axis=1)
        ok = params <= float(max_params) * 1e6
        if not ok.any():
            raise SeminasError(
                f"no NAS-Bench-201 cell has at most {max_params}M parameters (the smallest has "
                f"{base / 1e6:.6f}M): raise --max-params"
            )
        score = np.where(ok, score, -np.inf)
    best = choices[int(np.argmax(score))]
    return NB201Arch(tuple(OPS[int(i)] for i in best))


# -- search: progressive one-shot training and the table ------------------------------------------
def _scoring_source(data: SearchData, n: int, seed: int):
    """``n`` held-out images drawn by the seed (the subset's images are stored by class, so a
    prefix would be one class)."""
    from seminas.supernet.data import TensorSource

    t = data.train
    pick = np.sort(np.random.default_rng([int(seed), 37]).permutation(len(t.y_heldout))[:n])
    idx = torch.from_numpy(pick)
    return TensorSource(t.x_train, t.y_train, t.x_heldout[idx], t.y_heldout[idx], t.num_classes)


def run_ponas(
    settings: PonasSettings, seed: int, progress: Progress = NO_PROGRESS,
    data: SearchData | None = None,
) -> SearchOutcome:
    """One PONAS search: the accuracy table, then the cell for ``max_params``."""
    from seminas.supernet.train import Scorer, SupernetRecipe, SupernetTrainer

    set_threads(settings)
    clock = Clock()
    data = data or SearchData(settings, seed, progress)
    model = new_supernet(settings, seed)
    meta = total_steps(settings, data)
    tune = int(settings.finetune_steps)
    recipe = SupernetRecipe(
        epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
        momentum=settings.w_momentum, weight_decay=settings.weight_decay, label_smoothing=0.0,
        grad_clip=settings.grad_clip,
    )
    trainer = SupernetTrainer(model, data.train, recipe, seed, total_steps=meta + NUM_EDGES * tune)
    scorer = Scorer(_scoring_source(data, int(settings.eval_images), seed), settings.calib_batches,
                    settings.batch_size, seed=seed)
    ctx_rng = np.random.default_rng([int(seed), 29])
    allowed = [list(range(NUM_OPS)) for _ in range(NUM_EDGES)]

    def sampler(rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(ops[int(rng.integers(len(ops)))]) for ops in allowed)

    progress.start(f"PONAS seed {seed}", meta + NUM_EDGES * (tune + NUM_OPS), "steps")
    table = np.zeros((NUM_EDGES, NUM_OPS))
    try:
        trainer.train_steps(meta, sampler)
        progress.advance(meta, "meta training done")
        for e in range(NUM_EDGES):
            if tune:
                trainer.train_steps(tune, sampler)
            contexts = [sampler(ctx_rng) for _ in range(int(settings.contexts))]
            for o in range(NUM_OPS):
                accs = []
                for ctx in contexts:
                    path = list(ctx)
                    path[e] = o
                    accs.append(scorer.score(model, tuple(path)))
                table[e, o] = float(np.mean(accs))
            order = np.argsort(-table[e], kind="stable")
            allowed[e] = [int(i) for i in order[: int(settings.keep)]]
            progress.advance(tune + NUM_OPS, f"edge {e}: best {OPS[int(order[0])]}")
    finally:
        progress.finish()
        model.train()
    start = time.process_time()
    cell = select(table, settings.max_params)
    select_seconds = time.process_time() - start
    return SearchOutcome(
        "ponas", int(seed), str(cell), clock.cpu(), clock.wall(), trainer.step,
        table.tolist(), {"select_cpu_seconds": select_seconds,
                         "max_params_millions": settings.max_params},
    )


def table_of(outcome: SearchOutcome | dict) -> np.ndarray:
    """The accuracy table of a PONAS outcome (or its stored record)."""
    params = outcome["arch_params"] if isinstance(outcome, dict) else outcome.arch_params
    return np.asarray(params, dtype=np.float64)


__all__ = ["PonasSettings", "op_params", "run_ponas", "select", "table_of"]
