"""The first two stages of the pipeline, each skipped when its record is already stored:

1. **Supernet**: trained with uniformly sampled feasible paths on the training split
   (``processes`` ranks through ``torch.distributed``; gloo on CPUs), rank 0 writes
   ``supernet.pt``; its quality measured on a few random paths, with and without batch-norm
   recalibration.
2. **Search**: SemiNAS over the FLOPs-constrained space, each query a supernet score, the
   supernet training on between iterations; then the comparison set (the chosen architecture, a
   random one, a MobileNet-v2-like one, and search architectures spread over the scores)
   re-scored on the final supernet.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.mobilenet import (
    SEARCH_WIDTHS,
    MobileNetArch,
    MobileNetSpace,
    flops,
    mobilenet_v2_like,
)
from seminas.supernet.pipeline.config import (
    PipelineConfig,
    data_spec,
    planned_continue_steps,
    shape_fields,
)
from seminas.supernet.pipeline.store import save, saved


# -- stage 1: supernet ---------------------------------------------------------------------------
def supernet_job(cfg: PipelineConfig, out: Path):
    """The supernet's training job (its schedule spans the steps the search will add)."""
    from seminas.supernet.train import SupernetRecipe, TrainJob

    recipe = SupernetRecipe(
        epochs=cfg.supernet_epochs,
        batch_size=cfg.supernet_batch,
        lr=cfg.supernet_lr,
        weight_decay=cfg.supernet_weight_decay,
        label_smoothing=cfg.label_smoothing,
    )
    return TrainJob(
        data=data_spec(cfg),
        shape=shape_fields(SEARCH_WIDTHS, cfg.width_mult),
        recipe=recipe,
        out=str(out / "supernet.pt"),
        max_flops=cfg.max_flops,
        seed=cfg.seed,
        threads=cfg.threads,
        extra_steps=planned_continue_steps(cfg),
        sharing=cfg.sharing,
    )


def stage_supernet(
    cfg: PipelineConfig, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Train the supernet (or find it done) and check it on random paths; its record."""
    from seminas.supernet.train import run_train_job, spawn_local

    progress = progress or NO_PROGRESS
    done = saved(out, "supernet")
    if done is not None and (out / "supernet.pt").is_file():
        return done
    job = supernet_job(cfg, out)
    start = time.perf_counter()
    if cfg.processes > 1:
        ranks = spawn_local(job, cfg.processes, str(out / "ranks"), progress=progress)
    else:
        ranks = [run_train_job(job, progress=progress)]
    train_seconds = time.perf_counter() - start
    summary = {
        "processes": cfg.processes,
        "seconds": train_seconds,
        "steps": int(ranks[0]["steps"]),
        "replicas_identical": len({r["checksum"] for r in ranks}) == 1,
        "weight_checksums": [r["checksum"] for r in ranks],
    }
    summary.update(_bn_check(cfg, out, progress))
    save(out, "supernet", summary)
    return summary


def open_supernet(cfg: PipelineConfig, out: Path):
    """The trained supernet ready to go on training and scoring: (trainer, scorer, data)."""
    from seminas.supernet.train import (
        Scorer,
        SupernetRecipe,
        SupernetTrainer,
        load_checkpoint,
        model_from_checkpoint,
    )

    torch.set_num_threads(cfg.threads)
    state = load_checkpoint(out / "supernet.pt")
    model = model_from_checkpoint(state)
    source = data_spec(cfg).open()
    trainer = SupernetTrainer(
        model, source, SupernetRecipe(**state["recipe"]), cfg.seed,
        total_steps=int(state["total_steps"]),
    )
    trainer.load_state_dict(state)
    scorer = Scorer(source, cfg.calib_batches, cfg.calib_batch_size, seed=cfg.seed)
    return trainer, scorer, source


def _bn_check(cfg: PipelineConfig, out: Path, progress: Progress) -> dict[str, Any]:
    """Held-out accuracy of random feasible paths with the supernet's own running statistics
    (what the SemiNAS code scored with) and after recalibration (what we score with)."""
    from seminas.supernet.train import accuracy_on, recalibrate_bn

    trainer, scorer, source = open_supernet(cfg, out)
    space = MobileNetSpace(cfg.max_flops)
    rng = np.random.default_rng([cfg.seed, 21])
    archs = space.sample(cfg.bn_check_paths, rng)
    plain, recal = [], []
    progress.start("supernet: scoring random paths", len(archs), "paths")
    try:
        for arch in archs:
            model = trainer.model
            state = {k: v.clone() for k, v in model.state_dict().items()}
            plain.append(accuracy_on(model, arch, source.heldout_batches(500)))
            recalibrate_bn(model, arch, scorer.calibration)
            recal.append(accuracy_on(model, arch, source.heldout_batches(500)))
            model.load_state_dict(state)
            progress.advance(1)
    finally:
        progress.finish()
    return {
        "random_paths": [space.arch_id(a) for a in archs],
        "heldout_accuracy_running_stats": plain,
        "heldout_accuracy_recalibrated": recal,
        "mean_running_stats": float(np.mean(plain)),
        "mean_recalibrated": float(np.mean(recal)),
    }


# -- stage 2: search -----------------------------------------------------------------------------
def stage_search(
    cfg: PipelineConfig, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """SemiNAS on the supernet (or its stored record), then the comparison set re-scored."""
    from seminas.strategies import make_strategy, run_search
    from seminas.supernet.evaluator import SupernetBackend, SupernetEvaluator

    progress = progress or NO_PROGRESS
    done = saved(out, "search")
    if done is not None:
        return done
    trainer, scorer, _ = open_supernet(cfg, out)
    space = MobileNetSpace(cfg.max_flops)
    strategy = make_strategy("seminas", cfg.preset, **cfg.overrides)
    start = time.perf_counter()
    scored = 0

    def on_training(_: str, done_steps: int, total: int) -> None:
        progress.advance(0, f"supernet training {done_steps}/{total} steps")

    def on_event(ctx) -> None:
        nonlocal scored
        best = ctx.best_search_metric()
        progress.advance(len(ctx.trials) - scored,
                         f"{ctx.phase} best {'-' if best is None else f'{best:.2f}%'}")
        scored = len(ctx.trials)

    evaluator = SupernetEvaluator(
        space, trainer, scorer, cfg.continue_steps, cfg.sampling, on_training
    )
    progress.start("search: scoring on the supernet", cfg.budget, "architectures")
    try:
        result = run_search(
            strategy, evaluator, cfg.budget, cfg.seed, on_event, backend=SupernetBackend()
        )
    finally:
        progress.finish()
    search_seconds = time.perf_counter() - start
    best = result.best
    assert best is not None
    chosen = space.validate(best.arch)
    trials = result.to_dict()["trials"]
    for t in trials:
        t["flops"] = flops(space.validate(t["arch"]))
    comparison = comparison_set(cfg, space, chosen, trials)
    rescored = {}
    start_rescore = time.perf_counter()
    progress.start("re-scoring on the final supernet", len(comparison), "architectures")
    try:
        for entry in comparison:
            arch = space.validate(entry["arch"])
            rescored[entry["arch"]] = scorer.score(trainer.model, arch)
            progress.advance(1)
    finally:
        progress.finish()
    for entry in comparison:
        entry["supernet_score"] = rescored[entry["arch"]]
    invalid = sum(d.get("invalid", 0) for d in result.diagnostics.get("iterations", []))
    summary = {
        "strategy": strategy.name,
        "preset": cfg.preset,
        "config": result.config,
        "budget": cfg.budget,
        "queries": len(result.trials),
        "seconds": search_seconds,
        "rescore_seconds": time.perf_counter() - start_rescore,
        "max_flops": space.max_flops,
        "max_trial_flops": max(t["flops"] for t in trials),
        "over_limit_decodes_rejected": invalid,
        "chosen": {"arch": best.arch, "supernet_score": best.search_metric,
                   "query": best.number, "iteration": best.iteration},
        "supernet_training_during_search": evaluator.training_log,
        "supernet_steps_total": trainer.step,
        "diagnostics": result.diagnostics,
        "trials": trials,
        "comparison": comparison,
    }
    save(out, "search", summary)
    return summary


def comparison_set(
    cfg: PipelineConfig, space: MobileNetSpace, chosen: MobileNetArch, trials: list[dict]
) -> list[dict[str, Any]]:
    """The chosen architecture, a random feasible one, a MobileNet-v2-like one of similar
    FLOPs, and search architectures spread evenly over the score ranking (for the tau)."""
    rng = np.random.default_rng([cfg.seed, 31])
    entries = [{"role": "chosen", "arch": space.arch_id(chosen)}]
    random_arch = space.sample(1, rng, exclude={space.arch_id(chosen)})[0]
    entries.append({"role": "random", "arch": space.arch_id(random_arch)})
    like = mobilenet_v2_like(flops(chosen), space.flops_shape)
    entries.append({"role": "mobilenet-v2-like", "arch": space.arch_id(like)})
    ranked = sorted(trials, key=lambda t: (-t["search_metric"], t["number"]))
    taken = {e["arch"] for e in entries}
    picks = np.unique(np.linspace(1, len(ranked) - 1, max(0, cfg.tau_archs - 1)).round())
    for k in picks.astype(int):
        arch = ranked[int(k)]["arch"]
        if arch not in taken:
            taken.add(arch)
            entries.append({"role": f"search rank {int(k) + 1}", "arch": arch})
    return entries
