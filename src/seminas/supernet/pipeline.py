"""SemiNAS's ImageNet experiment end to end, at any scale: supernet -> search -> from scratch.

1. **Supernet**: trained with uniformly sampled feasible paths on the training split
   (``processes`` ranks through ``torch.distributed``; gloo on CPUs), rank 0 writes
   ``supernet.pt``. Its quality is measured on a few random paths, with and without batch-norm
   recalibration.
2. **Search**: SemiNAS (a controller preset) over the FLOPs-constrained space; each query is a
   supernet score (held-out accuracy after recalibration), and the supernet keeps training
   between iterations on paths from the pool. Over-limit candidates never reach an evaluation.
3. **Comparison set**: the chosen architecture, a random feasible one, a MobileNet-v2-like one
   of similar FLOPs (every layer k3e6, depth cut to match) and architectures spread over the
   search's score range, all re-scored on the final supernet.
4. **From scratch**: every one of them trained with the same recipe (in parallel, one process
   per core), reporting held-out and test accuracy; Kendall tau between supernet scores and
   from-scratch accuracy measures how far the weight-sharing ranking can be trusted.

Every stage writes its result into the output directory and is skipped when run again with the
same configuration, so an interrupted pipeline resumes where it stopped (a from-scratch training
is the unit: finished ones are kept).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, atomic_write_text
from seminas.spaces.mobilenet import (
    FINAL_SHAPE,
    FINAL_WIDTHS,
    SEARCH_SHAPE,
    SEARCH_WIDTHS,
    MobileNetArch,
    MobileNetSpace,
    NetworkShape,
    flops,
    format_flops,
    mobilenet_v2_like,
    scale_width,
)
from seminas.supernet.data import DataSpec, check_data_source

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that determines a pipeline run (the output directory remembers it)."""

    data: str = "cifar10-10k"
    data_dir: str | None = None
    image_size: int | None = None
    heldout: float = 0.1  # of the training images, for scoring and validation
    seed: int = 0
    max_flops: int | None = 600_000_000  # MACs of the final network at 224x224 (paper: 600M)
    width_mult: float = 0.35  # every width of the networks actually trained here
    final_widths: bool = True  # from-scratch networks use the paper's final widths
    # supernet
    supernet_epochs: float = 8.0
    supernet_batch: int = 128
    supernet_lr: float = 0.1
    sharing: str = "nested"  # "nested" (Once-for-All style) or "independent" (paper's code)
    supernet_weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    processes: int = 2  # ranks for supernet training; workers for from-scratch training
    threads: int = 1  # torch threads per process
    continue_steps: int = 35  # supernet steps before each search iteration
    sampling: str = "pool"  # paths for continued training: "pool" (paper) or "uniform"
    calib_batches: int = 4
    calib_batch_size: int = 128
    # search
    preset: str = "mobilenet-cpu"
    budget: int = 100
    overrides: dict[str, Any] = field(default_factory=dict)
    # from scratch
    scratch_epochs: int = 5
    scratch_batch: int = 128
    scratch_lr: float = 0.1
    scratch_weight_decay: float = 5e-4
    tau_archs: int = 8  # architectures from the search trained for the tau (chosen included)
    bn_check_paths: int = 10  # random paths scored with and without recalibration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # the 2-core CPU run of the README (CIFAR-10 subset, about half an hour)
    "cpu": {},
    # a minute-long run for trying the command (not a result)
    "tiny": {
        "supernet_epochs": 0.3,
        "continue_steps": 3,
        "budget": 12,
        "overrides": {"initial": 6, "per_iteration": 3, "unlabeled": 50, "pretrain_epochs": 20,
                      "epochs": 5, "top_k": 6},
        "scratch_epochs": 1,
        "tau_archs": 3,
        "bn_check_paths": 2,
        "calib_batches": 1,
    },
}


def config_from_preset(name: str, **changes: Any) -> PipelineConfig:
    if name not in PRESETS:
        raise SeminasError(f"unknown pipeline preset {name!r} (available: {', '.join(PRESETS)})")
    base = {**PRESETS[name]}
    overrides = {**base.pop("overrides", {}), **(changes.pop("overrides", None) or {})}
    return PipelineConfig(**{**base, **{k: v for k, v in changes.items() if v is not None}},
                          overrides=overrides)


def shape_fields(widths: tuple[int, ...], multiplier: float) -> dict[str, Any]:
    """NetworkShape fields (without data-dependent ones) for ``widths`` times ``multiplier``."""
    return {
        "widths": tuple(scale_width(w, multiplier) for w in widths),
        "stem": scale_width(32, multiplier),
        "first": scale_width(16, multiplier),
        "head": scale_width(1280, multiplier),
    }


def validate_config(cfg: PipelineConfig) -> MobileNetSpace:
    """Fail fast, in one line, on anything a user can get wrong; the constrained space. The
    settings are checked before the data, so a wrong setting is named even where the data
    is missing."""
    if cfg.sharing not in ("nested", "independent"):
        raise SeminasError(f"sharing must be nested or independent, got {cfg.sharing!r}")
    if cfg.sampling not in ("pool", "uniform"):
        raise SeminasError(f"--sampling must be pool or uniform, got {cfg.sampling!r}")
    if not cfg.width_mult > 0:
        raise SeminasError(f"width multiplier must be positive, got {cfg.width_mult}")
    if cfg.processes < 1 or cfg.threads < 1:
        raise SeminasError("processes and threads must be at least 1")
    if cfg.budget < 2:
        raise SeminasError(f"budget must be at least 2 architectures, got {cfg.budget}")
    from seminas.strategies import make_strategy

    make_strategy("seminas", cfg.preset, **cfg.overrides)  # unknown preset/option: one line
    space = MobileNetSpace(cfg.max_flops)
    check_data_source(cfg.data, cfg.data_dir)
    return space


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


STAGES_FILE = "stages.jsonl"


def _stages(out: Path) -> ResultsStore:
    """Each finished stage (and each from-scratch training) is one record of the common
    results store, so a resumed pipeline redoes only what had not finished."""
    return ResultsStore(
        out / STAGES_FILE, "mobilenet-pipeline", key=lambda r: (str(r["stage"]), int(r["item"]))
    )


def _saved(out: Path, stage: str, item: int = 0) -> Any:
    for record in _stages(out).read(repair=True):
        if record["stage"] == stage and int(record["item"]) == item:
            return record["result"]
    return None


def _save(out: Path, stage: str, result: Any, item: int = 0) -> None:
    clean = json.loads(json.dumps(result, default=_json_default))
    _stages(out).append({"stage": stage, "item": item, "result": clean})


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (DDP ranks, training workers).

    On a shared machine wall time depends on everyone else's load; CPU time divided by the
    cores used says what the run costs on an otherwise idle machine.
    """
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _console():
    from rich.console import Console

    return Console(stderr=True)


# -- stage 1: supernet ---------------------------------------------------------------------------
def planned_continue_steps(cfg: PipelineConfig) -> int:
    """Supernet steps the search will add, so the cosine schedule spans them too."""
    from seminas.strategies import make_strategy

    c = make_strategy("seminas", cfg.preset, **cfg.overrides).config
    iterations = max(0, math.ceil((cfg.budget - min(c.initial, cfg.budget)) / c.per_iteration))
    return iterations * cfg.continue_steps


def supernet_job(cfg: PipelineConfig, out: Path):
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


def data_spec(cfg: PipelineConfig) -> DataSpec:
    return DataSpec(cfg.data, cfg.data_dir, cfg.image_size, cfg.heldout, cfg.seed)


def stage_supernet(cfg: PipelineConfig, out: Path, quiet: bool = False) -> dict[str, Any]:
    from seminas.supernet.train import run_train_job, spawn_local

    done = _saved(out, "supernet")
    if done is not None and (out / "supernet.pt").is_file():
        return done
    job = supernet_job(cfg, out)
    start = time.perf_counter()
    if cfg.processes > 1:
        ranks = spawn_local(job, cfg.processes, str(out / "ranks"))
    else:
        ranks = [run_train_job(job, quiet=quiet)]
    train_seconds = time.perf_counter() - start
    summary = {
        "processes": cfg.processes,
        "seconds": train_seconds,
        "steps": int(ranks[0]["steps"]),
        "replicas_identical": len({r["checksum"] for r in ranks}) == 1,
        "weight_checksums": [r["checksum"] for r in ranks],
    }
    summary.update(_bn_check(cfg, out, quiet))
    _save(out, "supernet", summary)
    return summary


def _open_supernet(cfg: PipelineConfig, out: Path):
    from seminas.supernet.train import (
        Scorer,
        SupernetTrainer,
        load_checkpoint,
        model_from_checkpoint,
    )

    torch.set_num_threads(cfg.threads)
    state = load_checkpoint(out / "supernet.pt")
    model = model_from_checkpoint(state)
    source = data_spec(cfg).open()
    trainer = SupernetTrainer(
        model, source, _recipe_from(state), cfg.seed, total_steps=int(state["total_steps"])
    )
    trainer.load_state_dict(state)
    scorer = Scorer(source, cfg.calib_batches, cfg.calib_batch_size, seed=cfg.seed)
    return trainer, scorer, source


def _recipe_from(state: dict[str, Any]):
    from seminas.supernet.train import SupernetRecipe

    return SupernetRecipe(**state["recipe"])


def _bn_check(cfg: PipelineConfig, out: Path, quiet: bool) -> dict[str, Any]:
    """Held-out accuracy of random feasible paths with the supernet's own running statistics
    (what the SemiNAS code scored with) and after recalibration (what we score with)."""
    from seminas.supernet.train import accuracy_on, recalibrate_bn

    trainer, scorer, source = _open_supernet(cfg, out)
    space = MobileNetSpace(cfg.max_flops)
    rng = np.random.default_rng([cfg.seed, 21])
    archs = space.sample(cfg.bn_check_paths, rng)
    plain, recal = [], []
    with _bar(quiet) as bar:
        task = bar.add_task("supernet: scoring random paths", total=len(archs), info="")
        for arch in archs:
            model = trainer.model
            state = {k: v.clone() for k, v in model.state_dict().items()}
            plain.append(accuracy_on(model, arch, source.heldout_batches(500)))
            recalibrate_bn(model, arch, scorer.calibration)
            recal.append(accuracy_on(model, arch, source.heldout_batches(500)))
            model.load_state_dict(state)
            bar.advance(task)
    return {
        "random_paths": [space.arch_id(a) for a in archs],
        "heldout_accuracy_running_stats": plain,
        "heldout_accuracy_recalibrated": recal,
        "mean_running_stats": float(np.mean(plain)),
        "mean_recalibrated": float(np.mean(recal)),
    }


def _bar(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=_console(),
        disable=quiet,
    )


# -- stage 2: search -----------------------------------------------------------------------------
def stage_search(cfg: PipelineConfig, out: Path, quiet: bool = False) -> dict[str, Any]:
    from seminas.strategies import make_strategy, run_search
    from seminas.supernet.evaluator import SupernetBackend, SupernetEvaluator

    done = _saved(out, "search")
    if done is not None:
        return done
    trainer, scorer, _ = _open_supernet(cfg, out)
    space = MobileNetSpace(cfg.max_flops)
    strategy = make_strategy("seminas", cfg.preset, **cfg.overrides)
    start = time.perf_counter()
    with _bar(quiet) as bar:
        task = bar.add_task("search: scoring on the supernet", total=cfg.budget, info="")
        train_task = bar.add_task("search: supernet training", total=None, info="", visible=False)

        def on_training(_: str, done_steps: int, total: int) -> None:
            bar.update(train_task, completed=done_steps, total=total, visible=True)

        def on_event(ctx) -> None:
            best = ctx.best_search_metric()
            bar.update(
                task, completed=len(ctx.trials),
                info=f"{ctx.phase:<16} best {'-' if best is None else f'{best:.2f}%'}",
            )

        evaluator = SupernetEvaluator(
            space, trainer, scorer, cfg.continue_steps, cfg.sampling, on_training
        )
        result = run_search(
            strategy, evaluator, cfg.budget, cfg.seed, on_event, backend=SupernetBackend()
        )
    search_seconds = time.perf_counter() - start
    best = result.best
    assert best is not None
    chosen = space.validate(best.arch)
    trials = result.to_dict()["trials"]
    for t in trials:
        t["flops"] = flops(space.validate(t["arch"]))
    comparison = _comparison_set(cfg, space, chosen, trials)
    rescored = {}
    start_rescore = time.perf_counter()
    with _bar(quiet) as bar:
        task = bar.add_task("re-scoring on the final supernet", total=len(comparison), info="")
        for entry in comparison:
            arch = space.validate(entry["arch"])
            rescored[entry["arch"]] = scorer.score(trainer.model, arch)
            bar.advance(task)
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
    _save(out, "search", summary)
    return summary


def _comparison_set(
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


# -- stage 3: from scratch ------------------------------------------------------------------------
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


def final_network_shape(cfg: PipelineConfig, num_classes: int, resolution: int) -> NetworkShape:
    widths = FINAL_WIDTHS if cfg.final_widths else SEARCH_WIDTHS
    return NetworkShape(
        **shape_fields(widths, cfg.width_mult),
        num_classes=num_classes,
        resolution=resolution,
        cifar=resolution <= 64,
    )


def stage_scratch(
    cfg: PipelineConfig, out: Path, comparison: list[dict[str, Any]], quiet: bool = False
) -> list[dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, entry in enumerate(comparison):
        saved = _saved(out, "scratch", i)
        if saved is not None and saved.get("arch") == entry["arch"]:
            results[i] = saved
        else:
            todo.append(i)
    with _bar(quiet) as bar:
        task = bar.add_task(
            f"from scratch ({cfg.scratch_epochs} epochs each)", total=len(comparison),
            completed=len(results), info=f"{cfg.processes} in parallel",
        )
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
                        _save(out, "scratch", res, i)
                        results[i] = res
                        steps.pop(i, None)
                    running = ", ".join(
                        f"{comparison[i]['role']} {d}/{t} steps" for i, (d, t) in
                        sorted(steps.items())
                    )
                    bar.update(task, completed=len(results), info=running)
    return [results[i] for i in range(len(comparison))]


# -- the whole thing -----------------------------------------------------------------------------
def run_pipeline(
    cfg: PipelineConfig,
    out_dir: str | os.PathLike,
    quiet: bool = False,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the pipeline into ``out_dir``; returns the results (also written as
    ``results.json`` and ``results.md``)."""
    space = validate_config(cfg)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    saved = _read_json(out / "config.json")
    if saved is not None and saved != json.loads(json.dumps(cfg.to_dict())):
        raise SeminasError(
            f"{out} holds a pipeline run with a different configuration: give another --out "
            f"(or delete {out})"
        )
    _write_json(out / "config.json", cfg.to_dict())
    say = log or (lambda text: None if quiet else _console().print(text))
    wall0 = time.perf_counter()
    cpu0 = cpu_seconds()
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}

    t, c = time.perf_counter(), cpu_seconds()
    say(f"[bold]1/3 supernet[/bold]: {cfg.supernet_epochs} epochs on {cfg.processes} "
        f"process(es), width x{cfg.width_mult}, FLOPs limit "
        f"{'none' if space.max_flops is None else format_flops(space.max_flops)}")
    supernet = stage_supernet(cfg, out, quiet)
    times["supernet"] = time.perf_counter() - t
    cpu["supernet"] = cpu_seconds() - c

    t, c = time.perf_counter(), cpu_seconds()
    say(f"[bold]2/3 search[/bold]: SemiNAS ({cfg.preset}), {cfg.budget} architectures scored "
        f"on the supernet, {cfg.continue_steps} supernet steps between iterations")
    search = stage_search(cfg, out, quiet)
    times["search"] = time.perf_counter() - t
    cpu["search"] = cpu_seconds() - c

    t, c = time.perf_counter(), cpu_seconds()
    comparison = search["comparison"]
    say(f"[bold]3/3 from scratch[/bold]: {len(comparison)} architectures, "
        f"{cfg.scratch_epochs} epochs each")
    scratch = stage_scratch(cfg, out, comparison, quiet)
    times["from_scratch"] = time.perf_counter() - t
    cpu["from_scratch"] = cpu_seconds() - c
    times["total_this_session"] = time.perf_counter() - wall0
    cpu["total_this_session"] = cpu_seconds() - cpu0

    results = _assemble(cfg, space, supernet, search, comparison, scratch, times, command)
    results["cpu_seconds_this_session"] = cpu
    _write_json(out / RESULTS_JSON, results)
    atomic_write_text(out / RESULTS_MD, render_markdown(results))
    return results


def _assemble(cfg, space, supernet, search, comparison, scratch, times, command):
    from scipy.stats import kendalltau

    rows = []
    for entry, res in zip(comparison, scratch, strict=True):
        arch = space.validate(entry["arch"])
        rows.append(
            {
                "role": entry["role"],
                "arch": entry["arch"],
                "flops_224_final": flops(arch, FINAL_SHAPE),
                "flops_224_search": flops(arch, SEARCH_SHAPE),
                "network_flops": res["network_flops"],
                "params": res["params"],
                "supernet_score": entry["supernet_score"],
                "heldout_accuracy": res["heldout_accuracy"],
                "test_accuracy": res["test_accuracy"],
                "train_seconds": res["seconds"],
            }
        )
    scores = [r["supernet_score"] for r in rows]

    def tau(values: list[float | None]) -> dict[str, Any] | None:
        """Kendall tau with its p-value; None where undefined (a constant or missing list)."""
        if None in values or len(values) < 2:
            return None
        t, p = kendalltau(scores, values)
        if not np.isfinite(t):
            return None
        return {"tau": float(t), "p": float(p), "n": len(values)}

    chosen = rows[0]
    stage_seconds = {
        "supernet": supernet["seconds"] + 0.0,
        "search": search["seconds"] + search.get("rescore_seconds", 0.0),
        "from_scratch": sum(r["train_seconds"] for r in rows) / max(1, cfg.processes),
    }
    return {
        "command": command,
        "config": cfg.to_dict(),
        "supernet": supernet,
        "search": {k: v for k, v in search.items() if k not in ("trials", "comparison",
                                                                  "diagnostics")},
        "trials": len(search["trials"]),
        "architectures": rows,
        "kendall_tau_heldout": tau([r["heldout_accuracy"] for r in rows]),
        "kendall_tau_test": tau([r["test_accuracy"] for r in rows]),
        "chosen_respects_limit": space.max_flops is None
        or chosen["flops_224_final"] <= space.max_flops,
        "wall_seconds_this_session": times,
        "stage_seconds_recorded": stage_seconds,
    }


def idle_estimate(cpu: dict[str, float], processes: int) -> float:
    """Wall seconds the recorded CPU time takes on ``processes`` otherwise idle cores."""
    p = max(1, processes)
    return (
        cpu.get("supernet", 0.0) / p + cpu.get("search", 0.0) + cpu.get("from_scratch", 0.0) / p
    )


def table_safe(text: str) -> str:
    """An architecture string inside a Markdown table: its stage separators escaped, since
    GitHub splits table cells at every ``|``, even inside backticks."""
    return text.replace("|", "\\|")


def render_markdown(res: dict[str, Any]) -> str:
    cfg = res["config"]
    sn = res["supernet"]
    lines = [
        "# MobileNet-v2 space: supernet -> SemiNAS -> from scratch",
        "",
        f"Command: `{res['command']}`" if res.get("command") else "",
        "",
        f"Data `{cfg['data']}` (held-out {cfg['heldout']:.0%} of the training images for "
        f"scoring and validation), networks at width x{cfg['width_mult']}, FLOPs limit "
        f"{'none' if cfg['max_flops'] is None else format_flops(cfg['max_flops'])} "
        f"(multiply-adds of the paper's final network at 224x224).",
        "",
        "## Supernet",
        "",
        f"- {cfg['supernet_epochs']} epochs, {sn['steps']} steps of batch {cfg['supernet_batch']} "
        f"on {sn['processes']} process(es) (DDP, gloo) in {sn['seconds'] / 60:.1f} min; "
        f"replicas identical after training: {sn['replicas_identical']}",
        f"- held-out accuracy of {len(sn['random_paths'])} random feasible paths: "
        f"**{sn['mean_recalibrated']:.2f}%** after batch-norm recalibration, "
        f"{sn['mean_running_stats']:.2f}% with the supernet's running statistics "
        f"(no recalibration, as the SemiNAS code)",
        "",
        "## Search",
        "",
    ]
    s = res["search"]
    lines += [
        f"- SemiNAS preset `{s['preset']}`: {s['queries']} architectures scored on the supernet "
        f"in {s['seconds'] / 60:.1f} min; supernet trained {cfg['continue_steps']} more steps "
        f"before each iteration (paths from the pool)",
        f"- largest FLOPs of any scored architecture: {format_flops(s['max_trial_flops'])} "
        f"(limit {'none' if s['max_flops'] is None else format_flops(s['max_flops'])}); "
        f"over-limit decodes rejected before evaluation (never charged): "
        f"{s['over_limit_decodes_rejected']}",
        f"- chosen: `{s['chosen']['arch']}` (query {s['chosen']['query']}, supernet score "
        f"{s['chosen']['supernet_score']:.2f}%)",
        "",
        "## From scratch (same recipe for all: "
        f"{cfg['scratch_epochs']} epochs, batch {cfg['scratch_batch']}, lr {cfg['scratch_lr']}, "
        f"cosine, {'final' if cfg['final_widths'] else 'search'} widths x{cfg['width_mult']})",
        "",
        "| role | architecture | FLOPs (224, final widths) | FLOPs (this net) | params | "
        "supernet score | held-out acc | test acc |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["architectures"]:
        test = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2f}%"
        lines.append(
            f"| {r['role']} | `{table_safe(r['arch'])}` | {format_flops(r['flops_224_final'])} | "
            f"{format_flops(r['network_flops'])} | {r['params'] / 1e6:.2f}M | "
            f"{r['supernet_score']:.2f}% | {r['heldout_accuracy']:.2f}% | {test} |"
        )
    def tau_text(t: dict[str, Any] | None) -> str:
        return "undefined" if t is None else f"**{t['tau']:.2f}** (n = {t['n']}, p = {t['p']:.2f})"

    lines += [
        "",
        "Kendall tau between supernet score and from-scratch accuracy: held-out "
        f"{tau_text(res['kendall_tau_heldout'])}, test {tau_text(res['kendall_tau_test'])}.",
        "",
        f"Chosen architecture within the FLOPs limit: {res['chosen_respects_limit']}.",
        "",
    ]
    w = res["wall_seconds_this_session"]
    lines.append(
        "Wall time of this session: "
        + ", ".join(f"{k.replace('_', ' ')} {v / 60:.1f} min" for k, v in w.items())
        + "."
    )
    c = res.get("cpu_seconds_this_session")
    if c:
        lines.append(
            "CPU time (all processes): "
            + ", ".join(f"{k.replace('_', ' ')} {v / 60:.1f} min" for k, v in c.items())
            + f"; on an otherwise idle machine with {cfg['processes']} cores that is about "
            f"{idle_estimate(c, cfg['processes']) / 60:.0f} min of wall time (supernet and "
            f"from-scratch stages on {cfg['processes']} processes, the search on one)."
        )
    return "\n".join(x for x in lines if x is not None) + "\n"


__all__ = [
    "PRESETS",
    "PipelineConfig",
    "config_from_preset",
    "render_markdown",
    "run_pipeline",
]
