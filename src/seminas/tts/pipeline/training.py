"""Training loops of the pipeline on top of :class:`~seminas.tts.train.TTSTrainer`: the batch
of update ``t`` is a function of ``(seed, t)`` alone (epoch ``t // n`` shuffled with its own
seed, position ``t % n``), so a run resumed from a checkpoint at any step continues exactly as
an uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.tts.pipeline.data import PipelineData
from seminas.tts.pipeline.store import save_checkpoint


def train_until(
    trainer: Any,
    data: PipelineData,
    steps: int,
    batch_size: int,
    seed: int,
    progress: Progress = NO_PROGRESS,
    what: str = "training",
    checkpoint: Path | None = None,
    every: int = 500,
    on_step: Callable[[int], None] | None = None,
) -> list[float]:
    """Train until ``trainer.step == steps`` (resuming from ``checkpoint`` if it holds a
    partial run), saving every ``every`` steps; the mel losses of the steps run here."""
    if checkpoint is not None and checkpoint.is_file():
        trainer.load_state_dict(torch.load(checkpoint, weights_only=False))
    epoch_batches: dict[int, list] = {}
    n = data.batches_per_epoch(batch_size)
    losses: list[float] = []
    progress.start(what, steps, "steps")
    progress.advance(trainer.step)
    try:
        while trainer.step < steps:
            epoch, position = divmod(trainer.step, n)
            if epoch not in epoch_batches:
                epoch_batches.clear()
                epoch_batches[epoch] = data.train_batches(batch_size, seed * 100_003 + epoch)
            result = trainer.train_step(epoch_batches[epoch][position])
            losses.append(result.mel)
            if on_step is not None:
                on_step(trainer.step)
            if checkpoint is not None and trainer.step % every == 0 and trainer.step < steps:
                save_checkpoint(checkpoint, trainer.state_dict())
            progress.advance(1, f"mel loss {np.mean(losses[-50:]):.3f}")
    finally:
        progress.finish()
    return losses
