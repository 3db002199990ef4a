"""Compare two results files run by run, for the reproducibility check of stored results.

    python scripts/compare_runs.py OLD.jsonl NEW.jsonl [--key method,seed,budget] [--ignore PATHS]

Each file is a JSONL file of runs (a bench's ``results.jsonl``, a predictor study's
``results.jsonl``, the Optuna benchmark's ``runs.jsonl``; a results-store header line is
skipped). Runs are matched by ``--key`` and compared field by field, everything included
(trajectories, every queried architecture in order, predictions, diagnostics, metrics) except
times: fields whose name holds ``seconds`` (but ``cost_seconds`` and ``total_cost_seconds``, the
table's training cost, are compared) and ``--ignore`` paths such as ``.evaluator.data``. Prints
one line per run (``identical``, or the first differing fields) and exits 1 if any differs or
is missing on one side. See docs/results/reproducibility-check.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

COMPARED_SECONDS = {"cost_seconds", "total_cost_seconds"}


def load(path: Path, key: list[str]) -> dict[tuple, dict[str, Any]]:
    runs: dict[tuple, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        run = json.loads(line)
        if "seminas_results" in run:  # the store's header line
            continue
        runs[tuple(run.get(k) for k in key)] = run
    return runs


def differences(old: Any, new: Any, path: str, ignore: set[str], out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            here = f"{path}.{k}"
            if here in ignore or ("seconds" in k and k not in COMPARED_SECONDS):
                continue
            if k not in old or k not in new:
                out.append(f"{here}: only in {'new' if k not in old else 'old'}")
            else:
                differences(old[k], new[k], here, ignore, out)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: {len(old)} vs {len(new)} items")
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            differences(a, b, f"{path}[{i}]", ignore, out)
    elif old != new:
        out.append(f"{path}: {old!r} vs {new!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--key", default="method,seed,budget", help="fields naming a run")
    parser.add_argument("--ignore", default="", help="comma-separated paths, e.g. .evaluator.data")
    parser.add_argument("--show", type=int, default=5, help="differing fields shown per run")
    args = parser.parse_args(argv)
    key = args.key.split(",")
    ignore = {p for p in args.ignore.split(",") if p}
    old, new = load(args.old, key), load(args.new, key)
    same = True
    for run in sorted(set(old) | set(new), key=str):
        if run not in old or run not in new:
            print(f"{run}: only in {'new' if run not in old else 'old'}")
            same = False
            continue
        found: list[str] = []
        differences(old[run], new[run], "", ignore, found)
        print(f"{run}: {'identical' if not found else 'differs'}")
        for line in found[: args.show]:
            print(f"    {line}")
        if len(found) > args.show:
            print(f"    ... {len(found) - args.show} more")
        same = same and not found
    print("all identical" if same else "differences")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
