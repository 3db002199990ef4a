"""The NAAP-440 study's report: ``results.json``, ``summary.md`` and ``kendall.png``.

Every number is a mean over the seeds a (regressor, feature set) ran with (one for deterministic
models), computed from the records alone, so the report can be rebuilt from ``records.jsonl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.store import atomic_write_text, json_default

METRICS = ("kendall_tau", "spearman_rho", "mae", "r2")
LABELS = {"kendall_tau": "Kendall τ", "spearman_rho": "Spearman ρ", "mae": "MAE", "r2": "R²"}


def summarise(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (regressor, feature set), in the records' order: means, stds and seeds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["regressor"], r["features"]), []).append(r)
    rows = []
    for (regressor, features), rs in groups.items():
        row: dict[str, Any] = {
            "regressor": regressor,
            "features": features,
            "n_features": rs[0]["n_features"],
            "seeds": [r["seed"] for r in rs],
        }
        for m in METRICS:
            values = np.array([r["metrics"][m] for r in rs], dtype=np.float64)
            row[m] = float(values.mean())
            row[f"{m}_std"] = float(values.std())
        row["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in rs]))
        rows.append(row)
    return rows


def _order(rows: Sequence[dict[str, Any]], key: str) -> list[str]:
    return list(dict.fromkeys(r[key] for r in rows))


def markdown(rows: Sequence[dict[str, Any]], command: str, facts: dict[str, Any]) -> str:
    """The headline table (Kendall τ, regressor x feature set) and the full one."""
    regressors, features = _order(rows, "regressor"), _order(rows, "features")
    cell = {(r["regressor"], r["features"]): r for r in rows}
    lines = [
        "# NAAP-440: predicting final accuracy from architecture and early epochs",
        "",
        f"Fit on the dataset's {facts['train']} training networks, scored on its "
        f"{facts['test']} test networks (`IsTest`); target `MaxAccuracy` (best CIFAR-10 test "
        f"accuracy over 90 epochs). Means over seeds (deterministic models: one seed).",
        "",
        f"Regenerate: `{command}`",
        "",
        "## Kendall τ on the test networks",
        "",
        "| regressor | " + " | ".join(features) + " |",
        "|---|" + "---:|" * len(features),
    ]
    for reg in regressors:
        vals = [cell.get((reg, f)) for f in features]
        lines.append(
            f"| {reg} | "
            + " | ".join("" if v is None else f"{v['kendall_tau']:.3f}" for v in vals)
            + " |"
        )
    lines += [
        "",
        "## All metrics",
        "",
        "| regressor | features | d | seeds | Kendall τ | Spearman ρ | MAE | R² | fit s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['regressor']} | {r['features']} | {r['n_features']} | {len(r['seeds'])} | "
            f"{r['kendall_tau']:.3f} ± {r['kendall_tau_std']:.3f} | {r['spearman_rho']:.3f} | "
            f"{r['mae']:.4f} | {r['r2']:.3f} | {r['fit_seconds']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _epochs(features: str) -> int | None:
    """E of an ``arch`` / ``arch+eE`` feature set (0 for arch only); None for curves alone."""
    if features == "arch":
        return 0
    if features.startswith("arch+e"):
        return int(features[len("arch+e"):])
    return None


def plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Kendall τ against E (epochs of curves beside the architecture), one line per regressor;
    curves alone as a cross at their epoch count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, reg in enumerate(_order(rows, "regressor")):
        color = f"C{i % 10}"
        mine = [r for r in rows if r["regressor"] == reg]
        line = sorted((_epochs(r["features"]), r["kendall_tau"]) for r in mine
                      if _epochs(r["features"]) is not None)
        if line:
            ax.plot([e for e, _ in line], [t for _, t in line], "o-", color=color, label=reg)
        for r in mine:
            if _epochs(r["features"]) is None and r["features"].startswith("curves-e"):
                ax.plot(int(r["features"][len("curves-e"):]), r["kendall_tau"], "x",
                        color=color, markersize=9)
    ax.set_xlabel("epochs of curves beside the architecture features (0: architecture only)")
    ax.set_ylabel("Kendall τ on the 40 test networks")
    ax.set_title("NAAP-440 (x: the curves alone, no architecture)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(out_dir: Path, records: Sequence[dict[str, Any]], bench: Any,
                 command: str) -> dict[str, Path]:
    """Write ``results.json``, ``summary.md`` and ``kendall.png`` into ``out_dir``."""
    import json

    rows = summarise(records)
    facts = {
        "rows": int(len(bench.frame)),
        "train": int(len(bench.train)),
        "test": int(len(bench.test)),
        "target": "MaxAccuracy",
        "arch_features": bench.arch_columns(),
    }
    results = {"command": command, "dataset": facts, "summary": rows, "records": list(records)}
    paths = {
        "results_json": out_dir / "results.json",
        "summary_md": out_dir / "summary.md",
        "plot": out_dir / "kendall.png",
    }
    atomic_write_text(paths["results_json"],
                      json.dumps(results, indent=1, default=json_default) + "\n")
    atomic_write_text(paths["summary_md"], markdown(rows, command, facts))
    plot(rows, paths["plot"])
    return paths
