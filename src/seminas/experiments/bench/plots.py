"""A bench's figure: mean best-so-far report metric against queries, one line per method with
a standard-error band and the global optimum dotted -- the figure papers draw."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.bench.results import BenchWarning
from seminas.experiments.bench.summary import group_runs, info_from_results
from seminas.experiments.bench.tables import describe_benchmark, make_benchmark


def _curve_matrix(runs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Runs x queries best-so-far report metric; a run that stopped early keeps its last value."""
    length = max(int(r["budget"]) for r in runs)
    mat = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        values = [np.nan if v is None else float(v) for v in run["trajectory"]["best_report"]]
        if values:
            mat[i, : len(values)] = values[:length]
            mat[i, len(values) :] = values[-1]
    return mat


def plot_curves(
    results: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    benchmark_info: Mapping[str, Any] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Path:
    """Mean best-so-far report metric against queries, one line per method with a ± standard
    error band and the global optimum dotted; the figure papers draw, from the results file.

    Without ``benchmark_info`` the runs' benchmark is loaded (from ``data_dir``) for the
    optimum; if that fails the plot is drawn without the optimum line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not results:
        raise SeminasError("no finished runs: nothing to plot")
    if benchmark_info is None:
        first = results[0]
        try:
            evaluator = make_benchmark(
                first["space"], first["dataset"], data_dir, first["fidelity"]
            )
            benchmark_info = describe_benchmark(evaluator)
        except SeminasError as exc:
            warnings.warn(f"plotting without the global optimum: {exc}", BenchWarning, 2)
    info = {**info_from_results(results), **dict(benchmark_info or {})}
    fig = Figure(figsize=(8, 5), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lows: list[float] = []
    highs: list[float] = []
    for _key, label, runs in group_runs(results):
        mat = _curve_matrix(runs)
        counts = np.sum(~np.isnan(mat), axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (missing metric)
            mean = np.nanmean(mat, axis=0)
            std = np.nanstd(mat, axis=0, ddof=1) if len(runs) > 1 else np.zeros(mat.shape[1])
        sem = np.where(counts > 1, std / np.sqrt(np.maximum(counts, 1)), 0.0)
        x = np.arange(1, mat.shape[1] + 1)
        (line,) = ax.plot(x, mean, lw=1.8, label=f"{label} (n={len(runs)})")
        ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
        # Frame the interesting part: from 10% into the budget on, where methods separate.
        start = min(len(mean) - 1, max(0, int(math.ceil(0.1 * len(mean))) - 1))
        tail = (mean - sem)[start:]
        if np.isfinite(tail).any():
            lows.append(float(np.nanmin(tail)))
            highs.append(float(np.nanmax(mean + sem)))
    opt = info.get("optimum_report")
    if opt is not None:
        ax.axhline(opt, color="black", ls=":", lw=1.2, label=f"global optimum ({opt:.2f})")
        highs.append(float(opt))
    if lows:
        low, high = min(lows), max(highs)
        pad = 0.05 * max(high - low, 1e-3)
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(0, max(int(r["budget"]) for r in results) + 1)
    report = info.get("report_metric") or "report metric"
    ax.set_xlabel("queries (architectures evaluated)")
    ax.set_ylabel(f"{report}\nof the best-by-search architecture so far", fontsize=9)
    title = f"{info.get('space')} / {info.get('dataset')}: best so far, mean ± standard error"
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, title="band: ± 1 s.e. over runs", title_fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
