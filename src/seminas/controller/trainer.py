"""Training, prediction and generation around a :class:`Controller`.

Targets are standardised with the mean and standard deviation of the labeled set in hand (never
constants computed from a whole benchmark, which would leak information a real search lacks).
Token sequences are kept as pre-built tensors; one optimizer lives as long as the trainer so that
weights and moments carry over between calls to :meth:`fit`, as in the paper.

Randomness: initial weights, batch order and dropout come from one ``torch.Generator`` (a
search hands over its own), so a trainer never draws from or reseeds torch's global generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from seminas.controller.model import Controller, ControllerShape
from seminas.options import Options, opt
from seminas.predictors.ranking import LOSSES, loss_function
from seminas.spaces.base import SearchSpace

TARGET_SCALINGS = ("standard", "minmax")


@dataclass(frozen=True)
class TrainConfig(Options):
    lr: float = opt(1e-3, above=0, doc="Adam learning rate")
    weight_decay: float = opt(1e-4, low=0, doc="Adam weight decay")
    grad_clip: float = opt(5.0, above=0, doc="gradient norm clip")
    batch_size: int = opt(100, low=1, doc="mini-batch size")
    # weight of the prediction loss; 1 - trade_off for reconstruction
    trade_off: float = opt(0.8, low=0, high=1, doc="weight of the prediction loss")
    # "standard": (y - mean) / std of the labeled set; "minmax": (y - min) / (max - min), for a
    # sigmoid predictor (the paper's ImageNet setting)
    target_scaling: str = opt("standard", choices=TARGET_SCALINGS, doc="how targets are scaled")
    # "mse" (the paper's, and the default); a ranking loss of seminas.predictors.ranking trains
    # the predictor on the order of the targets only (its outputs then carry no units)
    predictor_loss: str = opt("mse", choices=LOSSES, doc="the prediction loss: MSE or a "
                              "ranking loss")


class ControllerTrainer:
    def __init__(
        self,
        space: SearchSpace,
        shape: ControllerShape | None = None,
        train: TrainConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        """``generator``: where every random draw comes from (default: a fresh one seeded 0)."""
        self.space = space
        self.shape = shape or ControllerShape(space.vocab_size, space.seq_len)
        self.train_config = train or TrainConfig()
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.model = Controller(self.shape, self.generator)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=self.train_config.lr,
            weight_decay=self.train_config.weight_decay,
            fused=True,  # one kernel for all parameters: ~15% of a CPU training step saved
        )
        self.mask = torch.as_tensor(space.token_mask(), dtype=torch.bool)
        self.mean = 0.0
        self.std = 1.0
        self.steps = 0
        self._rank_loss = (None if self.train_config.predictor_loss == "mse"
                           else loss_function(self.train_config.predictor_loss))

    # -- targets -----------------------------------------------------------------------------
    def standardise_with(self, labeled_values: Sequence[float]) -> None:
        """Fix the affine map between benchmark units and the predictor's target scale."""
        values = np.asarray(labeled_values, dtype=np.float64)
        if self.train_config.target_scaling == "minmax":
            self.mean = float(values.min())
            span = float(values.max() - values.min())
            self.std = span if span > 1e-8 else 1.0
            return
        if self.train_config.target_scaling != "standard":
            raise ValueError(f"target_scaling must be 'standard' or 'minmax', got "
                             f"{self.train_config.target_scaling!r}")
        self.mean = float(values.mean())
        std = float(values.std())
        self.std = std if std > 1e-8 else 1.0

    def tokens(self, archs: Sequence) -> torch.Tensor:
        return torch.as_tensor(self.space.encode_many(archs), dtype=torch.long)

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        tokens: torch.Tensor,
        targets: np.ndarray,
        epochs: int,
        on_epoch: Callable[[int, float], None] | None = None,
    ) -> list[float]:
        """Train for ``epochs`` passes; returns the mean loss of each epoch."""
        cfg = self.train_config
        y = torch.as_tensor((np.asarray(targets) - self.mean) / self.std, dtype=torch.float32)
        n = tokens.shape[0]
        self.model.train()
        history = []
        for epoch in range(epochs):
            order = torch.randperm(n, generator=self.generator)
            total = 0.0
            for start in range(0, n, cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                batch_tokens = tokens[idx]
                pred, log_probs = self.model(batch_tokens)
                if self._rank_loss is None:
                    mse = F.mse_loss(pred, y[idx])
                else:  # a ranking loss in the prediction term's place
                    mse = self._rank_loss(pred, y[idx])
                nll = F.nll_loss(
                    log_probs.reshape(-1, log_probs.shape[-1]), batch_tokens.reshape(-1)
                )
                loss = cfg.trade_off * mse + (1 - cfg.trade_off) * nll
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                self.steps += 1
                total += loss.item() * len(idx)
            history.append(total / n)
            if on_epoch is not None:
                on_epoch(epoch, history[-1])
        return history

    # -- inference ---------------------------------------------------------------------------
    def predict(self, tokens: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """Predicted accuracy in the benchmark's units."""
        self.model.eval()
        out = [
            self.model.predict(tokens[i : i + batch_size])
            for i in range(0, tokens.shape[0], batch_size)
        ]
        pred = torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)
        return pred * self.std + self.mean

    def reconstruct(self, tokens: torch.Tensor) -> torch.Tensor:
        """Greedy reconstruction of ``tokens`` through embedding and decoder."""
        self.model.eval()
        with torch.no_grad():
            enc_out, emb = self.model.encoder(tokens)
            return self.model.decoder.greedy(enc_out, emb, self.mask)

    def ascend(
        self, seed_tokens: torch.Tensor, step_sizes: Sequence[float]
    ) -> list[tuple[torch.Tensor, np.ndarray]]:
        """Decoded sequences and their predicted accuracy after a gradient step of each size."""
        self.model.eval()
        out = []
        for decoded, score in self.model.ascend(seed_tokens, list(step_sizes), self.mask):
            out.append((decoded, score.numpy().astype(np.float64) * self.std + self.mean))
        return out
