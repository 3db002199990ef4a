"""One table of the peers harness over datasets, from the ``summary.json`` of each bench run.

    python benchmarks/peers_table.py runs/peers-cifar10 runs/peers-cifar100 \
        runs/peers-ImageNet16-120 --out docs/results/peers-nb201

Prints a Markdown table (mean ± standard error of the report metric at a few budgets, and how
many runs had queried the global optimum by the largest one) and writes it, with the same
numbers as JSON, to ``--out``; the bench folders' summaries and curves are copied there too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import NoReturn

BUDGETS = (50, 100, 200, 300, 500)
ORDER = ("seminas", "seminas-rerank", "nao", "gbdt", "semi-gbdt", "weaknas", "predictor-ls",
         "semi-predictor-ls", "predictor-re", "re", "rs")
NAMES = {
    "seminas": "SemiNAS",
    "seminas-rerank": "SemiNAS, re-ranked candidates",
    "nao": "NAO",
    "gbdt": "GBDT-NAS",
    "semi-gbdt": "Semi-GBDT",
    "weaknas": "WeakNAS",
    "predictor-ls": "screened local search",
    "semi-predictor-ls": "screened local search + pseudo-labels",
    "predictor-re": "screened evolution",
    "re": "regularized evolution",
    "rs": "random search",
}


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2, as the seminas command line."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load(folder: Path) -> dict:
    path = folder / "summary.json"
    if not path.is_file():
        fail(f"no {path}: run `seminas bench ... --out {folder}` first")
    try:
        summary = json.loads(path.read_text())
        summary["rows"], summary["dataset"], summary["report_metric"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fail(f"{path} is not a bench summary ({exc}): rerun the bench")
    return summary


def table(summary: dict, budgets: tuple[int, ...]) -> tuple[list[str], list[dict]]:
    by_method: dict[str, dict[int, dict]] = {}
    for row in summary["rows"]:
        by_method.setdefault(row["strategy"], {})[row["budget"]] = row
    last = budgets[-1]
    lines = [
        "| method | " + " | ".join(f"b = {b}" for b in budgets)
        + f" | optimum found by {last} | mean queries to it | search optimum found by {last} "
        "| mean queries to it | runs |",
        "|---|" + "---:|" * (len(budgets) + 5),
    ]
    records = []
    for strategy in sorted(by_method, key=lambda s: ORDER.index(s) if s in ORDER else 99):
        rows = by_method[strategy]
        cells = []
        for b in budgets:
            r = rows.get(b)
            cells.append("—" if r is None else f"{r['report_mean']:.2f} ± {r['report_sem']:.2f}")
        end = rows.get(last, {})
        found = f"{end.get('optimum_found', 0)}/{end.get('runs', 0)}"
        queries = end.get("queries_to_optimum")
        search_found = end.get("search_optimum_found")  # absent in summaries before 2026-12
        search_cell = "—" if search_found is None else f"{search_found}/{end.get('runs', 0)}"
        search_queries = end.get("queries_to_search_optimum")
        preset = next(iter(rows.values())).get("preset")
        label = NAMES.get(strategy, strategy) + (f" (`{preset}`)" if preset else "")
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {found} | {'—' if queries is None else f'{queries:.0f}'} | {search_cell} | "
            f"{'—' if search_queries is None else f'{search_queries:.0f}'} | {end.get('runs', 0)} |"
        )
        records.append({"strategy": strategy, "rows": [rows[b] for b in budgets if b in rows]})
    return lines, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="bench output folders")
    parser.add_argument("--out", type=Path, help="write peers.md, peers.json and copies here")
    args = parser.parse_args()
    text, data = [], []
    for folder in args.folders:
        summary = load(folder)
        lines, records = table(summary, BUDGETS)
        optimum = summary["optimum"]
        value = optimum.get("report") if isinstance(optimum, dict) else optimum
        text += [f"### {summary['dataset']}", "", f"Report metric: {summary['report_metric']}; "
                 f"global optimum {value:.2f}. Regenerate: `{summary.get('command')}`", "",
                 *lines, ""]
        data.append({"dataset": summary["dataset"], "command": summary.get("command"),
                     "methods": records})
        if args.out:
            dest = args.out / summary["dataset"]
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("summary.md", "summary.json", "curves.png"):
                if (folder / name).is_file():
                    shutil.copy(folder / name, dest / name)
    markdown = "\n".join(text)
    print(markdown)
    if args.out:
        (args.out / "peers.md").write_text(markdown + "\n")
        (args.out / "peers.json").write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
