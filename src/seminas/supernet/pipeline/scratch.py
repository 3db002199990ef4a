"""Stage 3 of the pipeline: every architecture of the comparison set trained from scratch with
the same recipe, in parallel (one process per core), reporting held-out and test accuracy. A
training is the unit that is kept: finished ones are stored at once and never redone."""

from __future__ import annotations

import json
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.mobilenet import flops
from seminas.supernet.pipeline.config import PipelineConfig, data_spec, final_network_shape
from seminas.supernet.pipeline.store import save, saved

_DATA_CACHE: dict[str, Any] = {}


def _init_worker(threads: int, parent: int) -> None:
    from seminas.lifecycle import die_with_parent

    die_with_parent(parent)  # a kill -9 of the pipeline must not leave trainings running
    torch.set_num_threads(threads)


def train_from_scratch(
    cfg_dict: dict[str, Any], arch_text: str, report: Any = None, key: int = 0
) -> dict[str, Any]:
    """Train one architecture from scratch with the pipeline's recipe (in a worker process).
    ``report`` (a queue) receives ``(key, steps_done, steps_total)`` every few steps."""
    from seminas.spaces.mobilenet import MobileNetSpace as Space
    from seminas.supernet.model import build_network
    from seminas.training.recipe import Recipe, train_network

    cfg = PipelineConfig(**cfg_dict)
    spec = data_spec(cfg)
    cache_key = json.dumps(asdict(spec), sort_keys=True)
    if cache_key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[cache_key] = spec.load()
    data, train_idx, held_idx = _DATA_CACHE[cache_key]
    arch = Space().validate(arch_text)
    shape = final_network_shape(cfg, data.num_classes, int(data.x_train.shape[-1]))
    torch.manual_seed(cfg.seed)
    model = build_network(arch, shape).use_channels_last()
    recipe = Recipe(
        epochs=cfg.scratch_epochs,
        batch_size=cfg.scratch_batch,
        lr=cfg.scratch_lr,
        weight_decay=cfg.scratch_weight_decay,
        label_smoothing=cfg.label_smoothing,
    )

    def progress(done: int, total: int) -> None:
        if report is not None and (done % 5 == 0 or done == total):
            report.put((key, done, total))

    outcome = train_network(model, data, recipe, cfg.seed, train_idx, held_idx, progress)
    return {
        "arch": arch_text,
        "heldout_accuracy": outcome.val_accuracy,
        "test_accuracy": outcome.test_accuracy,
        "seconds": outcome.seconds,
        "params": outcome.params,
        "network_flops": flops(arch, shape),
        "history": outcome.history,
    }


def stage_scratch(
    cfg: PipelineConfig,
    out: Path,
    comparison: list[dict[str, Any]],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Train every architecture of ``comparison`` not trained yet; all their results in order."""
    progress = progress or NO_PROGRESS
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, entry in enumerate(comparison):
        kept = saved(out, "scratch", i)
        if kept is not None and kept.get("arch") == entry["arch"]:
            results[i] = kept
        else:
            todo.append(i)
    progress.start(f"from scratch ({cfg.scratch_epochs} epochs each)", len(comparison),
                   "architectures")
    progress.advance(len(results), f"{cfg.processes} in parallel")
    try:
        if todo:
            context = torch.multiprocessing.get_context("spawn")
            from seminas.lifecycle import start_manager

            with start_manager(context) as manager, ProcessPoolExecutor(
                max_workers=min(cfg.processes, len(todo)),
                mp_context=context,
                initializer=_init_worker,
                initargs=(cfg.threads, os.getpid()),
            ) as pool:
                queue = manager.Queue()
                futures = {
                    pool.submit(
                        train_from_scratch, cfg.to_dict(), comparison[i]["arch"], queue, i
                    ): i
                    for i in todo
                }
                steps: dict[int, tuple[int, int]] = {}
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                    while not queue.empty():
                        i, done_steps, total = queue.get()
                        steps[i] = (done_steps, total)
                    for fut in finished:
                        i = futures[fut]
                        res = fut.result()
                        save(out, "scratch", res, i)
                        results[i] = res
                        steps.pop(i, None)
                    running = ", ".join(
                        f"{comparison[i]['role']} {d}/{t} steps" for i, (d, t) in
                        sorted(steps.items())
                    )
                    progress.advance(len(finished), running)
    finally:
        progress.finish()
    return [results[i] for i in range(len(comparison))]
