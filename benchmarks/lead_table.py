"""Who leads at each budget: a new bench folder's strategies beside the stored peers table.

    python benchmarks/lead_table.py docs/results/peers-nb201/peers.json \
        runs/screened-cifar10 runs/screened-cifar100 runs/screened-ImageNet16-120

For each dataset and budget it prints every method's mean ± standard error of the report
metric, bolds the best, and marks with * the methods within one standard error of it (the
larger of the two errors), the test the predictor issue's goal uses. Folders of one dataset
share its table. Below each table: how many runs queried the search-metric optimum, and after how
many queries on average, for the rows that record it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BUDGETS = (50, 100, 200, 300, 500)


def rows_of(methods: list[dict]) -> dict[str, dict[int, dict]]:
    return {m["strategy"]: {r["budget"]: r for r in m["rows"]} for m in methods}


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    stored = {d["dataset"]: rows_of(d["methods"]) for d in json.loads(Path(argv[0]).read_text())}
    # Folders of the same dataset share one table, so that every variant is compared at once.
    by_dataset: dict[str, dict[str, dict[int, dict]]] = {}
    for folder in map(Path, argv[1:]):
        summary = json.loads((folder / "summary.json").read_text())
        dataset = summary["dataset"]
        methods = by_dataset.setdefault(dataset, dict(stored.get(dataset, {})))
        for row in summary["rows"]:
            # The method label keeps a variant's options (``predictor-ls[score_filter=...]``),
            # so a variant never overwrites or borrows the plain strategy's stored row.
            label = row.get("method") or row["strategy"]
            methods.setdefault(label, {})[row["budget"]] = row
    for dataset, methods in by_dataset.items():
        print(f"\n#### {dataset}\n")
        print("| method | " + " | ".join(f"b = {b}" for b in BUDGETS) + " |")
        print("|---|" + "---:|" * len(BUDGETS))
        best = {}
        for b in BUDGETS:
            cands = [(r[b]["report_mean"], r[b]["report_sem"], s) for s, r in methods.items()
                     if b in r]
            best[b] = max(cands)
        for name, rows in methods.items():
            cells = []
            for b in BUDGETS:
                r = rows.get(b)
                if r is None:
                    cells.append("—")
                    continue
                text = f"{r['report_mean']:.2f} ± {r['report_sem']:.2f}"
                top_mean, top_sem, top_name = best[b]
                if name == top_name:
                    text = f"**{text}**"
                elif top_mean - r["report_mean"] <= max(top_sem, r["report_sem"]):
                    text += " *"
                cells.append(text)
            print(f"| {name} | " + " | ".join(cells) + " |")
        print_search_optimum(methods)


def print_search_optimum(methods: dict[str, dict[int, dict]]) -> None:
    """Runs that queried the search-metric optimum by their last budget, and after how many
    queries on average: what a search can aim at (on CIFAR-100 and ImageNet16-120 the test
    optimum is not the search-metric optimum)."""
    lines = []
    for name, rows in methods.items():
        last = rows[max(rows)]
        found = last.get("search_optimum_found")
        if found is None or found != found:  # stored rows from before the column, or NaN
            continue
        mean = last.get("queries_to_search_optimum")
        mean_text = "–" if mean is None or mean != mean else f"{mean:.1f}"
        lines.append(f"| {name} | {int(found)}/{last['runs']} by {max(rows)} | {mean_text} |")
    if lines:
        print("\n| method | search-metric optimum found | mean queries to it |\n|---|---:|---:|")
        print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
