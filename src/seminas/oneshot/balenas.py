"""BaLeNAS (Zhang, Hu, Su, Pan, Chang, Yang & Haffari, "BaLeNAS: Differentiable Architecture
Search via the Bayesian Learning Rule", CVPR 2022) on the NAS-Bench-201 supernet.

The architecture parameters are not a point but a Gaussian ``N(mu, diag(sigma^2))``, learned by
natural-gradient variational inference -- the Bayesian learning rule, in its Adam-like form
(Vadam; Khan et al., "Fast and Scalable Bayesian Deep Learning by Weight-Perturbation in Adam",
ICML 2018), which costs what a DARTS step costs:

- draw ``theta = mu + sigma * eps`` with ``sigma = 1 / sqrt(N (s + lambda))`` (``N``: images in
  the architecture's half, ``lambda = prior_precision / N``; ``eps`` from the method's own
  seeded generator);
- ``g``: gradient of the validation loss at ``theta`` (edges mixed by ``softmax(theta)``);
- ``m <- b1 m + (1 - b1)(g + lambda mu)``, ``s <- b2 s + (1 - b2) g*g`` (the squared gradient
  stands in for the Gauss-Newton diagonal, the precision's estimate);
- ``mu <- mu - lr * m_hat / (sqrt(s_hat) + lambda)`` (bias-corrected ``m_hat``, ``s_hat``).

The weights take DARTS's weight step under ``softmax(theta)`` of a fresh sample. The cell is taken
from the learned distribution: its mode, the argmax of ``mu`` per edge (the paper's plain
BaLeNAS; BaLeNAS-TF instead samples cells and ranks them by a training-free proxy).
"""

from __future__ import annotations

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
class BalenasSettings(SearchSettings):
    epochs: float = 15.0  # about 6 CPU minutes at the default size
    mu_lr: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.999
    prior_precision: float = 1.0
    init_precision: float = 1.0  # initial s

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.prior_precision > 0 or not self.init_precision >= 0:
            raise SeminasError("BaLeNAS prior precision must be positive, initial s >= 0")


class GaussianArchitecture:
    """Mean and precision state of the architecture distribution, updated by Vadam."""

    def __init__(self, mu: torch.Tensor, settings: BalenasSettings, n_data: int,
                 generator: torch.Generator) -> None:
        self.mu = mu.detach().clone()
        self.s = torch.full_like(self.mu, float(settings.init_precision))
        self.m = torch.zeros_like(self.mu)
        self.t = 0
        self.settings = settings
        self.n = float(n_data)
        self.lam = settings.prior_precision / self.n
        self.gen = generator

    @property
    def sigma(self) -> torch.Tensor:
        return 1.0 / torch.sqrt(self.n * (self.s + self.lam))

    def sample(self) -> torch.Tensor:
        eps = torch.randn(self.mu.shape, generator=self.gen)
        return self.mu + self.sigma * eps

    def update(self, grad: torch.Tensor) -> None:
        st = self.settings
        self.t += 1
        self.m = st.beta1 * self.m + (1 - st.beta1) * (grad + self.lam * self.mu)
        self.s = st.beta2 * self.s + (1 - st.beta2) * grad * grad
        m_hat = self.m / (1 - st.beta1**self.t)
        s_hat = self.s / (1 - st.beta2**self.t)
        self.mu = self.mu - st.mu_lr * m_hat / (torch.sqrt(s_hat) + self.lam)


def run_balenas(
    settings: BalenasSettings, seed: int, progress: Progress = NO_PROGRESS,
    data: SearchData | None = None,
) -> SearchOutcome:
    """One BaLeNAS search; the same seed gives the same cell and distribution."""
    set_threads(settings)
    clock = Clock()
    data = data or SearchData(settings, seed, progress)
    model = new_supernet(settings, seed)
    steps = total_steps(settings, data)
    weights = WeightTrainer(model, settings, steps)
    gen = torch.Generator().manual_seed(int(seed) * 15485863 + 5)
    dist = GaussianArchitecture(init_alpha(seed), settings, len(data.valid.y_train), gen)
    loss_fn = nn.CrossEntropyLoss()
    ticker = Ticker(progress, steps)
    progress.start(f"BaLeNAS seed {seed}", steps, "steps")
    try:
        for step in range(steps):
            theta = dist.sample().requires_grad_(True)
            xv, yv = data.valid_batch()
            loss = loss_fn(model(xv, weights=torch.softmax(theta, dim=-1)), yv)
            (grad,) = torch.autograd.grad(loss, [theta])
            dist.update(grad)
            xt, yt = data.train_batch()
            weights.train_on(xt, yt, weights=torch.softmax(dist.sample(), dim=-1))
            ticker.tick(step, lambda: f"cell {argmax_cell(dist.mu)}")
    finally:
        progress.finish()
    return SearchOutcome(
        "balenas", int(seed), str(argmax_cell(dist.mu)), clock.cpu(), clock.wall(), steps,
        dist.mu.tolist(), {"sigma": dist.sigma.tolist(), "precision_s": dist.s.tolist()},
    )
