"""``seminas tts train-supernet``: the pipeline's supernet stage, data-parallel under
``torchrun`` (see :mod:`seminas.tts.distributed`); rank 0 writes the checkpoint, which
``seminas tts pipeline`` takes as its ``supernet.pt``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.tts.pipeline.config import TTSPipelineConfig, validate_config


def train_supernet_distributed(
    cfg: TTSPipelineConfig, out: str, progress: Progress | None = None
) -> dict[str, Any]:
    from seminas.supernet.train import close_distributed, init_distributed
    from seminas.tts.distributed import average_gradients
    from seminas.tts.pipeline.data import open_data
    from seminas.tts.pipeline.stages import new_model, new_trainer
    from seminas.tts.pipeline.store import save_checkpoint

    validate_config(cfg)
    info = init_distributed()
    progress = (progress or NO_PROGRESS) if info.is_main else NO_PROGRESS
    try:
        path = Path(out)
        data = open_data(cfg, path.parent, progress if info.is_main else None)
        if info.device == "cpu":
            torch.set_num_threads(cfg.threads)
        model = new_model(cfg, data, seed=cfg.seed).to(info.device)
        trainer = new_trainer(cfg, model, cfg.seed, cfg.threads)
        trainer.after_backward = average_gradients
        n = data.batches_per_epoch(cfg.batch_size)
        start = time.perf_counter()
        progress.start("supernet (data parallel)", cfg.supernet_steps, "steps")
        epoch_batches: list = []
        epoch_seen = -1
        while trainer.step < cfg.supernet_steps:
            slot = trainer.step * info.world_size + info.rank  # this rank's batch of the step
            epoch, position = divmod(slot, n)
            if epoch != epoch_seen:
                epoch_batches = data.train_batches(cfg.batch_size, cfg.seed * 100_003 + epoch)
                epoch_seen = epoch
            result = trainer.train_step(epoch_batches[position])
            progress.advance(1, f"mel loss {result.mel:.3f}")
        progress.finish()
        checksum = float(sum(p.detach().double().sum() for p in model.parameters()))
        if info.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, trainer.state_dict())
        return {"rank": info.rank, "world_size": info.world_size, "steps": trainer.step,
                "seconds": time.perf_counter() - start, "checksum": checksum}  # fmt: skip
    finally:
        close_distributed()
