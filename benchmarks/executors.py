"""Evaluations per minute: the local process pool vs Ray tasks, with the same workers.

For each executor (``local``, ``ray`` on a private local Ray instance) and each workload:

- ``train``: real training evaluations -- the NAS-Bench-201 CPU-scale network, ``--epochs`` on
  the CIFAR-10 subset, no cache (every evaluation trains);
- ``sleep``: evaluations that sleep ``--sleep`` seconds, so the difference from the ideal rate
  is what the executor itself costs (dispatch, pickling, result transport).

the same architectures are evaluated on warm workers (start-up is measured separately: starting
processes / Ray and importing torch), and the results of both executors are compared (training
is deterministic on the CPU, so they must be identical). Writes
``benchmarks/results/executors.json`` and prints a table.

    python benchmarks/executors.py                 # 2 workers, 6 trainings of 1 epoch, twice
    python benchmarks/executors.py --evals 4 --epochs 1 --sleep-evals 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from seminas.execution import Job, make_executor
from seminas.execution.testing import SleepEvaluator
from seminas.spaces.nb201 import NB201Space
from seminas.training.evaluator import TrainingEvaluator

OUT = Path(__file__).resolve().parent / "results" / "executors.json"


def measure(kind: str, evaluator, archs, workers: int) -> dict:
    """Start-up (starting the workers plus one warm-up evaluation each), then the timed
    evaluations on the warm workers."""
    executor = make_executor(kind, workers, retries=0)
    try:
        t0 = time.perf_counter()
        executor.start(evaluator)
        warm = list(executor.run(Job(-1 - i, archs[i], None) for i in range(workers)))
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        results = {}
        for outcome in executor.run(Job(i, a, None) for i, a in enumerate(archs)):
            if outcome.record is None:
                raise RuntimeError(f"{kind}: evaluation failed: {outcome.error()}")
            results[outcome.key] = outcome.record
        wall = time.perf_counter() - t1
    finally:
        executor.close()
    assert all(o.record is not None for o in warm)
    costs = [results[i].cost_seconds for i in range(len(archs))]
    return {
        "executor": kind,
        "workers": workers,
        "evaluations": len(archs),
        "startup_seconds": round(startup, 2),
        "wall_seconds": round(wall, 2),
        "evals_per_minute": round(60 * len(archs) / wall, 2),
        "mean_eval_seconds": round(float(np.mean(costs)), 2),
        "metrics": [results[i].search_metric for i in range(len(archs))],
        "load_average_1min": round(os.getloadavg()[0], 2),  # other jobs on the machine
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--evals", type=int, default=6, help="training evaluations per executor")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sleep-evals", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds per sleep evaluation")
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--repeats", type=int, default=2,
                        help="measure each executor this often, in A-B-B-A order (load drifts)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    space = NB201Space()
    archs = space.sample(max(args.evals, args.workers), np.random.default_rng(0))
    train = TrainingEvaluator(space, data="cifar10-10k", epochs=args.epochs, seed=0,
                              cache_dir=False)
    sleep = SleepEvaluator(space, args.sleep)
    sleep_archs = space.sample(max(args.sleep_evals, args.workers), np.random.default_rng(1))
    kinds = args.executors.split(",")
    order = [k for r in range(args.repeats) for k in (kinds if r % 2 == 0 else kinds[::-1])]
    rows = []
    for repeat, kind in enumerate(order):
        for name, evaluator, batch in (("train", train, archs[: args.evals]),
                                       ("sleep", sleep, sleep_archs[: args.sleep_evals])):
            with console.status(f"{kind}: {len(batch)} {name} evaluations, "
                                f"{args.workers} workers"):
                row = {"workload": name, "run": repeat,
                       **measure(kind, evaluator, batch, args.workers)}
            console.print(f"{kind:5s} {name:5s} {row['evals_per_minute']:7.2f} evals/min "
                          f"(start-up {row['startup_seconds']:.1f} s)")
            rows.append(row)
    ideal_sleep = 60 * args.workers / args.sleep
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by.setdefault((r["executor"], r["workload"]), []).append(r)
    summary = [
        {
            "executor": kind,
            "workload": name,
            "runs": len(rs),
            "evaluations": sum(r["evaluations"] for r in rs),
            "evals_per_minute": round(float(np.mean([r["evals_per_minute"] for r in rs])), 2),
            "mean_eval_seconds": round(float(np.mean([r["mean_eval_seconds"] for r in rs])), 2),
            "startup_seconds": round(float(np.mean([r["startup_seconds"] for r in rs])), 1),
            "load_average_1min": round(float(np.mean([r["load_average_1min"] for r in rs])), 1),
        }
        for (kind, name), rs in by.items()
    ]
    same = None
    if ("local", "train") in by and ("ray", "train") in by:
        metrics = [r["metrics"] for r in by["local", "train"] + by["ray", "train"]]
        same = all(m == metrics[0] for m in metrics)
    table = Table(title=f"evaluations per minute, {args.workers} workers "
                        f"({os.cpu_count()} cores; mean of {args.repeats} runs each)")
    for col in ("executor", "workload", "evals", "evals/min", "mean eval s", "start-up s",
                "load"):
        table.add_column(col, justify="left" if col in ("executor", "workload") else "right")
    for r in summary:
        table.add_row(r["executor"], r["workload"], str(r["evaluations"]),
                      f"{r['evals_per_minute']:.2f}", f"{r['mean_eval_seconds']:.2f}",
                      f"{r['startup_seconds']:.1f}", f"{r['load_average_1min']:.1f}")
    Console().print(table)
    print(f"ideal sleep rate: {ideal_sleep:.1f} evals/min; local and Ray trainings identical: "
          f"{same}")
    out = {
        "command": "python benchmarks/executors.py " + " ".join(argv or sys.argv[1:]),
        "settings": vars(args),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "ideal_sleep_evals_per_minute": ideal_sleep,
        "identical_training_results": same,
        "summary": summary,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
