"""A predictor study's figure: each metric against M, one line per N with standard-error
bars, one column per predictor."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.predictor_study.metrics import METRIC_LABELS, METRICS
from seminas.experiments.predictor_study.settings import PREDICTORS


def plot(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Each metric against M (one line per N, ± standard error), one column per predictor."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    predictors = [p for p in PREDICTORS if any(r["predictor"] == p for r in rows)]
    ms = sorted({int(r["m"]) for r in rows})
    ns = sorted({int(r["n"]) for r in rows})
    fig = Figure(figsize=(4.2 * max(1, len(predictors)), 9), dpi=130)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(METRICS), max(1, len(predictors)), squeeze=False, sharey="row")
    x = np.arange(len(ms))
    for col, predictor in enumerate(predictors):
        for row_i, metric in enumerate(METRICS):
            ax = axes[row_i][col]
            for n in ns:
                pts = {int(r["m"]): r[metric] for r in rows
                       if r["predictor"] == predictor and int(r["n"]) == n}
                mean = np.array([np.nan if pts.get(m, {}).get("mean") is None
                                 else pts[m]["mean"] for m in ms], dtype=float)
                sem = np.array([(pts.get(m, {}).get("sem") or 0.0) for m in ms], dtype=float)
                ax.errorbar(x, mean, yerr=sem, marker="o", capsize=3, label=f"N = {n}")
            ax.set_xticks(x, [_short(m) for m in ms])
            ax.grid(True, alpha=0.3)
            if row_i == 0:
                ax.set_title(predictor)
            if row_i == len(METRICS) - 1:
                ax.set_xlabel("M (pseudo-labeled cells)")
            if col == 0:
                ax.set_ylabel(METRIC_LABELS[metric])
    axes[0][0].legend(fontsize=8)
    fig.suptitle("NAS-Bench-101: predictor quality on held-out cells vs pseudo-labels\n"
                 "(mean over seeds, error bars ± 1 standard error)", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out


def _short(m: int) -> str:
    return f"{m // 1000}k" if m >= 1000 and m % 1000 == 0 else str(m)
