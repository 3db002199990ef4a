"""Who leads at each budget: a new bench folder's strategies beside the stored peers table.

    python benchmarks/lead_table.py docs/results/peers-nb201/peers.json \
        runs/screened-cifar10 runs/screened-cifar100 runs/screened-ImageNet16-120
    python benchmarks/lead_table.py --metric search runs/semi-zc-cifar100 runs/acenas-c100

For each dataset and budget it prints every method's mean ± standard error, bolds the best, and
marks with * the methods within one standard error of it (the larger of the two errors), the
test the predictor issue's goal uses. ``--metric report`` (the default) compares the report
metric of each run's choice (test accuracy on NAS-Bench-201); ``--metric search`` the best
search metric itself, what a search maximises: a test-set coincidence among cells the search
metric ties cannot decide it. Only summaries written since the ``search_mean`` column exist
have it; stored rows without it are left out (and named). Arguments ending in ``.json`` are
stored peers tables, the others bench folders; folders of one dataset share its table. Below
each table: how many runs queried the search-metric optimum, and after how many queries on
average, for the rows that record it. Score files in labels are shortened to their array name
(``file:runs/x/scores.npz#synflow`` -> ``synflow``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

BUDGETS = (50, 100, 200, 300, 500)
COLUMNS = {"report": ("report_mean", "report_sem"), "search": ("search_mean", "search_sem")}
_SCORE_FILE = re.compile(r"file:[^;\]#]*#([^;\]]+)")


def short_label(label: str) -> str:
    """A variant's label with each ``file:PATH#name`` option value written as ``name``."""
    return _SCORE_FILE.sub(r"\1", label)


def rows_of(methods: list[dict]) -> dict[str, dict[int, dict]]:
    return {m["strategy"]: {r["budget"]: r for r in m["rows"]} for m in methods}


def collect(paths: list[Path]) -> dict[str, dict[str, dict[int, dict]]]:
    """dataset -> method label -> budget -> summary row, stored tables first."""
    by_dataset: dict[str, dict[str, dict[int, dict]]] = {}
    for path in (p for p in paths if p.suffix == ".json"):
        for table in json.loads(path.read_text()):
            by_dataset.setdefault(table["dataset"], {}).update(rows_of(table["methods"]))
    for folder in (p for p in paths if p.suffix != ".json"):
        summary = json.loads((folder / "summary.json").read_text())
        methods = by_dataset.setdefault(summary["dataset"], {})
        for row in summary["rows"]:
            # The method label keeps a variant's options (``predictor-ls[score_filter=...]``),
            # so a variant never overwrites or borrows the plain strategy's stored row.
            label = short_label(row.get("method") or row["strategy"])
            methods.setdefault(label, {})[row["budget"]] = row
    return by_dataset


def _has(row: dict, key: str) -> bool:
    value = row.get(key)
    return value is not None and value == value  # absent, None or NaN: no value


def lead_table(methods: dict[str, dict[int, dict]], metric: str = "report") -> str:
    """The Markdown table of one dataset: mean ± SE per budget, the best bold, * within 1 SE."""
    mean_key, sem_key = COLUMNS[metric]
    usable = {name: {b: r for b, r in rows.items() if _has(r, mean_key)}
              for name, rows in methods.items()}
    left_out = [name for name, rows in usable.items() if not rows]
    usable = {name: rows for name, rows in usable.items() if rows}
    lines = ["| method | " + " | ".join(f"b = {b}" for b in BUDGETS) + " |",
             "|---|" + "---:|" * len(BUDGETS)]
    best = {}
    for b in BUDGETS:
        cands = [(r[b][mean_key], r[b].get(sem_key) or 0.0, s) for s, r in usable.items()
                 if b in r]
        if cands:
            best[b] = max(cands)
    digits = 2 if metric == "report" else 3
    for name, rows in usable.items():
        cells = []
        for b in BUDGETS:
            r = rows.get(b)
            if r is None:
                cells.append("—")
                continue
            mean, sem = r[mean_key], r.get(sem_key) or 0.0
            text = f"{mean:.{digits}f} ± {sem:.{digits}f}"
            top_mean, top_sem, top_name = best[b]
            if name == top_name:
                text = f"**{text}**"
            elif top_mean - mean <= max(top_sem, sem):
                text += " *"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if left_out:
        lines.append("")
        lines.append(f"Left out (no {mean_key} in their summary): " + ", ".join(left_out))
    return "\n".join(lines)


def search_optimum_table(methods: dict[str, dict[int, dict]]) -> str:
    """Runs that queried the search-metric optimum by their last budget, and after how many
    queries on average: what a search can aim at (on CIFAR-100 and ImageNet16-120 the test
    optimum is not the search-metric optimum)."""
    lines = []
    for name, rows in methods.items():
        last = rows[max(rows)]
        if not _has(last, "search_optimum_found"):  # stored rows from before the column
            continue
        mean = last.get("queries_to_search_optimum")
        mean_text = f"{mean:.1f}" if _has(last, "queries_to_search_optimum") else "–"
        lines.append(f"| {name} | {int(last['search_optimum_found'])}/{last['runs']} by "
                     f"{max(rows)} | {mean_text} |")
    if not lines:
        return ""
    return "| method | search-metric optimum found | mean queries to it |\n|---|---:|---:|\n" + (
        "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path,
                        help="stored peers tables (.json) and bench folders (with summary.json)")
    parser.add_argument("--metric", choices=sorted(COLUMNS), default="report",
                        help="what is compared: the report metric of each run's choice, or the "
                        "best search metric (default: report)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if path.suffix != ".json" and not (path / "summary.json").is_file():
            parser.error(f"{path}: no summary.json there; give a bench folder or a peers .json")
        if path.suffix == ".json" and not path.is_file():
            parser.error(f"{path}: no such peers table")
        try:
            json.loads((path if path.suffix == ".json" else path / "summary.json").read_text())
        except (OSError, ValueError) as err:
            parser.error(f"{path}: not readable JSON ({err}); regenerate it with its bench")
    for dataset, methods in collect(args.paths).items():
        print(f"\n#### {dataset} ({args.metric} metric)\n")
        print(lead_table(methods, args.metric))
        found = search_optimum_table(methods)
        if found:
            print("\n" + found)


if __name__ == "__main__":
    main()
