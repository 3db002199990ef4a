"""One-shot searches beside query-based ones at the same CPU time (NAS-Bench-201).

    OMP_NUM_THREADS=1 python benchmarks/oneshot_equal_cpu.py --oneshot runs/oneshot \
        --seeds 0-99 --out docs/results/oneshot

A one-shot search costs its measured CPU seconds S (``seminas oneshot search``). A query-based
search pays for each query the training of one cell. To put both on one axis, a query is
priced as the CPU time of training that cell alone at the one-shot searches' CPU size (8
channels, 1 cell per stage, batch 64) for ``--query-steps`` SGD steps (default 1,170: the 15
epochs over the 5,000-image training half that DARTS's weights get), measured here on this
machine. A query-based strategy then affords k = (S - its own search overhead) / (price of a
query) queries, and its row is the table accuracy of its best-by-validation cell after k
queries, mean ± standard error over ``--seeds``.

Caveat, stated in the output: the query-based rows read the benchmark's 200-epoch answers, as
if a 1,170-step CPU training ranked cells as well as the benchmark's full training. That favours
them; the table is an upper bound for the query-based side, not a like-for-like race.

Writes ``equal-cpu.json`` and ``equal-cpu.md`` into ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
STRATEGIES = ("rs", "re", "weaknas", "predictor-ls")


def price_of_a_step(cells: int, steps: int, seed: int) -> dict[str, float]:
    """Mean CPU seconds of one SGD step (batch 64, 32x32) of standalone CPU-scale cells."""
    import torch
    from torch import nn

    from seminas.networks.nb201 import CPU_SCALE, NB201Network
    from seminas.spaces.nb201 import NB201Space

    space = NB201Space()
    rng = np.random.default_rng(seed)
    archs = space.sample(cells, rng)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,), generator=g)
    per_cell = []
    for arch in archs:
        net = NB201Network(arch, **CPU_SCALE).to(memory_format=torch.channels_last)
        params = list(net.parameters())
        opt = torch.optim.SGD(params, lr=0.025, momentum=0.9) if params else None
        loss_fn = nn.CrossEntropyLoss()

        def step(net: nn.Module = net, opt: torch.optim.Optimizer | None = opt,
                 loss_fn: nn.Module = loss_fn) -> None:
            loss = loss_fn(net(x), y)
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        for _ in range(3):  # warm-up
            step()
        t0 = time.process_time()
        for _ in range(steps):
            step()
        per_cell.append((time.process_time() - t0) / steps)
    return {"mean": float(np.mean(per_cell)), "min": float(np.min(per_cell)),
            "max": float(np.max(per_cell)), "cells": cells, "steps_each": steps}


def best_by_validation(trials: list, k: int) -> float:
    """Report metric of the best-by-search-metric trial among the first ``k``."""
    first = trials[:k]
    best = max(first, key=lambda t: t.search_metric)
    return float(best.report_metric)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--oneshot", type=Path, default=Path("runs/oneshot"),
                        help="the one-shot search directory (search.jsonl)")
    parser.add_argument("--seeds", default="0-99")
    parser.add_argument("--query-steps", type=int, default=1170)
    parser.add_argument("--measure-cells", type=int, default=8)
    parser.add_argument("--measure-steps", type=int, default=20)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import torch

    from seminas.benchmarks.factory import make_evaluator
    from seminas.experiments.seeds import parse_seeds
    from seminas.oneshot.report import summarise
    from seminas.oneshot.search import read_records
    from seminas.strategies import default_preset, make_strategy, run_search

    torch.set_num_threads(1)
    records = read_records(args.oneshot)
    if not records:
        raise SystemExit(f"{args.oneshot}/search.jsonl holds no one-shot search: run "
                         "`seminas oneshot search` first")
    oneshot = summarise(records)
    step = price_of_a_step(args.measure_cells, args.measure_steps, seed=0)
    query_cpu = step["mean"] * args.query_steps
    print(f"one query = {args.query_steps} steps x {step['mean'] * 1000:.1f} ms = "
          f"{query_cpu:.1f} CPU s")
    budgets = {m: max(1, int(row["cpu_seconds_mean"] // query_cpu)) for m, row in oneshot.items()}
    k_max = max(budgets.values())
    seeds = parse_seeds(args.seeds)
    names = [s for s in args.strategies.split(",") if s]
    curves: dict[str, dict[str, list[list[float]]]] = {}
    overhead: dict[str, float] = {}
    for ds in DATASETS:
        evaluator = make_evaluator("nb201", dataset=ds)
        for name in names:
            runs = []
            cpu = 0.0
            for seed in seeds:
                strategy = make_strategy(name, default_preset(name, "nb201"))
                t0 = time.process_time()
                result = run_search(strategy, evaluator, k_max, seed)
                cpu += time.process_time() - t0
                runs.append([best_by_validation(result.trials, k) for k in range(1, k_max + 1)])
            curves.setdefault(name, {})[ds] = runs
            overhead[name] = max(overhead.get(name, 0.0), cpu / len(seeds))
            print(f"{ds:>15} {name:>13}: {len(seeds)} runs of {k_max} queries, "
                  f"{cpu / len(seeds):.2f} CPU s each")

    rows = []
    for method, row in oneshot.items():
        entry = {"method": method, "cpu_seconds": row["cpu_seconds_mean"],
                 "seeds": row["seeds"],
                 "oneshot": {ds: row[f"{ds}.test"] for ds in DATASETS}, "query_based": {}}
        for name in names:
            k = int((row["cpu_seconds_mean"] - overhead[name]) // query_cpu)
            if k < 1:
                entry["query_based"][name] = {"queries": 0}
                continue
            k = min(k, k_max)
            per_ds = {}
            for ds in DATASETS:
                vals = np.array([run[k - 1] for run in curves[name][ds]])
                per_ds[ds] = {"mean": float(vals.mean()),
                              "se": float(vals.std(ddof=1) / math.sqrt(len(vals)))}
            entry["query_based"][name] = {"queries": k, **per_ds}
        rows.append(entry)

    lines = ["# One-shot searches and query-based searches at the same CPU time", "",
             f"Price of a query: training the cell alone at the one-shot CPU size (8 channels, 1 "
             f"cell per stage, batch 64) for {args.query_steps} SGD steps = "
             f"{args.query_steps} × {step['mean'] * 1000:.1f} ms = **{query_cpu:.1f} CPU s** "
             f"(measured over {step['cells']} random cells, one thread). A query-based search "
             f"with CPU time S affords k = (S − its own overhead) / {query_cpu:.1f} queries. "
             "Query-based rows: test accuracy of the best-by-validation cell after k queries, "
             f"mean ± standard error over seeds {args.seeds} ({len(seeds)} runs). One-shot "
             "rows: mean ± std over their seeds.", "",
             "**Caveat.** The query-based rows read the benchmark's 200-epoch answers, as if a "
             f"{args.query_steps}-step CPU training ranked cells as the benchmark's does; that "
             "favours them, so read their rows as an upper bound.", "",
             "| one-shot method | CPU s | search | queries | C10 test | C100 test | IN16 test |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for entry in rows:
        o = entry["oneshot"]
        lines.append(f"| {entry['method']} | {entry['cpu_seconds']:.0f} | **{entry['method']}** "
                     f"({len(entry['seeds'])} seeds) | – | "
                     + " | ".join(f"{o[ds]['mean']:.2f} ± {o[ds]['std']:.2f}" for ds in DATASETS)
                     + " |")
        for name, q in entry["query_based"].items():
            if not q["queries"]:
                lines.append(f"| | | {name} | 0 | – | – | – |")
                continue
            lines.append(f"| | | {name} | {q['queries']} | "
                         + " | ".join(f"{q[ds]['mean']:.2f} ± {q[ds]['se']:.2f}" for ds in DATASETS)
                         + " |")
    lines += ["", "Query-based search overhead (CPU s per run, largest over the datasets, at "
              f"{k_max} queries): " + ", ".join(f"{n} {overhead[n]:.2f}" for n in names), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "equal-cpu.md").write_text(text)
        (args.out / "equal-cpu.json").write_text(json.dumps(
            {"query_steps": args.query_steps, "step_cpu_seconds": step,
             "query_cpu_seconds": query_cpu, "seeds": args.seeds, "overhead": overhead,
             "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
