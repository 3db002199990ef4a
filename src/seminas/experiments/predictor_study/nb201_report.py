"""The NAS-Bench-201 predictor study's summary (per dataset, predictor, variant and N: each
metric's mean, spread and standard error over seeds, and the paired effect of each variant
against ``none``), its markdown, its regenerate command and its figure."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.predictor_study.nb201 import (
    DATASETS,
    DEFAULT_PREDICTORS,
    PREDICTORS,
    VARIANTS,
    NB201StudySettings,
)
from seminas.experiments.seeds import format_seeds

METRICS = ("kendall_tau", "spearman_rho", "top_precision")
LABELS = {"kendall_tau": "Kendall τ", "spearman_rho": "Spearman ρ",
          "top_precision": "top-50 precision"}


def _stats(values: Iterable[float | None]) -> dict[str, float | int | None]:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    n = len(arr)
    std = float(arr.std(ddof=1)) if n > 1 else None
    return {"mean": float(arr.mean()) if n else None, "std": std,
            "sem": std / math.sqrt(n) if std is not None else None, "n": n}


def _order(key: tuple[str, str, str, int]) -> tuple[int, int, int, int]:
    d, p, v, n = key
    return (DATASETS.index(d) if d in DATASETS else 9, PREDICTORS.index(p) if p in PREDICTORS
            else 99, VARIANTS.index(v) if v in VARIANTS else 9, n)


def summarize(lines: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``rows``: per (dataset, predictor, variant, N) each metric's statistics over seeds and the
    mean CPU seconds of a fit (and of a pretraining); ``effects``: per variant other than
    ``none``, the paired difference to ``none`` on the same seeds and how many seeds improved."""
    groups: dict[tuple[str, str, str, int], dict[int, Mapping[str, Any]]] = {}
    for line in lines:
        key = (line["dataset"], line["predictor"], line["variant"], int(line["n"]))
        groups.setdefault(key, {})[int(line["seed"])] = line
    rows, effects = [], []
    for key in sorted(groups, key=_order):
        runs = groups[key]
        row: dict[str, Any] = {"dataset": key[0], "predictor": key[1], "variant": key[2],
                               "n": key[3], "seeds": len(runs)}
        for metric in METRICS:
            row[metric] = _stats(r.get(metric) for r in runs.values())
        row["cpu_seconds"] = _stats(r.get("cpu_seconds") for r in runs.values())["mean"]
        row["pretrain_cpu_seconds"] = _stats(
            r.get("pretrain_cpu_seconds") for r in runs.values())["mean"]
        rows.append(row)
        base = groups.get((key[0], key[1], "none", key[3]))
        if key[2] == "none" or base is None:
            continue
        paired = sorted(set(runs) & set(base))
        effect: dict[str, Any] = {"dataset": key[0], "predictor": key[1], "variant": key[2],
                                  "n": key[3], "seeds": len(paired)}
        for metric in METRICS:
            diffs = [runs[s][metric] - base[s][metric] for s in paired
                     if runs[s].get(metric) is not None and base[s].get(metric) is not None]
            effect[metric] = {**_stats(diffs), "improved": int(sum(d > 0 for d in diffs))}
        effects.append(effect)
    return {"rows": rows, "effects": effects}


def _pm(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:.{digits}f}"
    return text + (f" ± {stat['std']:.{digits}f}" if stat.get("std") is not None else "")


def _signed(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:+.{digits}f}"
    return text + (f" ± {stat['sem']:.{digits}f}" if stat.get("sem") is not None else "")


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render_markdown(
    summary: Mapping[str, Any],
    settings: NB201StudySettings,
    predictors: Sequence[str],
    command: str | None,
) -> str:
    """``summary.md``: per dataset the metrics of every predictor and variant, then the paired
    effects of the variants."""
    from seminas.experiments.predictor_study.nb201 import spec_dict

    lines = [
        "# Predictor study on NAS-Bench-201",
        "",
        f"Per seed: {settings.labeled_pool} labeled candidates (the first N labeled), "
        f"{settings.unlabeled_pool:,} unlabeled cells (pseudo-labels: the first "
        f"{settings.m:,}, labeled rows ×{settings.upsample}; pretraining: all of them, on free "
        f"labels), test: the other {15_625 - settings.labeled_pool - settings.unlabeled_pool:,}"
        f" random cells. Mean ± standard deviation over seeds; top-{settings.top_k} precision: "
        f"share of the predicted top {settings.top_k} in the true top {settings.top_k}. "
        "s/fit: CPU seconds of one fit and its test predictions (pretraining apart: once per "
        "predictor and seed, reused for every dataset and N).",
        "",
        "Predictors: " + "; ".join(
            f"`{p}` = {spec_dict(p)['predictor']} {spec_dict(p)['options'] or ''}".rstrip()
            for p in predictors),
    ]
    if command:
        lines += ["", f"Regenerate with: `{command}`"]
    for dataset in DATASETS:
        rows = [r for r in summary["rows"] if r["dataset"] == dataset]
        if not rows:
            continue
        lines += [
            "", f"## {dataset}", "",
            f"| predictor | variant | N | Kendall τ | Spearman ρ | top-{settings.top_k} "
            "precision | seeds | s/fit | s/pretrain |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['predictor']} | {r['variant']} | {r['n']} | {_pm(r['kendall_tau'])} | "
                f"{_pm(r['spearman_rho'])} | {_pm(r['top_precision'])} | {r['seeds']} | "
                f"{_secs(r['cpu_seconds'])} | {_secs(r['pretrain_cpu_seconds'])} |"
            )
    if summary["effects"]:
        lines += [
            "", "## Effect of each variant against none (paired by seed)", "",
            "Mean difference ± standard error over seeds; *helped*: seeds on which τ rose.", "",
            "| dataset | predictor | variant | N | Δ Kendall τ | Δ Spearman ρ | "
            f"Δ top-{settings.top_k} precision | helped (τ) |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for e in summary["effects"]:
            lines.append(
                f"| {e['dataset']} | {e['predictor']} | {e['variant']} | {e['n']} | "
                f"{_signed(e['kendall_tau'])} | {_signed(e['spearman_rho'])} | "
                f"{_signed(e['top_precision'])} | {e['kendall_tau']['improved']}/{e['seeds']} |"
            )
    return "\n".join(lines) + "\n"


def default_command(
    datasets: Sequence[str],
    predictors: Sequence[str],
    variants: Sequence[str],
    ns: Sequence[int],
    seeds: Sequence[int],
    settings: NB201StudySettings,
    out_dir: Path,
) -> str:
    parts = ["seminas study-predictor --space nb201",
             f"--datasets {','.join(datasets)}",
             f"--n {','.join(map(str, ns))}",
             f"--seeds {format_seeds(seeds)}",
             f"--m {settings.m}",
             f"--upsample {settings.upsample}"]
    if list(predictors) != list(DEFAULT_PREDICTORS):
        parts.append(f"--predictors {','.join(predictors)}")
    if list(variants) != list(VARIANTS):
        parts.append(f"--variants {','.join(variants)}")
    parts.append(f"--out {out_dir}")
    return " ".join(parts)


_STYLE = {"none": ("-", "o"), "pseudo": ("--", "s"), "pretrain": (":", "^"), "both": ("-.", "D")}


def plot(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Kendall τ and top-50 precision against N (± standard error), one line per variant; one
    column per predictor, two rows per dataset."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    predictors = [p for p in PREDICTORS if any(r["predictor"] == p for r in rows)]
    predictors += sorted({r["predictor"] for r in rows} - set(predictors))
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in rows)]
    shown = ("kendall_tau", "top_precision")
    nrows, ncols = max(1, len(datasets) * len(shown)), max(1, len(predictors))
    fig = Figure(figsize=(2.9 * ncols, 2.4 * nrows), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey="row")
    ns = sorted({int(r["n"]) for r in rows})
    for i, dataset in enumerate(datasets):
        for j, metric in enumerate(shown):
            row_i = i * len(shown) + j
            for col, predictor in enumerate(predictors):
                ax = axes[row_i][col]
                for variant in VARIANTS:
                    pts = {int(r["n"]): r[metric] for r in rows if r["dataset"] == dataset
                           and r["predictor"] == predictor and r["variant"] == variant}
                    if not pts:
                        continue
                    x = [n for n in ns if n in pts and pts[n].get("mean") is not None]
                    mean = [pts[n]["mean"] for n in x]
                    sem = [pts[n].get("sem") or 0.0 for n in x]
                    style, marker = _STYLE.get(variant, ("-", "x"))
                    ax.errorbar(x, mean, yerr=sem, linestyle=style, marker=marker, capsize=2,
                                color=f"C{VARIANTS.index(variant)}" if variant in VARIANTS
                                else None,
                                markersize=3, label=variant)
                ax.set_xscale("log")
                ax.xaxis.set_minor_locator(NullLocator())
                ax.set_xticks(ns, [str(n) for n in ns])
                ax.grid(True, alpha=0.3)
                if row_i == 0:
                    ax.set_title(predictor, fontsize=9)
                if col == 0:
                    ax.set_ylabel(f"{dataset}\n{LABELS[metric]}", fontsize=8)
                if row_i == nrows - 1:
                    ax.set_xlabel("N labeled", fontsize=8)
                ax.tick_params(labelsize=7)
    handles = [Line2D([], [], linestyle=_STYLE[v][0], marker=_STYLE[v][1], color=f"C{i}",
                      label=v) for i, v in enumerate(VARIANTS)]
    fig.legend(handles=handles, loc="upper right", ncols=len(VARIANTS), fontsize=8)
    fig.suptitle("NAS-Bench-201: predictors on held-out random cells (mean over seeds, "
                 "± 1 standard error)", fontsize=10, x=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    out = Path(path)
    fig.savefig(out)
    return out


__all__ = ["METRICS", "default_command", "plot", "render_markdown", "summarize"]
