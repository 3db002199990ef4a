"""What a study shows: a summary, the best architectures, and two figures (written by
``seminas plot``, served by ``seminas dashboard``).

Everything here only reads the study, so it works on a study that is still running or was
interrupted (it then describes the queries finished so far).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seminas.study.storage import TrialRow
from seminas.study.study import Study


def kendall_by_iteration(trials: list[TrialRow]) -> list[dict[str, Any]]:
    """Per iteration with predictions: how well the predictor ranked what it proposed."""
    from scipy.stats import kendalltau

    groups: dict[int, list[TrialRow]] = {}
    for t in trials:
        if t.predicted is not None and t.search_metric is not None:
            groups.setdefault(t.iteration, []).append(t)
    out = []
    for iteration in sorted(groups):
        group = groups[iteration]
        tau = None
        if len(group) > 1:
            pred = [t.predicted for t in group]
            value = float(kendalltau(pred, [t.search_metric for t in group])[0])
            tau = None if math.isnan(value) else value
        out.append({"iteration": iteration, "n": len(group), "kendall_tau": tau})
    return out


def best_entries(study: Study, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` best finished trials in the space's native notation."""
    return [
        {"rank": rank, **trial_summary(t)} for rank, t in enumerate(study.best(top), start=1)
    ]


def trial_summary(t: Any) -> dict[str, Any]:
    """One finished trial as exported: where it came in the search and what it scored."""
    return {
        "query": t.number + 1,
        "iteration": t.iteration,
        "arch_id": t.arch_id,
        "arch": t.arch,
        "search_metric": t.search_metric,
        "report_metric": t.report_metric,
    }


def summary(study: Study, top: int = 5) -> dict[str, Any]:
    """Everything ``seminas show`` prints, as plain data."""
    from seminas.study.runner import is_dead_local

    storage = study.storage
    counts = storage.counts()
    done = study.done()
    sessions = storage.sessions()
    for s in sessions:  # a process of this host that died without a word (kill -9, power loss)
        if s.status == "running" and is_dead_local(s.worker):
            s.status = "killed"
    config = study.config
    costs = [t.cost_seconds for t in done]
    stopped = storage.get_state("stopped")  # ended before its budget: evaluations kept failing
    if study.complete():
        state = "complete"
    elif any(s.status == "running" for s in sessions):
        state = "running"
    else:
        state = "stopped" if stopped else "interrupted"
    return {
        "study": study.location,
        "state": state,
        "stopped": stopped if state == "stopped" else None,
        "strategy": config["strategy"],
        "preset": config.get("preset"),
        "options": config["options"],
        "seed": study.seed,
        "budget": study.budget,
        "evaluator": config["evaluator"],
        "metrics": study.info.get("metrics", {}),
        "queries": {"done": counts["done"], **{k: v for k, v in counts.items() if k != "done"}},
        "best": best_entries(study, top),
        "phase_seconds": storage.phase_seconds(["search"]),
        "worker_seconds": storage.phase_seconds(["worker"]),
        "evaluation_cost_seconds": None if any(c is None for c in costs) else float(sum(costs)),
        "predictor": kendall_by_iteration(done),
        "sessions": [
            {
                "id": s.id,
                "kind": s.kind,
                "worker": s.worker,
                "status": s.status,
                "evaluated": s.evaluated,
                "replayed": s.replayed,
                "replay_seconds": s.replay_seconds,
                "seconds": None if s.ended is None else s.ended - s.started,
            }
            for s in sessions
        ],
        "checkpoints": len(storage.checkpoints()),
        "environment": {k: v for k, v in study.info.items() if k not in ("metrics", "evaluator")},
    }


def figure_title(study: Study, done: list[TrialRow]) -> str:
    """What the study's figures are titled: strategy, space, seed and progress."""
    space = study.config["evaluator"].get("space")
    return (
        f"{study.config['strategy']} on {space} (seed {study.seed}, "
        f"{len(done)} of {study.budget} queries)"
    )


def best_figure(study: Study, done: list[TrialRow]) -> Any:
    """Best search metric so far (and its report metric) against queries, with each
    iteration's first query marked: a matplotlib ``Figure`` (no pyplot, so threads may draw)."""
    from matplotlib.figure import Figure

    metrics = study.info.get("metrics", {})
    search_name = metrics.get("search", "search metric")
    report_name = metrics.get("report", "report metric")
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.subplots()
    xs, best_s, best_r, best = [], [], [], None
    for t in done:
        if best is None or t.search_metric > best.search_metric:
            best = t
        xs.append(t.number + 1)
        best_s.append(best.search_metric)
        best_r.append(math.nan if best.report_metric is None else best.report_metric)
    ax.plot(xs, best_s, drawstyle="steps-post", label=f"best {search_name}")
    if any(not math.isnan(v) for v in best_r):
        ax.plot(xs, best_r, drawstyle="steps-post", label=f"its {report_name}")
    iterations = sorted({t.iteration for t in done if t.iteration > 0})
    starts = [min(t.number for t in done if t.iteration == i) + 1 for i in iterations]
    for i, x in enumerate(starts[:50]):
        label = "an iteration's first query" if i == 0 else None
        ax.axvline(x, color="0.6", lw=0.8, ls=":", zorder=0, label=label)
    ax.set_xlabel("queries")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(figure_title(study, done), fontsize=9)
    if xs:
        ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def predictions_figure(study: Study, done: list[TrialRow]) -> Any | None:
    """Predicted against true search metric of each iteration's proposals, one panel per
    iteration with its Kendall tau; None when no finished query carries a prediction."""
    from matplotlib.figure import Figure

    taus = kendall_by_iteration(done)
    if not taus:
        return None
    search_name = study.info.get("metrics", {}).get("search", "search metric")
    n = len(taus)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    # at least 5 inches wide, so that the title fits above a single iteration's panel
    fig = Figure(figsize=(max(2.3 * cols, 5.0), 2.2 * rows), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, item in zip(axes.flat, taus, strict=False):
        group = [t for t in done if t.iteration == item["iteration"] and t.predicted is not None]
        true = [t.search_metric for t in group]
        pred = [t.predicted for t in group]
        ax.scatter(true, pred, s=8, alpha=0.7)
        lo, hi = min(true + pred), max(true + pred)
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
        tau = "n/a" if item["kendall_tau"] is None else f"{item['kendall_tau']:.2f}"
        ax.set_title(f"iteration {item['iteration']}: τ = {tau}", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.supxlabel(f"true {search_name}", fontsize=8)
    fig.supylabel("predicted", fontsize=8)
    fig.suptitle(figure_title(study, done), fontsize=9)
    fig.tight_layout()
    return fig


def plot(study: Study, out_dir: str | Path) -> list[Path]:
    """Write ``best.png`` (best so far vs queries) and, where the strategy predicts,
    ``predictions.png`` (predicted vs true per iteration, with Kendall tau); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = study.done()
    written = []
    for name, fig in (
        ("best.png", best_figure(study, done)),
        ("predictions.png", predictions_figure(study, done)),
    ):
        if fig is not None:
            fig.savefig(out / name)
            written.append(out / name)
    return written
