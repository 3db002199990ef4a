"""The stages of the TTS pipeline, each skipped when its record is already stored:

1. **supernet**: the weight-sharing supernet trained with one uniformly drawn path per step on
   the training utterances (``supernet.pt``), then checked on the baseline and a few random
   paths;
2. **search**: SemiNAS on the 12-token space, each query an architecture's DFR on validation
   utterances with the supernet's weights; then the comparison set (the chosen architecture,
   the Transformer-TTS baseline, a random one, search architectures spread over the ranking);
3. **scratch**: every architecture of the comparison set trained from scratch with one recipe
   (in parallel, one process per core), its validation DFR measured (for the tau);
4. **measures**: the chosen, baseline and random networks on the test and robustness sets.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.tts import TTSSpace
from seminas.tts.pipeline.config import TTSPipelineConfig
from seminas.tts.pipeline.data import PipelineData, open_data
from seminas.tts.pipeline.store import save, save_checkpoint, saved
from seminas.tts.pipeline.training import train_until

SUPERNET_FILE = "supernet.pt"


def new_model(cfg: TTSPipelineConfig, data: PipelineData, arch: Any = None, seed: int = 0):
    """A supernet (``arch`` None) or a standalone network of the pipeline's size, its
    initial weights drawn from ``seed`` without touching the global torch random state."""
    from seminas.tts.model import TransformerTTS

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TransformerTTS(
            data.vocab_size, data.n_mels, cfg.hidden, cfg.reduction,
            supernet=arch is None, arch=arch,
        )  # fmt: skip


def new_trainer(cfg: TTSPipelineConfig, model, seed: int, threads: int):
    from seminas.tts.train import TrainConfig, TTSTrainer

    return TTSTrainer(
        model, TrainConfig(lr=cfg.lr, warmup=cfg.warmup_steps, seed=seed, threads=threads)
    )


def load_supernet(cfg: TTSPipelineConfig, out: Path, data: PipelineData):
    """The trained supernet's trainer (model, optimizer and random state as saved)."""
    trainer = new_trainer(cfg, new_model(cfg, data, seed=cfg.seed), cfg.seed, cfg.threads)
    trainer.load_state_dict(torch.load(out / SUPERNET_FILE, weights_only=False))
    return trainer


# -- stage 1: supernet ---------------------------------------------------------------------------
def stage_supernet(
    cfg: TTSPipelineConfig, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Train the supernet (or find it trained) and score the baseline and random paths."""
    from seminas.tts.alignment import alignment_scores

    progress = progress or NO_PROGRESS
    done = saved(out, "supernet")
    if done is not None and (out / SUPERNET_FILE).is_file():
        return done
    data = open_data(cfg, out, progress)
    torch.set_num_threads(cfg.threads)
    trainer = new_trainer(cfg, new_model(cfg, data, seed=cfg.seed), cfg.seed, cfg.threads)
    partial = out / "supernet.partial.pt"
    start = time.perf_counter()
    losses = train_until(trainer, data, cfg.supernet_steps, cfg.batch_size, cfg.seed, progress,
                         "supernet (one random path per step)", checkpoint=partial)
    seconds = time.perf_counter() - start
    save_checkpoint(out / SUPERNET_FILE, trainer.state_dict())
    partial.unlink(missing_ok=True)
    space = TTSSpace()
    rng = np.random.default_rng([cfg.seed, 21])
    checks = [("baseline", space.baseline_arch())] + [
        (f"random {i + 1}", a) for i, a in enumerate(space.sample(4, rng))
    ]
    batches = data.validation_batches(cfg.score_utterances, cfg.batch_size)
    paths = []
    for role, arch in checks:
        scores = alignment_scores(trainer.model, arch, batches, "free", cfg.seed)
        paths.append({"role": role, "arch": space.arch_id(arch), **scores})
    summary = {
        "steps": trainer.step,
        "seconds_this_session": seconds,
        "parameters": int(sum(p.numel() for p in trainer.model.parameters())),
        "mel_loss_last_100": float(np.mean(losses[-100:])) if losses else None,
        "paths": paths,
    }
    save(out, "supernet", summary)
    return summary


# -- stage 2: search -----------------------------------------------------------------------------
def stage_search(
    cfg: TTSPipelineConfig, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """SemiNAS on the supernet's DFR (or its stored record), then the comparison set."""
    from seminas.strategies import make_strategy, run_search
    from seminas.supernet.evaluator import SupernetBackend
    from seminas.tts.evaluator import TTSSupernetEvaluator

    progress = progress or NO_PROGRESS
    done = saved(out, "search")
    if done is not None:
        return done
    data = open_data(cfg, out, progress)
    torch.set_num_threads(cfg.threads)
    trainer = load_supernet(cfg, out, data)
    space = TTSSpace()
    strategy = make_strategy("seminas", cfg.preset, **cfg.overrides)
    evaluator = TTSSupernetEvaluator(
        trainer,
        data.validation_batches(cfg.score_utterances, cfg.batch_size),
        mode=cfg.score_mode,
        continue_steps=cfg.continue_steps,
        train_batches=data.train_batches(cfg.batch_size, cfg.seed * 100_003 + 99_999),
        seed=cfg.seed,
    )
    scored = 0

    def on_event(ctx) -> None:
        nonlocal scored
        best = ctx.best_search_metric()
        progress.advance(len(ctx.trials) - scored,
                         f"{ctx.phase} best DFR {'-' if best is None else f'{best:.3f}'}")
        scored = len(ctx.trials)

    start = time.perf_counter()
    progress.start("search: DFR on the supernet", cfg.budget, "architectures")
    try:
        result = run_search(
            strategy, evaluator, cfg.budget, cfg.seed, on_event, backend=SupernetBackend()
        )
    finally:
        progress.finish()
    seconds = time.perf_counter() - start
    best = result.best
    assert best is not None
    trials = result.to_dict()["trials"]
    comparison = comparison_set(cfg, space, best.arch, trials)
    rescored = {}
    for entry in comparison:  # on the final supernet, the same way (for the tau)
        rescored[entry["arch"]] = evaluator.scores(space.validate(entry["arch"]))
    for entry in comparison:
        entry["supernet"] = rescored[entry["arch"]]
    summary = {
        "strategy": strategy.name,
        "preset": cfg.preset,
        "config": result.config,
        "budget": cfg.budget,
        "queries": len(result.trials),
        "seconds": seconds,
        "chosen": {"arch": best.arch, "supernet_dfr": best.search_metric,
                   "query": best.number, "iteration": best.iteration},
        "supernet_training_during_search": evaluator.training_log,
        "diagnostics": result.diagnostics,
        "trials": trials,
        "comparison": comparison,
    }
    save(out, "search", summary)
    return summary


def comparison_set(
    cfg: TTSPipelineConfig, space: TTSSpace, chosen: str, trials: list[dict]
) -> list[dict[str, Any]]:
    """The chosen architecture, the Transformer-TTS baseline (every layer 2-head
    self-attention), a random one, and search architectures spread over the ranking."""
    rng = np.random.default_rng([cfg.seed, 31])
    entries = [{"role": "chosen", "arch": space.arch_id(space.validate(chosen))}]
    baseline = space.arch_id(space.baseline_arch())
    if baseline != entries[0]["arch"]:
        entries.append({"role": "baseline", "arch": baseline})
    taken = {e["arch"] for e in entries}
    random_arch = space.sample(1, rng, exclude=taken)[0]
    entries.append({"role": "random", "arch": space.arch_id(random_arch)})
    taken.add(entries[-1]["arch"])
    ranked = sorted(trials, key=lambda t: (-t["search_metric"], t["number"]))
    picks = np.unique(np.linspace(1, len(ranked) - 1, max(0, cfg.tau_archs - 3)).round())
    for k in picks.astype(int):
        arch = ranked[int(k)]["arch"]
        if arch not in taken:
            taken.add(arch)
            entries.append({"role": f"search rank {int(k) + 1}", "arch": arch})
    return entries


# -- stage 3: from scratch -----------------------------------------------------------------------
def scratch_checkpoint(out: Path, item: int) -> Path:
    return out / "scratch" / f"{item}.pt"


def train_from_scratch(
    cfg_dict: dict[str, Any], out_text: str, arch: str, item: int, report: Any = None
) -> dict[str, Any]:
    """Train one architecture from scratch with the pipeline's recipe (in a worker process),
    save it, and measure its validation alignment as the supernet was measured."""
    from seminas.tts.alignment import alignment_scores

    cfg = TTSPipelineConfig(**cfg_dict)
    out = Path(out_text)
    torch.set_num_threads(1)
    data = open_data(cfg, out)
    model = new_model(cfg, data, arch=arch, seed=cfg.seed)
    trainer = new_trainer(cfg, model, cfg.seed, threads=1)

    def on_step(step: int) -> None:
        if report is not None and (step % 20 == 0 or step == cfg.scratch_steps):
            report.put((item, step, cfg.scratch_steps))

    path = scratch_checkpoint(out, item)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.pt")
    start = time.perf_counter()
    losses = train_until(trainer, data, cfg.scratch_steps, cfg.batch_size, cfg.seed,
                         checkpoint=partial, on_step=on_step)
    seconds = time.perf_counter() - start
    save_checkpoint(path, {"model": model.state_dict(), "arch": arch, "config": model.config})
    partial.unlink(missing_ok=True)
    batches = data.validation_batches(None, cfg.batch_size)
    return {
        "arch": arch,
        "seconds_this_session": seconds,
        "steps": trainer.step,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "mel_loss_last_100": float(np.mean(losses[-100:])) if losses else None,
        "validation_free": alignment_scores(model, arch, batches, "free", cfg.seed),
        "validation_teacher": alignment_scores(model, arch, batches, "teacher", cfg.seed),
    }


def load_trained(cfg: TTSPipelineConfig, out: Path, item: int, data: PipelineData):
    state = torch.load(scratch_checkpoint(out, item), weights_only=False)
    model = new_model(cfg, data, arch=state["arch"], seed=cfg.seed)
    model.load_state_dict(state["model"])
    return model


def stage_scratch(
    cfg: TTSPipelineConfig,
    out: Path,
    comparison: list[dict[str, Any]],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Train every architecture of ``comparison`` not trained yet; all their results."""
    from seminas.tts.pipeline.pool import run_parallel

    progress = progress or NO_PROGRESS
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, entry in enumerate(comparison):
        kept = saved(out, "scratch", i)
        if kept is not None and kept.get("arch") == entry["arch"]:
            results[i] = kept
        else:
            todo.append(i)
    progress.start(f"from scratch ({cfg.scratch_steps} steps each)", len(comparison),
                   "architectures")  # fmt: skip
    progress.advance(len(results), f"{cfg.processes} in parallel")
    try:
        jobs = {i: (train_from_scratch, (cfg.to_dict(), str(out), comparison[i]["arch"], i))
                for i in todo}  # fmt: skip

        def finished(i: int, result: dict[str, Any]) -> None:
            save(out, "scratch", result, i)
            results[i] = result

        run_parallel(jobs, cfg.processes, finished, progress,
                     lambda i: str(comparison[i]["role"]))  # fmt: skip
    finally:
        progress.finish()
    return [results[i] for i in range(len(comparison))]
