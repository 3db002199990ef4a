"""Teacher-forced training of a TTS supernet (one uniformly drawn path per step) or of one
standalone architecture.

As the paper code (``tts/tasks.py``): mean squared error on the real frames (here before and
after the post-net), plus a binary cross-entropy on the stop logit of every real decoder step
whose one positive step (the one holding the last frame) is weighted ``stop_weight`` = 5; AdamW
(betas 0.9, 0.98, no weight decay); the learning rate ``lr * min(t / warmup, 1) *
max(t, warmup)^-0.5 * hidden^-0.5`` at update t (Noam, lr 2, warmup 4000); gradient norm
clipped at 1.

Determinism without global random state: the trainer owns a ``numpy.random.Generator``; each
step draws from it the path (supernet) and a seed for torch, and runs its forward and backward
pass under ``torch.random.fork_rng`` seeded with it, so dropout is reproducible and the caller's
torch random state is left as it was. :meth:`TTSTrainer.state_dict` holds the model, the
optimizer, the step count and the generator's state, so a resumed run continues bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import cycle
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seminas.errors import SeminasError
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.tts import TTSArch, TTSSpace
from seminas.tts.batch import TTSBatch
from seminas.tts.model import TransformerTTS, TTSOutput, batch_to, lengths_to_pad


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: the paper code's)."""

    lr: float = 2.0
    warmup: int = 4000
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    clip_grad_norm: float = 1.0
    stop_weight: float = 5.0
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.warmup < 1 or self.clip_grad_norm <= 0 or self.threads < 1:
            raise SeminasError(
                f"invalid TTS training settings {asdict(self)}: lr and clip_grad_norm must be "
                f"positive, warmup and threads at least 1"
            )


def learning_rate(config: TrainConfig, update: int, hidden: int) -> float:
    """Noam schedule at update ``update`` (counted from 1)."""
    return (
        config.lr
        * min(update / config.warmup, 1.0)
        * max(update, config.warmup) ** -0.5
        * hidden**-0.5
    )


@dataclass(frozen=True)
class Losses:
    """One step's losses (floats) and the path that was trained."""

    loss: float
    mel: float
    stop: float
    arch: TTSArch


def tts_loss(
    output: TTSOutput, batch: TTSBatch, reduction: int, stop_weight: float = 5.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, mel, stop): MSE on real frames before and after the post-net, and the weighted
    stop cross-entropy over real decoder steps (normalised by the weights, as the paper code)."""
    mel = batch.mel
    frames = output.mel_before.shape[1]
    target = F.pad(mel, (0, 0, 0, frames - mel.shape[1]))
    real = (~lengths_to_pad(batch.mel_lengths.to(mel.device), frames)).float().unsqueeze(-1)
    denom = real.sum() * mel.shape[2]
    mel_loss = (((output.mel_before - target) ** 2) * real).sum() / denom
    if output.mel_after is not output.mel_before:
        mel_loss = mel_loss + (((output.mel_after - target) ** 2) * real).sum() / denom
    step_lengths = torch.div(
        batch.mel_lengths.to(output.stop_logits.device) + reduction - 1,
        reduction,
        rounding_mode="floor",
    )
    steps = output.stop_logits.shape[1]
    index = torch.arange(steps, device=output.stop_logits.device)[None, :]
    valid = (index < step_lengths[:, None]).float()
    stop_target = (index == step_lengths[:, None] - 1).float()
    weights = valid * (1.0 + (stop_weight - 1.0) * stop_target)
    bce = F.binary_cross_entropy_with_logits(
        output.stop_logits, stop_target, weight=weights, reduction="sum"
    )
    stop_loss = bce / weights.sum()
    return mel_loss + stop_loss, mel_loss, stop_loss


class TTSTrainer:
    """Trains ``model`` with teacher forcing: a supernet on a uniformly drawn path per step, a
    standalone network on its own architecture."""

    def __init__(self, model: TransformerTTS, config: TrainConfig | None = None) -> None:
        self.model = model
        self.config = config or TrainConfig()
        self.space = TTSSpace()
        self.rng = np.random.default_rng(self.config.seed)
        self.step = 0
        # called between backward and the update (DDP: average gradients over the ranks)
        self.after_backward = None
        self.optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=learning_rate(self.config, 1, model.hidden),
            betas=self.config.betas,
            weight_decay=self.config.weight_decay,
        )

    def train_step(self, batch: TTSBatch, arch: Any = None) -> Losses:
        """One update on ``batch``; a supernet draws its path unless ``arch`` is given (the
        draw still happens, so that giving an arch does not shift later draws)."""
        drawn = self.space.sample_one(self.rng) if self.model.supernet else self.model.arch
        path = self.model.resolve(arch if arch is not None else drawn)
        seed = int(self.rng.integers(2**62))
        self.step += 1
        lr = learning_rate(self.config, self.step, self.model.hidden)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        device = self.model.prenet_out.weight.device
        batch = batch_to(batch, device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            output = self.model(batch.text, batch.text_lengths, batch.mel, batch.mel_lengths, path)
            total, mel, stop = tts_loss(
                output, batch, self.model.reduction, self.config.stop_weight
            )
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
        if self.after_backward is not None:
            self.after_backward(self.model)
        nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        self.optimizer.step()
        return Losses(total.item(), mel.item(), stop.item(), path)

    def train(
        self,
        batches: Iterable[TTSBatch],
        steps: int,
        progress: Progress = NO_PROGRESS,
        arch: Any = None,
    ) -> list[Losses]:
        """``steps`` updates, cycling through ``batches`` (a list, or any re-iterable; an
        iterator is read once and then repeated)."""
        torch.set_num_threads(self.config.threads)
        progress.start("training TTS " + ("supernet" if self.model.supernet else "network"),
                       steps, "steps")  # fmt: skip
        out: list[Losses] = []
        source: Iterator[TTSBatch] = cycle(batches)
        try:
            for _ in range(steps):
                out.append(self.train_step(next(source), arch))
                progress.advance(1, f"loss {out[-1].loss:.3f}")
        finally:
            progress.finish()
        return out

    # -- resuming ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "rng": self.rng.bit_generator.state,
            "config": asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]
