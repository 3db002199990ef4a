"""ZARTS (Wang, Guo, Su, Yang & Yan, "ZARTS: On Zero-order Optimization for Neural
Architecture Search", NeurIPS 2022), MGS variant, on the NAS-Bench-201 supernet.

DARTS's first-order update takes the gradient of the validation loss at the *current* weights;
ZARTS drops that approximation and estimates the architecture update from the bilevel objective
itself, without gradients with respect to ``alpha``: for each iteration

1. draw ``samples`` perturbations ``u_i ~ N(0, sigma^2 I)`` of ``alpha`` (the method's own
   seeded generator);
2. for each, approximate the lower level by ``inner_steps`` SGD steps of the weights from the
   current weights under ``softmax(alpha + u_i)`` (the same training batches for every ``u_i``),
   then score the perturbed architecture by the validation loss ``L_i`` on one batch; the
   weights (and batch-norm buffers) are restored afterwards;
3. MGS (maximum-likelihood guided search): move ``alpha`` towards the likelihood-weighted
   mean perturbation, ``alpha += lr * sum_i p_i u_i`` with ``p = softmax(-L / temperature)``;
4. one ordinary weight step under ``softmax(alpha)``.

The paper reports that MGS balances accuracy and speed best of its three estimators (RS, MGS,
GLD); its exact MGS weighting and temperature are our reading, documented in docs/oneshot.md.
The cell is the argmax of ``alpha`` per edge. Costs ``samples * (inner_steps + 1)`` extra
passes per iteration, so at the same CPU time ZARTS runs fewer iterations than DARTS.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from seminas.errors import SeminasError
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
class ZartsSettings(SearchSettings):
    epochs: float = 5.0  # about 7 CPU minutes at the default size
    samples: int = 4  # perturbations per iteration (N)
    sigma: float = 0.1  # perturbation scale
    inner_steps: int = 1  # weight steps approximating the lower level per perturbation (M)
    inner_lr: float = 0.025
    temperature: float = 0.05  # MGS weighting of the validation losses
    alpha_lr: float = 1.0  # step along the weighted mean perturbation

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.samples) < 1 or int(self.inner_steps) < 0:
            raise SeminasError("ZARTS needs samples >= 1 and inner_steps >= 0")
        if not self.sigma > 0 or not self.temperature > 0:
            raise SeminasError("ZARTS sigma and temperature must be positive")


def _perturbed_loss(
    model: nn.Module, alpha: torch.Tensor, u: torch.Tensor, train_batches, valid_batch,
    settings: ZartsSettings, loss_fn: nn.Module,
) -> float:
    """Validation loss of ``alpha + u`` after ``inner_steps`` weight steps; the model is
    restored to its state on entry."""
    saved = copy.deepcopy(model.state_dict())
    try:
        weights = torch.softmax(alpha + u, dim=-1)
        if train_batches:
            opt = torch.optim.SGD(model.parameters(), lr=settings.inner_lr)
            for x, y in train_batches:
                loss = loss_fn(model(x, weights=weights), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if settings.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                opt.step()
        with torch.no_grad():
            x, y = valid_batch
            return float(loss_fn(model(x, weights=weights), y))
    finally:
        model.load_state_dict(saved)
        for p in model.parameters():
            p.grad = None


def run_zarts(
    settings: ZartsSettings, seed: int, progress: Progress = NO_PROGRESS,
    data: SearchData | None = None,
) -> SearchOutcome:
    """One ZARTS-MGS search; the same seed gives the same cell and parameters."""
    set_threads(settings)
    clock = Clock()
    data = data or SearchData(settings, seed, progress)
    model = new_supernet(settings, seed)
    steps = total_steps(settings, data)
    weights = WeightTrainer(model, settings, steps)
    alpha = init_alpha(seed).detach()
    gen = torch.Generator().manual_seed(int(seed) * 104729 + 3)
    loss_fn = nn.CrossEntropyLoss()
    ticker = Ticker(progress, steps)
    last_losses: list[float] = []
    progress.start(f"ZARTS seed {seed}", steps, "steps")
    try:
        for step in range(steps):
            inner = [data.train_batch() for _ in range(int(settings.inner_steps))]
            valid = data.valid_batch()
            us = settings.sigma * torch.randn(
                int(settings.samples), *alpha.shape, generator=gen
            )
            losses = torch.tensor([
                _perturbed_loss(model, alpha, u, inner, valid, settings, loss_fn) for u in us
            ])
            p = torch.softmax(-(losses - losses.min()) / settings.temperature, dim=0)
            alpha = alpha + settings.alpha_lr * (p[:, None, None] * us).sum(0)
            last_losses = losses.tolist()
            xt, yt = data.train_batch()
            weights.train_on(xt, yt, weights=torch.softmax(alpha, dim=-1))
            best = min(last_losses)
            ticker.tick(step, lambda v=best, a=alpha: f"val loss {v:.3f}  cell {argmax_cell(a)}")
    finally:
        progress.finish()
    return SearchOutcome(
        "zarts", int(seed), str(argmax_cell(alpha)), clock.cpu(), clock.wall(), steps,
        alpha.tolist(), {"softmax": torch.softmax(alpha, -1).tolist(),
                         "last_losses": last_losses},
    )
