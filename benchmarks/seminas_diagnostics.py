"""Why does (or doesn't) SemiNAS win? Per-iteration diagnostics of SemiNAS/NAO bench runs.

Reads a bench directory's ``results.jsonl`` and prints, per method and iteration, averaged over
runs: the predictor's Kendall tau on the pseudo-labeled set (against the table's truth; recorded
only with ``diagnose=True``), its Kendall tau on the candidates it proposed (predicted before
evaluation vs. measured after), the generation hit rate (new valid unseen cells / decoded
sequences), the largest step size needed, and the mean search metric of the new candidates.

    python benchmarks/seminas_diagnostics.py runs/nb201-cifar10 [--out diag.json]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

FIELDS = ("pseudo_label_tau", "new_tau", "hit_rate", "last_step", "new_mean", "random_top_up")


def collect(results: Path) -> dict[str, dict[int, dict[str, float]]]:
    acc: dict[str, dict[int, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    with open(results) as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            run = json.loads(line)
            for it in (run.get("diagnostics") or {}).get("iterations", []):
                for key in FIELDS:
                    value = it.get(key)
                    if value is not None and not (isinstance(value, float) and np.isnan(value)):
                        acc[run["method"]][it["iteration"]][key].append(float(value))
                acc[run["method"]][it["iteration"]]["runs"].append(1.0)
    out: dict[str, dict[int, dict[str, float]]] = {}
    for method, iters in acc.items():
        out[method] = {}
        for i, values in sorted(iters.items()):
            row = {k: float(np.mean(v)) for k, v in values.items() if k != "runs" and v}
            row["runs"] = len(values["runs"])
            out[method][i] = row
    return out


def render(table: dict[str, dict[int, dict[str, float]]]) -> str:
    head = "| method | iteration | runs | " + " | ".join(FIELDS) + " |"
    lines = [head, "|" + "---|" * (3 + len(FIELDS))]
    for method, iters in table.items():
        for i, row in iters.items():
            cells = [f"{row[k]:.3f}" if k in row else "—" for k in FIELDS]
            lines.append(f"| {method} | {i} | {row['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_dir")
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args()
    table = collect(Path(args.bench_dir) / "results.jsonl")
    print(render(table))
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
