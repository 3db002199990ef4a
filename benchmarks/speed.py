"""How fast SemiNAS runs on this machine: controller throughput, pseudo-labeling, generation, and
complete searches with the paper's schedule and with the ``fast`` preset, side by side.

    python benchmarks/speed.py                      # everything (the paper search takes long)
    python benchmarks/speed.py --skip-paper-search  # minutes: everything but the paper search

Writes ``benchmarks/results/speed.json`` and prints a table. Each complete search runs in a
fresh process so that its peak resident memory (RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seminas.controller import ControllerTrainer
from seminas.strategies import make_strategy
from seminas.strategies.base import SearchContext
from seminas.strategies.seminas import SemiNAS

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "load_average_at_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _trainer(space, preset: str) -> ControllerTrainer:
    strategy = make_strategy("seminas", preset)
    return strategy._trainer(_Ctx(space))  # only the shape and training settings are used


class _Ctx:
    def __init__(self, space) -> None:
        self.space = space


def throughput(
    space, preset: str, threads: int, batch_size: int, n: int = 3000, epochs: int = 2
) -> dict[str, Any]:
    """Training samples per second with the preset's settings at a given batch size."""
    from dataclasses import replace

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    trainer = _trainer(space, preset)
    trainer.train_config = replace(trainer.train_config, batch_size=batch_size)
    tokens = trainer.tokens(space.sample(n, rng))
    y = rng.normal(size=n)
    trainer.fit(tokens[:500], y[:500], 1)  # warm-up
    start = time.perf_counter()
    trainer.fit(tokens, y, epochs)
    seconds = time.perf_counter() - start
    torch.set_num_threads(previous)
    rate = n * epochs / seconds
    return {
        "preset": preset,
        "threads": threads,
        "batch_size": trainer.train_config.batch_size,
        "seq_len": space.seq_len,
        "samples_per_second": rate,
        "ms_per_step": 1000 * seconds / (epochs * -(-n // trainer.train_config.batch_size)),
    }


def pseudo_label_time(space, preset: str, n: int = 10_000) -> dict[str, Any]:
    """Sampling, encoding and predicting ``n`` fresh architectures."""
    rng = np.random.default_rng(1)
    trainer = _trainer(space, preset)
    exclude = {space.arch_id(a) for a in space.sample(100, rng)}
    start = time.perf_counter()
    archs = space.sample(n, rng, exclude=exclude)
    sampled = time.perf_counter()
    tokens = trainer.tokens(archs)
    encoded = time.perf_counter()
    trainer.predict(tokens)
    done = time.perf_counter()
    return {
        "architectures": n,
        "sample_s": sampled - start,
        "encode_s": encoded - sampled,
        "predict_s": done - encoded,
        "total_s": done - start,
    }


def generation_time(evaluator, preset: str, seeds: int = 100, quota: int = 100) -> dict[str, Any]:
    """One generation round: gradient ascent from ``seeds`` architectures until ``quota`` new,
    valid, never-evaluated ones are decoded (the controller is briefly trained first)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    space = evaluator.space
    strategy = make_strategy("seminas", preset)
    ctx = SearchContext(space, evaluator, budget=10_000)
    trainer = strategy._trainer(ctx)
    archs = space.sample(500, rng)
    y = np.array([evaluator.lookup(a).search_metric for a in archs])
    trainer.standardise_with(y)
    trainer.fit(trainer.tokens(archs), y, 20)
    seed_tokens = trainer.tokens(archs[:seeds])
    start = time.perf_counter()
    new, _, stats = strategy._generate(ctx, trainer, seed_tokens, quota)
    return {"seeds": seeds, "quota": quota, "seconds": time.perf_counter() - start, **stats}


def _search_child(args: tuple[str, int, int, str, str | None], queue) -> None:
    preset, budget, seed, space, nb101_file = args
    if os.environ.get("SEMINAS_SPEED_THREADS"):
        torch.set_num_threads(int(os.environ["SEMINAS_SPEED_THREADS"]))
    from seminas.benchmarks.factory import make_evaluator
    from seminas.strategies import run_search

    evaluator = make_evaluator(space, nb101_file=nb101_file)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_search(make_strategy("seminas", preset), evaluator, budget, seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    traj = result.trajectory()
    queue.put(
        {
            "preset": preset,
            "space": space,
            "budget": budget,
            "seed": seed,
            "wall_seconds": wall,
            "cpu_seconds": cpu,  # all threads; unlike wall time, barely moved by other load
            "load_average_at_end": os.getloadavg(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "best_report": result.best.report_metric,
            "best_report_at": {str(k): traj[k - 1][1] for k in (100, 150, 300) if k <= budget},
        }
    )


def complete_search(
    preset: str, budget: int, seed: int = 0, space: str = "nb201", nb101_file: str | None = None
) -> dict[str, Any]:
    """One whole search in a fresh process (its own peak RSS), wall time from the first query."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    job = (preset, budget, seed, space, nb101_file)
    proc = ctx.Process(target=_search_child, args=(job, queue))
    started = time.perf_counter()
    proc.start()
    out = queue.get()
    proc.join()
    out["process_seconds"] = time.perf_counter() - started
    return out


def schedule_projection(evaluator, preset: str, budget: int) -> dict[str, Any]:
    """Time per controller epoch at the preset's sizes, and the whole search's controller
    training time projected from it (epochs x samples x measured seconds per sample)."""
    space = evaluator.space
    c = SemiNAS.from_preset(preset).config
    torch.manual_seed(0)
    trainer = _trainer(space, preset)
    rng = np.random.default_rng(3)
    labeled = space.sample(c.initial, rng)
    y = np.array([evaluator.lookup(a).search_metric for a in labeled])
    trainer.standardise_with(y)
    tokens = trainer.tokens(labeled)
    start = time.perf_counter()
    trainer.fit(tokens, y, 2)
    pre_epoch = (time.perf_counter() - start) / 2
    unlabeled = trainer.tokens(space.sample(c.unlabeled, rng)) if c.unlabeled else tokens[:0]
    mix = torch.cat([tokens.repeat(c.upsample, 1), unlabeled])
    mix_y = np.concatenate([np.tile(y, c.upsample), np.zeros(len(unlabeled))])
    start = time.perf_counter()
    trainer.fit(mix, mix_y, 1)
    iter_epoch = time.perf_counter() - start
    per_sample = iter_epoch / len(mix)
    labeled_sizes = list(range(c.initial, budget, c.per_iteration))
    epochs = [
        c.first_epochs if i == 0 and c.first_epochs is not None else c.epochs
        for i in range(len(labeled_sizes))
    ]
    projected = pre_epoch * c.pretrain_epochs + sum(
        e * per_sample * (c.upsample * n + c.unlabeled)
        for e, n in zip(epochs, labeled_sizes, strict=True)
    )
    return {
        "preset": preset,
        "space": getattr(evaluator, "describe", lambda: {})().get("space"),
        "table_cells": len(getattr(evaluator, "table", ())) or None,
        "budget": budget,
        "iterations": len(labeled_sizes),
        "pretrain_epoch_seconds": pre_epoch,
        "iteration_epoch_samples": len(mix),
        "iteration_epoch_seconds": iter_epoch,
        "projected_training_seconds": projected,
    }


def synthetic_nb101(workdir: Path, cells: int = 15_000):
    """An evaluator over a synthetic NAS-Bench-101 table written in the official format."""
    from seminas.benchmarks.factory import make_evaluator
    from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101

    path = workdir / "synthetic_nb101.tfrecord"
    if not path.exists():
        write_synthetic_nb101(path, synthetic_specs(cells, seed=0), seed=0)
    return make_evaluator("nb101", nb101_file=path)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="controller training throughput")
    for col in ("space", "threads", "batch", "samples/s", "ms/step"):
        t.add_column(col)
    for row in report["throughput"]:
        t.add_row(
            row["space"], str(row["threads"]), str(row["batch_size"]),
            f"{row['samples_per_second']:,.0f}", f"{row['ms_per_step']:.1f}",
        )
    console.print(t)
    pl = report["pseudo_label"]
    console.print(
        f"pseudo-labeling {pl['architectures']:,} NB201 architectures: {pl['total_s']:.2f} s "
        f"(sample {pl['sample_s']:.2f}, encode {pl['encode_s']:.2f}, predict {pl['predict_s']:.2f})"
    )
    g = report["generation"]
    console.print(
        f"one generation round ({g['seeds']} seeds -> {g['new']} new): {g['seconds']:.2f} s, "
        f"{g['decoded']} decoded"
    )
    s = Table(title="complete SemiNAS searches, NAS-Bench-201 CIFAR-10")
    for col in ("preset", "budget", "wall s", "CPU s", "peak RSS MB", "best test @100/150/300"):
        s.add_column(col)
    for row in report["searches"]:
        at = row["best_report_at"]
        s.add_row(
            row["preset"], str(row["budget"]), f"{row['wall_seconds']:.1f}",
            f"{row['cpu_seconds']:.1f}",
            f"{row['peak_rss_mb']:.0f}", " / ".join(f"{at[k]:.2f}" for k in sorted(at, key=int)),
        )
    console.print(s)
    if report.get("speedup") is not None:
        console.print(
            f"paper / fast ratio: wall time {report['speedup']:.1f}x, "
            f"CPU time {report['speedup_cpu']:.1f}x"
        )
    for row in report["projections"]:
        console.print(
            f"{row['space']} {row['preset']}: pre-training epoch "
            f"{row['pretrain_epoch_seconds']:.3f} s, "
            f"iteration epoch ({row['iteration_epoch_samples']:,} samples) "
            f"{row['iteration_epoch_seconds']:.2f} s, projected training for budget "
            f"{row['budget']}: {row['projected_training_seconds'] / 60:.1f} min"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "speed.json"))
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast-preset", default="fast")
    parser.add_argument("--paper-preset", default="paper-nb201")
    parser.add_argument(
        "--skip-paper-search", action="store_true",
        help="skip the complete search with the paper's schedule (about an hour on 2 cores)",
    )
    parser.add_argument(
        "--searches-only", action="store_true",
        help="only the complete searches (to pair the paper search with a fast one)",
    )
    parser.add_argument("--threads", type=int, help="torch threads in the search processes")
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["SEMINAS_SPEED_THREADS"] = str(args.threads)

    from seminas.benchmarks.nb201 import NB201Benchmark
    from seminas.spaces.nb101 import NB101Space

    report: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M")}
    nb201 = NB201Benchmark("cifar10")
    nb101 = NB101Space()
    if args.searches_only:
        report["searches"] = [complete_search(args.fast_preset, args.budget, args.seed)]
        paper = complete_search(args.paper_preset, args.budget, args.seed)
        report["searches"].append(paper)
        fast = report["searches"][0]
        report["speedup"] = paper["wall_seconds"] / fast["wall_seconds"]
        report["speedup_cpu"] = paper["cpu_seconds"] / fast["cpu_seconds"]
        report["threads"] = args.threads
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        print(json.dumps(report["searches"], indent=1), report["speedup"], report["speedup_cpu"])
        return 0
    print("throughput ...", file=sys.stderr)
    # the paper's batch of 100 (also the fast presets'), and a larger batch as a lever
    report["throughput"] = [
        {"space": name, **throughput(space, args.fast_preset, threads, batch)}
        for name, space in (("nb201", nb201.space), ("nb101", nb101))
        for batch in (100, 500)
        for threads in (1, 2)
    ]
    print("pseudo-labeling and generation ...", file=sys.stderr)
    report["pseudo_label"] = pseudo_label_time(nb201.space, args.fast_preset)
    report["generation"] = generation_time(nb201, args.fast_preset)
    print("complete searches ...", file=sys.stderr)
    report["searches"] = [complete_search(args.fast_preset, args.budget, args.seed)]
    report["speedup"] = None
    if not args.skip_paper_search:
        paper = complete_search(args.paper_preset, args.budget, args.seed)
        report["searches"].append(paper)
        fast = report["searches"][0]
        report["speedup"] = paper["wall_seconds"] / fast["wall_seconds"]
        report["speedup_cpu"] = paper["cpu_seconds"] / fast["cpu_seconds"]
    print("projections ...", file=sys.stderr)
    report["projections"] = [
        schedule_projection(nb201, p, args.budget) for p in (args.paper_preset, args.fast_preset)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        nb101_table = synthetic_nb101(Path(tmp))
        report["projections"] += [
            schedule_projection(nb101_table, p, 2000)
            for p in ("paper-nb101", f"{args.fast_preset}-nb101")
        ]
    report["finished"] = time.strftime("%Y-%m-%d %H:%M")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
