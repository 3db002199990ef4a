"""DARTS (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019), first
order, on the NAS-Bench-201 supernet.

Each edge mixes its five operations with ``softmax(alpha[edge])``. Every step alternates:

1. an architecture step: Adam on ``alpha`` (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3 --
   the paper's settings) on a batch of the architecture's half of the data, the weights held;
2. a weight step: SGD on the supernet weights (lr 0.025 cosine, momentum 0.9, wd 3e-4) on a
   batch of the weights' half, ``alpha`` held.

The first-order approximation treats the current weights as the lower level's solution. At the
end the cell is the argmax operation on every edge. On NAS-Bench-201 this is known to collapse
to parameter-free operations, mostly ``skip_connect`` (Dong & Yang, ICLR 2020, report 54.30%
CIFAR-10 test accuracy for DARTS); that is a result to reproduce, not hide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seminas.oneshot.common import (
    Clock,
    SearchData,
    SearchOutcome,
    SearchSettings,
    Ticker,
    WeightTrainer,
    argmax_cell,
    init_alpha,
    new_supernet,
    set_threads,
    total_steps,
)
from seminas.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class DartsSettings(SearchSettings):
    epochs: float = 15.0  # about 6 CPU minutes at the default size
    alpha_lr: float = 3e-4
    alpha_beta1: float = 0.5
    alpha_beta2: float = 0.999
    alpha_weight_decay: float = 1e-3


def run_darts(
    settings: DartsSettings, seed: int, progress: Progress = NO_PROGRESS,
    data: SearchData | None = None,
) -> SearchOutcome:
    """One first-order DARTS search; the same seed gives the same cell and parameters."""
    set_threads(settings)
    clock = Clock()
    data = data or SearchData(settings, seed, progress)
    model = new_supernet(settings, seed)
    steps = total_steps(settings, data)
    weights = WeightTrainer(model, settings, steps)
    alpha = init_alpha(seed)
    opt = torch.optim.Adam(
        [alpha], lr=settings.alpha_lr, betas=(settings.alpha_beta1, settings.alpha_beta2),
        weight_decay=settings.alpha_weight_decay,
    )
    loss_fn = nn.CrossEntropyLoss()
    ticker = Ticker(progress, steps)
    progress.start(f"DARTS seed {seed}", steps, "steps")
    try:
        for step in range(steps):
            xv, yv = data.valid_batch()
            arch_loss = loss_fn(model(xv, weights=torch.softmax(alpha, dim=-1)), yv)
            (grad,) = torch.autograd.grad(arch_loss, [alpha])
            alpha.grad = grad
            opt.step()
            xt, yt = data.train_batch()
            w_loss = weights.train_on(xt, yt, weights=torch.softmax(alpha.detach(), dim=-1))
            ticker.tick(step, lambda v=w_loss: f"w loss {v:.3f}  cell {argmax_cell(alpha)}")
    finally:
        progress.finish()
    cell = argmax_cell(alpha)
    return SearchOutcome(
        "darts", int(seed), str(cell), clock.cpu(), clock.wall(), steps,
        alpha.detach().tolist(), {"softmax": torch.softmax(alpha.detach(), -1).tolist()},
    )
