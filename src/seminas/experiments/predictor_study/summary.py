"""A predictor study's summary: per (predictor, N, M) each metric's mean, spread and standard
error over seeds, and the paired effect of pseudo-labels against M = 0 -- ``summary.md`` for
people, ``summary.json`` for scripts, with the command that regenerates them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.predictor_study.metrics import METRICS
from seminas.experiments.predictor_study.settings import PREDICTORS, StudySettings
from seminas.experiments.seeds import format_seeds


def _stats(values: Iterable[float | None]) -> dict[str, float | int | None]:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    n = len(arr)
    std = float(arr.std(ddof=1)) if n > 1 else None
    return {
        "mean": float(arr.mean()) if n else None,
        "std": std,
        "sem": std / math.sqrt(n) if std is not None else None,
        "n": n,
    }


def summarize(lines: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per (predictor, N, M): mean, std and standard error of each metric over seeds; and per
    (predictor, N, M > 0): the paired difference to M = 0 of the same seeds, and on how many
    seeds pseudo-labels helped."""
    groups: dict[tuple[str, int, int], dict[int, Mapping[str, Any]]] = {}
    for line in lines:
        groups.setdefault((line["predictor"], int(line["n"]), int(line["m"])), {})[
            int(line["seed"])
        ] = line
    order = sorted(groups, key=lambda k: (PREDICTORS.index(k[0]) if k[0] in PREDICTORS else 9,
                                          k[1], k[2]))
    rows, effects = [], []
    for key in order:
        runs = groups[key]
        row: dict[str, Any] = {"predictor": key[0], "n": key[1], "m": key[2], "seeds": len(runs)}
        for metric in METRICS:
            row[metric] = _stats(r.get(metric) for r in runs.values())
        row["seconds"] = _stats(r.get("seconds") for r in runs.values())["mean"]
        cpu = [r.get("cpu_seconds") for r in runs.values()]
        row["cpu_seconds"] = None if None in cpu else _stats(cpu)["mean"]
        rows.append(row)
        base = groups.get((key[0], key[1], 0))
        if key[2] == 0 or base is None:
            continue
        paired = sorted(set(runs) & set(base))
        effect: dict[str, Any] = {"predictor": key[0], "n": key[1], "m": key[2],
                                  "seeds": len(paired)}
        for metric in METRICS:
            diffs = [
                runs[s][metric] - base[s][metric]
                for s in paired
                if runs[s].get(metric) is not None and base[s].get(metric) is not None
            ]
            effect[metric] = {**_stats(diffs), "improved": int(sum(d > 0 for d in diffs))}
        effects.append(effect)
    return {"rows": rows, "effects": effects}


def _pm(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:.{digits}f}"
    if stat.get("std") is not None:
        text += f" ± {stat['std']:.{digits}f}"
    return text


def _signed(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:+.{digits}f}"
    if stat.get("sem") is not None:
        text += f" ± {stat['sem']:.{digits}f}"
    return text


def _seconds(row: Mapping[str, Any]) -> str:
    """CPU seconds per fit where recorded, else wall seconds (marked: they include waiting)."""
    if row.get("cpu_seconds") is not None:
        return f"{row['cpu_seconds']:.1f}"
    return f"{row['seconds']:.1f} (wall)"


def render_markdown(
    summary: Mapping[str, Any], settings: StudySettings, command: str | None
) -> str:
    """``summary.md``: the metrics table and the paired pseudo-label effects."""
    t = settings.train
    if settings.train_steps:
        second = (f"then exactly {settings.train_steps} gradient steps on labeled "
                  f"×{settings.upsample} + pseudo-labeled for every M (compute-matched control)")
    else:
        second = (f"then {settings.epochs} epochs on labeled ×{settings.upsample} + "
                  f"pseudo-labeled")
    lines = [
        "# Predictor study on real NAS-Bench-101 cells",
        "",
        "N labeled cells from `nasbench101/subset-20k.csv` (108-epoch validation accuracy), "
        "M pseudo-labeled cells from the enumerated space outside the subset; metrics on all "
        "subset cells not labeled (20,001 − N). Mean ± standard deviation over seeds; s/fit is "
        "the CPU time of one cell (wall time, marked, where CPU time was not recorded).",
        "",
        f"- Controller: SemiNAS preset `{settings.preset}`'s model and optimiser (hidden size "
        f"{settings.shape.get('hidden_size')}, batch {t.get('batch_size')}, learning rate "
        f"{t.get('lr')}); pre-train {settings.pretrain_epochs} epochs on the labeled cells, "
        f"{second}; each phase capped at {settings.max_steps or 'no'} gradient steps.",
        "- GBDT: LightGBM with GBDT-NAS's settings "
        f"({settings.gbdt.get('num_boost_round')} trees, {settings.gbdt.get('num_leaves')} "
        f"leaves, learning rate {settings.gbdt.get('learning_rate')}); pseudo-labels are its own "
        f"predictions, then a refit on labeled ×{settings.upsample} + pseudo-labeled.",
    ]
    if command:
        lines.append(f"- Regenerate with: `{command}`")
    lines += [
        "",
        "| predictor | N | M | Kendall tau | Spearman rho | top-1% precision | seeds | "
        "s/fit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {row['predictor']} | {row['n']} | {row['m']:,} | {_pm(row['kendall_tau'])} | "
            f"{_pm(row['spearman_rho'])} | {_pm(row['top_precision'])} | {row['seeds']} | "
            f"{_seconds(row)} |"
        )
    if summary["effects"]:
        lines += [
            "",
            "## Effect of pseudo-labels (paired by seed, against M = 0)",
            "",
            "Mean difference ± standard error over seeds; *helped* counts the seeds on which "
            "the metric rose.",
            "",
            "| predictor | N | M | Δ Kendall tau | Δ Spearman rho | Δ top-1% precision | "
            "helped (tau) | seeds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in summary["effects"]:
            lines.append(
                f"| {e['predictor']} | {e['n']} | {e['m']:,} | {_signed(e['kendall_tau'])} | "
                f"{_signed(e['spearman_rho'])} | {_signed(e['top_precision'])} | "
                f"{e['kendall_tau']['improved']}/{e['seeds']} | {e['seeds']} |"
            )
    return "\n".join(lines) + "\n"


def default_command(
    ns: Sequence[int],
    ms: Sequence[int],
    seeds: Sequence[int],
    predictors: Sequence[str],
    settings: StudySettings,
    out_dir: Path,
) -> str:
    parts = [
        "seminas study-predictor",
        f"--n {','.join(map(str, ns))}",
        f"--m {','.join(map(str, ms))}",
        f"--seeds {format_seeds(seeds)}",
        f"--preset {settings.preset}",
        f"--max-steps {settings.max_steps}",
        f"--pretrain-epochs {settings.pretrain_epochs}",
    ]
    if settings.train_steps:
        parts.append(f"--train-steps {settings.train_steps}")
    else:
        parts.append(f"--epochs {settings.epochs}")
    if list(predictors) != list(PREDICTORS):
        parts.append(f"--predictors {','.join(predictors)}")
    parts.append(f"--out {out_dir}")
    return " ".join(parts)
