"""Train the sampled-path NAS-Bench-201 supernet, then score every cell with inherited weights.

The ground truth of weight sharing's ranking quality: every one of the 15,625 cells is scored
by the supernet (its path's batch norms recalibrated on ``calib_batches`` fixed training batches
by :func:`seminas.supernet.train.recalibrate_bn`, then accuracy and loss on the held-out
images), and the scores are ranked against the benchmark's CIFAR-10 test accuracy (Kendall tau,
Spearman rho), overall and within the top 10% of cells by that accuracy.

- Training reuses :class:`seminas.supernet.train.SupernetTrainer` (SGD, cosine, label smoothing,
  checkpoints every ``log_every`` steps for resume, and DDP on ``processes`` local processes:
  every rank draws the same path and its own slice of each batch).
- Cells that compute the same function (edges that receive nothing or lead nowhere do not
  matter: 9,445 distinct functions among 15,625 cells) are scored once and share the score.
- Scores go into a :class:`~seminas.experiments.store.ResultsStore` one chunk at a time (one
  durable line per chunk), so an interrupted scoring resumes where it stopped; every record
  names the supernet's checksum, so a store of another supernet is refused.
- ``scores.npz``: arrays ``index`` (official NAS-Bench-201 index), ``score`` (held-out accuracy,
  %), ``loss`` (held-out cross-entropy) and ``meta`` (a JSON string: settings, timings,
  correlations) -- the weak labels an AceNAS-style predictor reads.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, atomic_write_text
from seminas.oneshot.supernet import NB201Shape, NB201Supernet, as_choice, build_supernet
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.nb201 import EDGES, NUM_EDGES, OPS, NB201Space

CHECKPOINT = "supernet.pt"
STORE = "scores.jsonl"
NPZ = "scores.npz"
SUMMARY = "summary.json"
STORE_KIND = "nb201-supernet-scores"


@dataclass(frozen=True)
class SupernetConfig:
    """The CPU size of the weight-sharing experiment (docs/oneshot.md has the timings)."""

    data: str = "cifar10-10k"
    data_dir: str | None = None
    heldout: float = 500  # held-out training images (a count, or a fraction < 1) for scoring
    seed: int = 0
    channels: int = 8
    cells_per_stage: int = 1
    epochs: float = 100.0
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    calib_batches: int = 2
    calib_batch_size: int = 64
    chunk: int = 250  # cells per durable store line
    limit: int | None = None  # score only this many cells (a seeded sample): tiny runs
    processes: int = 1  # DDP processes for training (gloo on CPU)
    threads: int = 1
    log_every: int = 200  # steps between checkpoints

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise SeminasError(f"supernet epochs must be positive, got {self.epochs}")
        if int(self.processes) < 1 or int(self.chunk) < 1:
            raise SeminasError("processes and chunk must be at least 1")
        if self.limit is not None and not 1 <= int(self.limit) <= NB201Space().size:
            raise SeminasError(f"limit must be 1..15625 cells, got {self.limit}")

    @property
    def shape(self) -> NB201Shape:
        return NB201Shape(self.channels, self.cells_per_stage, 10)

    def data_spec(self):
        from seminas.supernet.data import DataSpec

        return DataSpec(self.data, self.data_dir, None, self.heldout, self.seed)

    def recipe(self):
        from seminas.supernet.train import SupernetRecipe

        return SupernetRecipe(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                              weight_decay=self.weight_decay,
                              label_smoothing=self.label_smoothing)


# -- training ------------------------------------------------------------------------------------
def _train_here(cfg: SupernetConfig, out: Path, progress: Progress) -> dict[str, Any]:
    """Train in this process (one rank of a DDP job when the environment says so)."""
    from seminas.supernet.train import (
        SupernetTrainer,
        close_distributed,
        init_distributed,
        load_checkpoint,
    )

    info = init_distributed()
    report = progress if info.is_main else NO_PROGRESS
    try:
        torch.set_num_threads(max(1, int(cfg.threads)))
        source = cfg.data_spec().open(report)
        model = build_supernet(cfg.shape, cfg.seed)
        trainer = SupernetTrainer(model, source, cfg.recipe(), cfg.seed, info)
        path = out / CHECKPOINT
        if path.exists():
            state = load_checkpoint(path)
            same = state["shape"] == asdict(cfg.shape)
            if same and state.get("total_steps") == trainer.total_steps:
                trainer.load_state_dict(state)
        sampler = NB201Space().sample_one
        clock = time.process_time()
        report.start(f"NB201 supernet training ({info.world_size} process(es))",
                     trainer.total_steps, "steps")
        try:
            report.advance(trainer.step)
            while trainer.step < trainer.total_steps:
                n = min(int(cfg.log_every), trainer.total_steps - trainer.step)
                stats = trainer.train_steps(n, sampler)
                trainer.save(path)
                report.advance(n, f"loss {stats['loss']:.3f}  train acc {stats['acc']:.1f}%")
        finally:
            report.finish()
        return {"steps": trainer.step, "cpu_seconds": time.process_time() - clock,
                "world_size": info.world_size}
    finally:
        close_distributed()


def _rank_entry(rank: int, world: int, port: int, cfg: SupernetConfig, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    summary = _train_here(cfg, Path(out), NO_PROGRESS)
    Path(out, f".rank{rank}.json").write_text(json.dumps(summary))


def train_supernet(
    cfg: SupernetConfig, out: str | os.PathLike, progress: Progress = NO_PROGRESS
) -> tuple[NB201Supernet, dict[str, Any]]:
    """Train (or resume) the supernet into ``out/supernet.pt``; returns it and a summary
    (the CPU seconds are rank 0's)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if int(cfg.processes) > 1:
        import torch.multiprocessing as mp

        from seminas.supernet.train import free_port

        progress.start(f"NB201 supernet training ({cfg.processes} processes)", None)
        mp.spawn(_rank_entry, args=(int(cfg.processes), free_port(), cfg, str(out)),
                 nprocs=int(cfg.processes), join=True)
        progress.finish()
        summary = json.loads((out / ".rank0.json").read_text())
    else:
        summary = _train_here(cfg, out, progress)
    return load_supernet(out / CHECKPOINT), summary


def load_supernet(path: str | os.PathLike) -> NB201Supernet:
    """The supernet of a checkpoint written by :func:`train_supernet`."""
    from seminas.supernet.train import load_checkpoint

    state = load_checkpoint(path)
    try:
        shape = NB201Shape(**state["shape"])
        model = NB201Supernet(shape)
        model.load_state_dict(state["model"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise SeminasError(f"{path} is not a NAS-Bench-201 supernet checkpoint ({exc})") from None
    return model.use_channels_last()


def checksum(model: nn.Module) -> str:
    """A short fingerprint of the weights and buffers (which supernet scored a record)."""
    total = sum(float(t.detach().double().abs().sum()) for t in model.state_dict().values()
                if t.is_floating_point())
    return f"{total:.10e}"


# -- scoring -------------------------------------------------------------------------------------
def function_key(arch: Any) -> tuple[int, ...]:
    """Cells with the same key compute the same function: only edges that receive input and
    lead to the output matter (the others are zeroed)."""
    choice = as_choice(arch)
    alive = [True, False, False, False]
    live = []
    for k, (src, dst) in enumerate(EDGES):
        if OPS[choice[k]] != "none" and alive[src]:
            alive[dst] = True
            live.append(k)
    reach = {3}
    for k in reversed(live):
        src, dst = EDGES[k]
        if dst in reach:
            reach.add(src)
    return tuple(choice[k] if k in live and EDGES[k][1] in reach else 0
                 for k in range(NUM_EDGES))


@torch.no_grad()
def score_cell(model: NB201Supernet, arch: Any, source: Any, calibration: list[torch.Tensor],
               eval_batch: int = 500) -> tuple[float, float]:
    """(held-out accuracy %, held-out mean cross-entropy) of ``arch`` with inherited weights,
    its batch norms recalibrated first (the MobileNet supernet's recalibration, reused)."""
    from seminas.supernet.train import recalibrate_bn

    recalibrate_bn(model, arch, calibration)
    model.eval()
    correct = 0
    loss = 0.0
    total = 0
    for x, y in source.heldout_batches(eval_batch):
        logits = model(x, arch)
        correct += int((logits.argmax(1) == y).sum())
        loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        total += len(y)
    return 100.0 * correct / total, loss / total


def _store(out: Path) -> ResultsStore:
    return ResultsStore(out / STORE, STORE_KIND, key=lambda r: int(r["chunk"]),
                        valid=lambda r: isinstance(r["cells"], list) and "supernet" in r)


def score_cells(
    model: NB201Supernet, source: Any, cfg: SupernetConfig, out: str | os.PathLike,
    indices: list[int], arch_strings: list[str], progress: Progress = NO_PROGRESS,
) -> tuple[dict[int, tuple[float, float]], dict[str, Any]]:
    """Score the cells ``indices`` (official indices into ``arch_strings``), resuming from
    ``out/scores.jsonl``. Returns ``{index: (accuracy, loss)}`` and counts (``computed``: forward
    evaluations this call, ``reused``: cells already stored, ``shared``: cells whose twin
    function was scored)."""
    out = Path(out)
    store = _store(out)
    store.check_writable()
    fingerprint = checksum(model)
    records = store.read(repair=True)
    done: dict[int, tuple[float, float]] = {}
    by_function: dict[tuple[int, ...], tuple[float, float]] = {}
    for rec in records:
        if rec["supernet"] != fingerprint:
            raise SeminasError(
                f"{store.path} holds scores of another supernet: delete it or use another --out"
            )
        for index, acc, loss in rec["cells"]:
            done[int(index)] = (float(acc), float(loss))
            by_function[function_key(arch_strings[int(index)])] = (float(acc), float(loss))
    todo = [i for i in indices if i not in done]
    counts = {"reused": len(indices) - len(todo), "computed": 0, "shared": 0}
    calibration = source.calibration_batches(cfg.calib_batches, cfg.calib_batch_size, cfg.seed)
    next_chunk = max((int(r["chunk"]) for r in records), default=-1) + 1
    start = time.process_time()
    progress.start("scoring cells (BN recalibrated)", len(indices), "cells")
    progress.advance(counts["reused"])
    try:
        with store.exclusive("scoring"):
            for c in range(0, len(todo), int(cfg.chunk)):
                rows = []
                for index in todo[c : c + int(cfg.chunk)]:
                    key = function_key(arch_strings[index])
                    if key in by_function:
                        counts["shared"] += 1
                    else:
                        by_function[key] = score_cell(model, key, source, calibration)
                        counts["computed"] += 1
                    acc, loss = by_function[key]
                    done[index] = (acc, loss)
                    rows.append([index, acc, loss])
                store.append({"chunk": next_chunk, "supernet": fingerprint, "cells": rows})
                next_chunk += 1
                progress.advance(len(rows), f"{counts['computed']} evaluated")
    finally:
        progress.finish()
        model.train()
    counts["cpu_seconds"] = time.process_time() - start
    counts["seconds_per_evaluation"] = counts["cpu_seconds"] / max(1, counts["computed"])
    return {i: done[i] for i in indices}, counts


# -- ranking quality -----------------------------------------------------------------------------
def rank_quality(score: np.ndarray, truth: np.ndarray, top: float = 0.1) -> dict[str, Any]:
    """Kendall tau and Spearman rho of ``score`` against ``truth``, over all cells and over the
    ``top`` fraction of cells by ``truth``."""
    from scipy.stats import kendalltau, spearmanr

    score, truth = np.asarray(score, float), np.asarray(truth, float)

    def corr(mask: np.ndarray) -> dict[str, float | None]:
        if mask.sum() < 3 or np.ptp(score[mask]) == 0:
            return {"kendall_tau": None, "spearman_rho": None, "n": int(mask.sum())}
        return {"kendall_tau": float(kendalltau(score[mask], truth[mask])[0]),
                "spearman_rho": float(spearmanr(score[mask], truth[mask])[0]),
                "n": int(mask.sum())}

    cut = np.quantile(truth, 1 - top)
    return {"overall": corr(np.ones(len(truth), bool)), f"top{int(round(top * 100))}%":
            corr(truth >= cut)}


def write_npz(path: str | os.PathLike, index: np.ndarray, score: np.ndarray, loss: np.ndarray,
              meta: dict[str, Any]) -> Path:
    """The weak labels: ``index``, ``score``, ``loss`` and ``meta`` (JSON), atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, index=np.asarray(index, np.int64), score=np.asarray(score, np.float64),
             loss=np.asarray(loss, np.float64), meta=np.array(json.dumps(meta, sort_keys=True)))
    os.replace(tmp, path)
    return path


def read_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(index, score, meta)`` of a :func:`write_npz` file (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["index"], z["score"], json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise SeminasError(f"{path} is not a supernet scores file ({exc})") from None


def cells_to_score(cfg: SupernetConfig, n: int) -> list[int]:
    if cfg.limit is None:
        return list(range(n))
    rng = np.random.default_rng([int(cfg.seed), 31])
    return sorted(int(i) for i in rng.choice(n, size=int(cfg.limit), replace=False))


def run(cfg: SupernetConfig, out: str | os.PathLike, progress: Progress = NO_PROGRESS,
        benchmark: Any = None) -> dict[str, Any]:
    """Train, score, rank: writes ``supernet.pt``, ``scores.jsonl``, ``scores.npz`` and
    ``summary.json`` under ``out`` and returns the summary."""
    from seminas.benchmarks.nb201 import NB201Benchmark
    from seminas.benchmarks.nb201_table import metric_key

    out = Path(out)
    bench = benchmark or NB201Benchmark("cifar10")
    model, train_summary = train_supernet(cfg, out, progress)
    torch.set_num_threads(max(1, int(cfg.threads)))
    source = cfg.data_spec().open(progress)
    indices = cells_to_score(cfg, len(bench.arch_strings))
    scores, counts = score_cells(model, source, cfg, out, indices, bench.arch_strings, progress)
    idx = np.array(indices, dtype=np.int64)
    acc = np.array([scores[i][0] for i in indices])
    loss = np.array([scores[i][1] for i in indices])
    test = bench.table.get(metric_key("cifar10", "test_acc", 200))[idx]
    valid = bench.table.get(metric_key("cifar10-valid", "valid_acc", 200))[idx]
    summary = {
        "config": asdict(cfg),
        "training": train_summary,
        "scoring": counts,
        "cells": len(indices),
        "against_cifar10_test": rank_quality(acc, test),
        "loss_against_cifar10_test": rank_quality(-loss, test),
        "against_cifar10_valid": rank_quality(acc, valid),
        "best_by_supernet": bench.arch_strings[int(idx[int(np.argmax(acc))])],
        "best_by_supernet_test_accuracy": float(test[int(np.argmax(acc))]),
    }
    write_npz(out / NPZ, idx, acc, loss, summary)
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary


def _finite(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3f}"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A few lines for the command line."""
    lines = [f"cells scored: {summary['cells']}  (evaluated {summary['scoring']['computed']}, "
             f"{summary['scoring']['seconds_per_evaluation']:.3f} CPU s each)"]
    for name in ("against_cifar10_test", "loss_against_cifar10_test"):
        q = summary[name]
        top = next(k for k in q if k.startswith("top"))
        lines.append(f"{name}: tau {_finite(q['overall']['kendall_tau'])}, rho "
                     f"{_finite(q['overall']['spearman_rho'])}; {top}: tau "
                     f"{_finite(q[top]['kendall_tau'])}, rho {_finite(q[top]['spearman_rho'])}")
    return lines
