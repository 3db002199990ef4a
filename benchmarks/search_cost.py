"""CPU seconds of one search, per strategy: the predictor issue's cost goal (a 500-query search
of the leading strategy in at most 30 s of CPU on one core).

    OMP_NUM_THREADS=1 python benchmarks/search_cost.py --strategies predictor-ls \
        --budget 500 --seeds 0-4 --out docs/results/screened-cost
    OMP_NUM_THREADS=1 python benchmarks/search_cost.py --space nb101 --dataset subset-20k \
        --strategies semi-acenas --seeds 0-1 --out docs/results/peers-nb101-subset/cost

A strategy may carry option overrides as in ``seminas bench --strategies``
(``"semi-predictor-ls[score_filter=file:F#synflow;filter_keep=0.1]"``). Runs each search in
this process on one thread (table loaded once, not counted; a score file is read inside the
search, so it is counted) and prints and saves (``cost.json``) the process CPU time and wall
time per run; run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _fail(exc: Exception) -> None:
    """Bad input ends in one line on stderr and exit code 2, as the CLI does."""
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", default="predictor-ls")
    parser.add_argument("--space", default="nb201", help="nb201, or nb101 with subset-20k")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.budget < 1:
        _fail(ValueError(f"--budget {args.budget}: give at least 1 query"))
    if args.out and args.out.exists() and not args.out.is_dir():
        _fail(ValueError(f"--out {args.out} is a file: give a folder for cost.json"))
    import torch

    from seminas.benchmarks.factory import make_evaluator
    from seminas.errors import SeminasError
    from seminas.experiments.plan import Variant, split_variants
    from seminas.experiments.seeds import parse_seeds
    from seminas.strategies import default_preset, make_strategy, run_search

    torch.set_num_threads(1)
    rows = []
    try:  # the table, every strategy and option are checked before the first timed search
        evaluator = make_evaluator(args.space, dataset=args.dataset)
        variants = [Variant.parse(text) for text in split_variants(args.strategies)]
        for v in variants:
            make_strategy(v.strategy, default_preset(v.strategy, "nb201"), **dict(v.overrides))
        seeds = parse_seeds(args.seeds)
    except SeminasError as exc:
        _fail(exc)
    for variant in variants:
        name = variant.label or variant.strategy
        for seed in seeds:
            strategy = make_strategy(variant.strategy, default_preset(variant.strategy, "nb201"),
                                     **dict(variant.overrides))
            cpu, wall = time.process_time(), time.perf_counter()
            try:  # a score file is read inside the search
                result = run_search(strategy, evaluator, args.budget, seed=seed)
            except SeminasError as exc:
                _fail(exc)
            row = {"strategy": name, "space": args.space, "dataset": args.dataset,
                   "seed": seed, "budget": args.budget,
                   "cpu_seconds": round(time.process_time() - cpu, 2),
                   "wall_seconds": round(time.perf_counter() - wall, 2),
                   "best_search_metric": result.best.search_metric,
                   "omp_threads": os.environ.get("OMP_NUM_THREADS")}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:  # after every search: an interrupted measurement keeps its finished rows
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "cost.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
