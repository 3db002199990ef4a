"""The dashboard's figures as PNG bytes: the study plots of :mod:`seminas.study.report`
(best so far, predicted vs true) and time per phase, or a placeholder saying what is missing.

Figures are drawn without pyplot (its global state is not for threads) and one at a time (the
server answers requests in threads; matplotlib's font and text caches are shared)."""

from __future__ import annotations

import io
import threading
from typing import Any

from seminas.study.report import best_figure, figure_title, predictions_figure
from seminas.study.study import Study

_DRAWING = threading.Lock()
FIGURES = ("best", "predictions", "phases")


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _placeholder(title: str, message: str) -> Any:
    """A small figure that says why there is nothing to draw yet (the page keeps its layout)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 1.6), dpi=100)
    fig.text(0.5, 0.7, title, ha="center", fontsize=9)
    fig.text(0.5, 0.35, message, ha="center", fontsize=9, color="0.4")
    return fig


def phases_figure(study: Study) -> Any:
    """Wall seconds per phase, summed over the search processes and, apart, the workers."""
    from matplotlib.figure import Figure

    storage = study.storage
    groups = [
        (kind, seconds)
        for kind, seconds in (
            ("search", storage.phase_seconds(["search"])),
            ("workers", storage.phase_seconds(["worker"])),
        )
        if seconds
    ]
    if not groups:
        return _placeholder("time per phase", "no phase time recorded yet")
    phases = list(dict.fromkeys(p for _, seconds in groups for p in seconds))
    fig = Figure(figsize=(6.4, 0.5 + 0.32 * len(phases) * len(groups) + 0.6), dpi=100)
    ax = fig.subplots()
    height = 0.8 / len(groups)
    for g, (kind, seconds) in enumerate(groups):
        ys = [i + g * height for i in range(len(phases))]
        values = [seconds.get(p, 0.0) for p in phases]
        bars = ax.barh(ys, values, height=height, label=f"{kind} processes")
        labels = [f"{v:.1f} s" if v >= 0.05 else f"{v:.1g} s" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    ax.set_yticks([i + height * (len(groups) - 1) / 2 for i in range(len(phases))], phases)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (wall time, all sessions)")
    ax.margins(x=0.15)
    ax.set_title(f"time per phase: {figure_title(study, study.done())}", fontsize=9)
    if len(groups) > 1:
        ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def figure_png(study: Study, name: str) -> bytes:
    """The PNG of one of :data:`FIGURES`, drawn from what the study holds now."""
    if name not in FIGURES:
        raise KeyError(name)
    with _DRAWING:
        if name == "phases":
            return _png(phases_figure(study))
        done = study.done()
        if not done:
            fig = _placeholder(figure_title(study, done), "no query has finished yet")
        elif name == "best":
            fig = best_figure(study, done)
        else:
            fig = predictions_figure(study, done) or _placeholder(
                figure_title(study, done),
                "no predictions: the strategy does not predict, or no predicted query has "
                "finished yet",
            )
        return _png(fig)
