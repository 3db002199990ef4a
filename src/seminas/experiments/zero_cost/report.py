"""The training-free study's report: rank correlations with the table, the cost per cell, a
scatter plot per score, and the per-cell score file.

Files written into the study directory:

- ``summary.json`` / ``summary.md``: Kendall's tau-b and Spearman's rho of each score (and of
  DAS's two atomic metrics) with the 200-epoch test accuracy on CIFAR-10, CIFAR-100 and
  ImageNet16-120, over the whole sample and within its top 10% of cells by that accuracy; how
  many of the sample's true best 5% (CIFAR-10) survive when only the best 10/25/50% by a score
  are kept (its use as a cheap filter; keeping a random fraction f keeps f of them); the mean
  seconds per cell; the best score by Kendall's tau on CIFAR-10.
- ``scatter-<score>.png``: the score against CIFAR-10 test accuracy, one point per cell.
- ``scores.npz``: the per-cell scores (:mod:`seminas.zero_cost.scorefile`).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.store import atomic_write_text, json_default
from seminas.zero_cost import COMPONENTS, DESCRIPTIONS, SCORES, save_scores

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
TARGETS = ("cifar10", "cifar100", "ImageNet16-120")
TOP_FRACTION = 0.10
FILTER_TARGET_FRACTION = 0.05
KEEP_FRACTIONS = (0.10, 0.25, 0.50)
BEST_BY = "cifar10"


def _correlations(score: np.ndarray, acc: np.ndarray) -> dict[str, Any]:
    from scipy.stats import kendalltau, spearmanr

    if len(score) < 2:
        return {"kendall_tau": None, "spearman_rho": None, "n": int(len(score))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, reported as None
        tau = float(kendalltau(score, acc)[0])
        rho = float(spearmanr(score, acc)[0])
    return {
        "kendall_tau": None if math.isnan(tau) else tau,
        "spearman_rho": None if math.isnan(rho) else rho,
        "n": int(len(score)),
    }


def _top_recall(score: np.ndarray, acc: np.ndarray, keep: float) -> float:
    """Fraction of the true best ``FILTER_TARGET_FRACTION`` kept by the best ``keep`` by score
    (ties in the score broken by position, i.e. at random over the seeded sample)."""
    n = len(score)
    best = set(np.argsort(-acc, kind="stable")[: max(1, math.ceil(FILTER_TARGET_FRACTION * n))])
    kept = set(np.argsort(-score, kind="stable")[: max(1, math.ceil(keep * n))])
    return len(best & kept) / len(best)


def score_names(settings: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(the scores a study computed, the DAS components reported beside them)."""
    scores = [str(n) for n in settings.get("scores", SCORES)]
    components = list(COMPONENTS) if "das" in scores or "naswot" in scores else []
    return scores, components


def _seconds(records: Sequence[Mapping[str, Any]], group: str) -> dict[str, float]:
    values = np.array([float(r["seconds"][group]) for r in records])
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "max": float(values.max()), "total": float(values.sum())}


def summarize(
    records: Sequence[Mapping[str, Any]],
    truth: Mapping[str, np.ndarray],
    settings: Mapping[str, Any],
    command: str = "",
) -> dict[str, Any]:
    """The report's numbers (see the module docstring) as one JSON-ready dict."""
    index = np.array([int(r["index"]) for r in records])
    computed, components = score_names(settings)
    names = computed + components
    values = {s: np.array([float(r["scores"][s]) for r in records]) for s in names}
    correlations: dict[str, Any] = {}
    for s in names:
        correlations[s] = {}
        for ds in TARGETS:
            acc = np.asarray(truth[ds], dtype=np.float64)[index]
            top = acc >= np.quantile(acc, 1.0 - TOP_FRACTION)
            correlations[s][ds] = {
                "overall": _correlations(values[s], acc),
                "top10": _correlations(values[s][top], acc[top]),
            }
    acc10 = np.asarray(truth[BEST_BY], dtype=np.float64)[index]
    filters = {s: {f"{k:g}": _top_recall(values[s], acc10, k) for k in KEEP_FRACTIONS}
               for s in computed}
    taus = {s: correlations[s][BEST_BY]["overall"]["kendall_tau"] for s in computed}
    ranked = sorted((t, s) for s, t in taus.items() if t is not None)
    groups = {"activation (naswot + das, one pass)": "activation", "synflow": "synflow"}
    seconds = {part: _seconds(records, g) for part, g in groups.items()
               if g in records[0]["seconds"]}
    by_score = {s: seconds[next(p for p, g in groups.items()
                                if g == ("synflow" if s == "synflow" else "activation"))]["mean"]
                for s in computed}
    return {
        "kind": "zero-cost-nb201",
        "cells": len(records),
        "settings": dict(settings),
        "command": command,
        "scores": computed,
        "components": components,
        "descriptions": {s: DESCRIPTIONS[s] for s in names},
        "targets": {ds: f"{ds} test accuracy (%), 200 epochs" for ds in TARGETS},
        "correlations": correlations,
        "filter": {"target": f"true best {FILTER_TARGET_FRACTION:.0%} by {BEST_BY} test "
                   "accuracy", "recall": filters},
        "degenerate": {s: int(np.sum(~np.isfinite(values[s]))) for s in names},
        "seconds_per_cell": {
            **seconds,
            "by_score": by_score,
            "all": sum(v["mean"] for v in seconds.values()),
        },
        "best": {"score": ranked[-1][1] if ranked else None,
                 "by": f"Kendall tau with {BEST_BY} test accuracy"},
    }


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``summary.md``: the tables of :func:`summarize`'s output."""
    st = summary["settings"]
    lines = [
        "# Training-free scores on NAS-Bench-201",
        "",
        f"{summary['cells']} cells (seeded sample, seed {st['seed']}), network "
        f"`{st['network']}` ({st['network_settings']}), one batch of {st['batch_size']} "
        f"{st['data']} training images. Regenerate: `{summary['command']}`.",
        "",
        "Kendall τ / Spearman ρ with 200-epoch test accuracy, over all cells of the sample and "
        "within its top 10% by that accuracy."
        + (" `das_distinguish` and `das_units` are DAS's two atomic metrics (not scores of "
           "their own)." if summary["components"] else ""),
        "",
    ]
    for ds in TARGETS:
        lines += [f"## {ds}", "", "| score | τ | ρ | τ top 10% | ρ top 10% |",
                  "|---|---|---|---|---|"]
        for s in summary["scores"] + summary["components"]:
            c = summary["correlations"][s][ds]
            lines.append(
                f"| {s} | {_fmt(c['overall']['kendall_tau'])} | "
                f"{_fmt(c['overall']['spearman_rho'])} | {_fmt(c['top10']['kendall_tau'])} | "
                f"{_fmt(c['top10']['spearman_rho'])} |"
            )
        lines.append("")
    keeps = list(next(iter(summary["filter"]["recall"].values())))
    lines += ["## As a filter", "",
              f"Share of the {summary['filter']['target']} kept when only the best fraction by "
              "a score is kept (a random filter keeps that same fraction).", "",
              "| score | " + " | ".join(f"keep {float(k):.0%}" for k in keeps) + " |",
              "|---|" + "---|" * len(keeps)]
    for s, rec in summary["filter"]["recall"].items():
        lines.append(f"| {s} | " + " | ".join(f"{rec[k]:.2f}" for k in keeps) + " |")
    sec = summary["seconds_per_cell"]
    lines += ["", "## Seconds per cell (one CPU thread, network construction included)", "",
              "| part | mean | median | max | total |", "|---|---|---|---|---|"]
    for part in ("activation (naswot + das, one pass)", "synflow"):
        if part not in sec:
            continue
        v = sec[part]
        lines.append(f"| {part} | {v['mean']:.3f} | {v['median']:.3f} | {v['max']:.3f} | "
                     f"{v['total']:.1f} |")
    lines += ["", f"Best score ({summary['best']['by']}): **{summary['best']['score']}**.", ""]
    degenerate = {s: n for s, n in summary["degenerate"].items() if n}
    if degenerate:
        lines += [f"Cells with a degenerate (-inf) value: {degenerate}.", ""]
    return "\n".join(lines)


def plot_scatter(
    records: Sequence[Mapping[str, Any]], truth: Mapping[str, np.ndarray], out_dir: Path,
    settings: Mapping[str, Any] | None = None,
) -> list[Path]:
    """``scatter-<score>.png``: each score against CIFAR-10 test accuracy."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    index = np.array([int(r["index"]) for r in records])
    acc = np.asarray(truth["cifar10"], dtype=np.float64)[index]
    paths = []
    for s in score_names(settings or {})[0]:
        x = np.array([float(r["scores"][s]) for r in records])
        log = s == "synflow"  # spans dozens of orders of magnitude; 0 for cut-off cells
        ok = np.isfinite(x) & (x > 0 if log else True)
        fig = Figure(figsize=(5, 4), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.scatter(x[ok], acc[ok], s=6, alpha=0.5)
        if log and ok.any():
            ax.set_xscale("log")
        dropped = int((~ok).sum())
        what = "at 0" if log else "at -inf"
        ax.set_xlabel(s + (f" ({dropped} cells {what} not shown)" if dropped else ""))
        ax.set_ylabel("CIFAR-10 test accuracy (%)")
        ax.set_title(f"{s}: {len(x)} NAS-Bench-201 cells")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"scatter-{s}.png"
        fig.savefig(path)
        paths.append(path)
    return paths


def write_report(
    out_dir: Path,
    records: Sequence[Mapping[str, Any]],
    truth: Mapping[str, np.ndarray],
    settings: Mapping[str, Any],
    command: str = "",
) -> dict[str, Any]:
    """Write summary.json, summary.md, the scatter plots and scores.npz; return their paths."""
    from seminas.experiments.zero_cost.study import SCORES_FILE

    summary = summarize(records, truth, settings, command)
    summary_json = atomic_write_text(
        out_dir / SUMMARY_JSON, json.dumps(summary, indent=2, default=json_default) + "\n"
    )
    summary_md = atomic_write_text(out_dir / SUMMARY_MD, render_markdown(summary))
    ordered = sorted(records, key=lambda r: int(r["index"]))
    names = summary["scores"] + summary["components"]
    scores = save_scores(
        out_dir / SCORES_FILE,
        [int(r["index"]) for r in ordered],
        {s: [float(r["scores"][s]) for r in ordered] for s in names},
        {"space": "nb201", "larger_is_better": True, "descriptions":
         {s: DESCRIPTIONS[s] for s in names}, "settings": dict(settings), "command": command},
    )
    return {"summary_json": summary_json, "summary_md": summary_md, "scores": scores,
            "plots": plot_scatter(records, truth, out_dir, settings), "summary": summary}
