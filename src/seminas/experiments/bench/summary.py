"""A bench's summary: per method and query budget, the report metric of the architecture
chosen after *b* queries (mean, std, standard error over runs), the best search metric itself
(what the strategies maximise, so a comparison a test-set coincidence cannot decide), how often
the global optimum was found and how fast -- as ``summary.md`` for people and ``summary.json``
for scripts, with the command that regenerates them."""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.bench.results import (
    SUMMARY_JSON,
    SUMMARY_MD,
    check_one_benchmark,
    read_results,
    results_path,
)
from seminas.experiments.bench.specs import json_default
from seminas.experiments.bench.tables import describe_benchmark, make_benchmark
from seminas.experiments.seeds import format_seeds
from seminas.experiments.store import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BUDGETS: tuple[int, ...] = (50, 100, 150, 200, 300, 400, 500)


def group_runs(
    results: Sequence[Mapping[str, Any]],
) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    """(config_key, label, runs) in first-seen order, each run list by seed: one row of the
    summary and one line of the plot per configuration; labels made unique by the budget."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for line in results:
        groups.setdefault(line["config_key"], []).append(line)
    labels = {k: runs[0].get("method") or runs[0]["strategy"] for k, runs in groups.items()}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    out = []
    for key, runs in groups.items():
        label = labels[key]
        if counts[label] > 1:
            label = f"{label} (budget {int(runs[0]['budget'])})"
        out.append((key, label, sorted(runs, key=lambda r: int(r["seed"]))))
    return out


def _after(line: Mapping[str, Any], b: int, curve: str) -> float | None:
    """A trajectory value after the first ``b`` queries: ``best_report`` (the report metric of
    the best-by-search architecture) or ``best_search`` (that architecture's search metric)."""
    values = line["trajectory"].get(curve) or []
    if not values:
        return None
    value = values[min(b, len(values)) - 1]
    return None if value is None else float(value)


def _spread(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, sample std (ddof=1) and standard error; NaN where too few values."""
    n = len(values)
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    mean = float(values.mean()) if n else math.nan
    return mean, std, std / math.sqrt(n) if n > 1 else math.nan


def _queries_to(line: Mapping[str, Any], targets: set[str]) -> int | None:
    """1-based query number at which the run first evaluated one of ``targets``."""
    for i, arch_id in enumerate(line.get("arch_ids", []), start=1):
        if arch_id in targets:
            return i
    return None


def summarize(
    results: Sequence[Mapping[str, Any]],
    benchmark_info: Mapping[str, Any] | None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
) -> pd.DataFrame:
    """One row per method x budget ``b`` (the listed budgets up to the run budget, plus the run
    budget itself): report metric of the choice after ``b`` queries (mean, std over runs with
    ddof=1, standard error), the same of the best search metric (``search_*``), fraction of
    runs whose first ``b`` queries contain the global optimum, and mean queries to reach it
    among those runs. Without ``benchmark_info`` (or an optimum in it) the optimum columns are
    NaN."""
    import pandas as pd

    targets = set((benchmark_info or {}).get("optimum_ids") or [])
    search_targets = set((benchmark_info or {}).get("search_optimum_ids") or [])
    rows = []
    for key, label, runs in group_runs(results):
        budget = int(runs[0]["budget"])
        row_budgets = sorted({int(b) for b in budgets if 0 < int(b) <= budget} | {budget})
        hits = [_queries_to(r, targets) for r in runs] if targets else [None] * len(runs)
        search_hits = [_queries_to(r, search_targets) for r in runs]
        for b in row_budgets:
            values = np.array(
                [v for v in (_after(r, b, "best_report") for r in runs) if v is not None],
                dtype=float,
            )
            searched = np.array(
                [v for v in (_after(r, b, "best_search") for r in runs) if v is not None],
                dtype=float,
            )
            mean, std, sem = _spread(values)
            search_mean, search_std, search_sem = _spread(searched)
            reached = [q for q in hits if q is not None and q <= b]
            reached_search = [q for q in search_hits if q is not None and q <= b]
            rows.append(
                {
                    "method": label,
                    "strategy": runs[0]["strategy"],
                    "preset": runs[0].get("preset"),
                    "config_key": key,
                    "budget": b,
                    "runs": len(runs),
                    "report_n": len(values),
                    "report_mean": mean,
                    "report_std": std,
                    "report_sem": sem,
                    "search_n": len(searched),
                    "search_mean": search_mean,
                    "search_std": search_std,
                    "search_sem": search_sem,
                    "optimum_found": len(reached) if targets else math.nan,
                    "optimum_fraction": len(reached) / len(runs) if targets else math.nan,
                    "queries_to_optimum": float(np.mean(reached)) if reached else math.nan,
                    "search_optimum_found": len(reached_search) if search_targets else math.nan,
                    "queries_to_search_optimum": (
                        float(np.mean(reached_search)) if reached_search else math.nan
                    ),
                }
            )
    columns = [
        "method", "strategy", "preset", "config_key", "budget", "runs", "report_n",
        "report_mean", "report_std", "report_sem", "search_n", "search_mean", "search_std",
        "search_sem", "optimum_found", "optimum_fraction",
        "queries_to_optimum", "search_optimum_found", "queries_to_search_optimum",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def info_from_results(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = results[0]
    return {
        "space": first["space"],
        "dataset": first["dataset"],
        "fidelity": first["fidelity"],
        "search_metric": first.get("metrics", {}).get("search"),
        "report_metric": first.get("metrics", {}).get("report"),
        "optimum_report": None,
        "optimum_ids": [],
    }


def default_command(results: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike) -> str:
    """A ``seminas bench`` command that regenerates ``results`` (best effort: per-strategy
    overrides have no CLI form, and one ``--preset`` is shown if all preset runs share it)."""
    first = results[0]
    strategies = list(dict.fromkeys(r["strategy"] for r in results))
    budgets = sorted({int(r["budget"]) for r in results})
    presets = sorted({r["preset"] for r in results if r.get("preset")})
    parts = [
        "seminas bench",
        f"--space {first['space']}",
        f"--dataset {first['dataset']}",
    ]
    if int(first["fidelity"]) != 200:
        parts.append(f"--fidelity {int(first['fidelity'])}")
    parts += [
        f"--strategies {','.join(strategies)}",
        f"--budget {budgets[-1]}",
        f"--seeds {format_seeds(int(r['seed']) for r in results)}",
        f"--out {shlex.quote(str(out_dir))}",
    ]
    if len(presets) == 1:
        parts.append(f"--preset {presets[0]}")
    return " ".join(parts)


def render_summary(table: pd.DataFrame, info: Mapping[str, Any], command: str | None) -> str:
    """The Markdown text of ``summary.md``."""
    fidelity = info.get("fidelity")
    title = f"{info.get('space')} / {info.get('dataset')}"
    if fidelity is not None:
        title += f" ({fidelity} epochs)"
    opt = info.get("optimum_report")
    ids = info.get("optimum_ids") or []
    lines = [
        f"# Benchmark summary: {title}",
        "",
        f"- Space: {info.get('space')}; dataset: {info.get('dataset')}",
        f"- Search metric (what the strategies maximise): {info.get('search_metric')}",
        f"- Report metric (what the table shows): {info.get('report_metric')}",
    ]
    if opt is not None:
        shown = ", ".join(f"`{i}`" for i in ids[:3]) + (" ..." if len(ids) > 3 else "")
        lines.append(f"- Global optimum (highest report metric in the table): {opt:.4f} ({shown})")
    search_opt = info.get("search_optimum")
    if search_opt is not None:
        sids = info.get("search_optimum_ids") or []
        shown = ", ".join(f"`{i}`" for i in sids[:3]) + (" ..." if len(sids) > 3 else "")
        lines.append(f"- Search optimum (highest search metric, what a search can aim at): "
                     f"{search_opt:.4f} ({shown})")
    if command:
        lines.append(f"- Regenerate with: `{command}`")
    lines += [
        "",
        "For each method and query budget *b*: **report metric** is that metric of the "
        "architecture with the best search metric among the run's first *b* queries "
        "(mean ± std over runs); **best search metric** is the search metric of that "
        "architecture, what the search maximises (a tie on it is broken by query order, so the "
        "report metric of tied cells is a coin flip the search cannot see); **found optimum** "
        "is the fraction of runs whose first *b* queries include the global optimum; "
        "**queries to optimum** is the mean number of queries those runs needed (— if none); "
        "**found search optimum** and **queries to it** are the same for the architecture(s) "
        "with the highest search metric.",
        "",
        "| method | budget b | report metric (mean ± std) | best search metric (mean ± std) | "
        "found optimum | queries to optimum | found search optimum | queries to it | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table.itertuples(index=False):
        report = _fmt(row.report_mean)
        if not math.isnan(row.report_std):
            report += f" ± {_fmt(row.report_std)}"
        if row.report_n != row.runs:
            report += f" ({row.report_n} with a value)"
        searched = _fmt(row.search_mean, 3)
        if not math.isnan(row.search_std):
            searched += f" ± {_fmt(row.search_std, 3)}"
        if math.isnan(row.optimum_fraction):
            found = "—"
        else:
            found = f"{row.optimum_fraction:.2f} ({int(row.optimum_found)}/{row.runs})"
        if math.isnan(row.search_optimum_found):
            found_search = "—"
        else:
            found_search = f"{int(row.search_optimum_found)}/{row.runs}"
        lines.append(
            f"| {row.method} | {row.budget} | {report} | {searched} | {found} | "
            f"{_fmt(row.queries_to_optimum, 1)} | {found_search} | "
            f"{_fmt(row.queries_to_search_optimum, 1)} | {row.runs} |"
        )
    return "\n".join(lines) + "\n"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _nan_to_none(value.item())
    return value


def write_summary(
    results_path_or_dir: str | os.PathLike,
    benchmark_info: Mapping[str, Any] | None = None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    command: str | None = None,
    results: Sequence[Mapping[str, Any]] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.json`` next to ``results.jsonl`` (each atomically);
    return their paths.

    ``results`` defaults to every run in the file. ``benchmark_info`` defaults to the one of the
    runs' benchmark (loaded from ``data_dir``), which supplies the global optimum.
    """
    path = results_path(results_path_or_dir)
    out_dir = path.parent
    if results is None:
        results = read_results(path)
    if not results:
        raise SeminasError(f"no finished runs in {path}: nothing to summarise")
    check_one_benchmark([(r["space"], r["dataset"], int(r["fidelity"])) for r in results], path)
    if benchmark_info is None:
        first = results[0]
        evaluator = make_benchmark(first["space"], first["dataset"], data_dir, first["fidelity"])
        benchmark_info = describe_benchmark(evaluator)
    info = {**info_from_results(results), **dict(benchmark_info)}
    if command is None:
        command = default_command(results, out_dir)
    table = summarize(results, info, budgets)
    md_path = out_dir / SUMMARY_MD
    json_path = out_dir / SUMMARY_JSON
    atomic_write_text(md_path, render_summary(table, info, command))
    payload = {
        "space": info.get("space"),
        "dataset": info.get("dataset"),
        "fidelity": info.get("fidelity"),
        "search_metric": info.get("search_metric"),
        "report_metric": info.get("report_metric"),
        "optimum": {"report": info.get("optimum_report"), "arch_ids": info.get("optimum_ids")},
        "command": command,
        "std": "sample standard deviation over runs (ddof=1)",
        "rows": [{k: _nan_to_none(v) for k, v in row.items()} for row in table.to_dict("records")],
    }
    atomic_write_text(json_path, json.dumps(payload, indent=2, default=json_default) + "\n")
    return md_path, json_path
