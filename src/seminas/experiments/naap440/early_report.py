"""The early-training study's report: ``results.json``, ``README.md`` and ``kendall.png``,
rebuilt from the records alone (means and standard deviations over seeds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.store import atomic_write_text, json_default


def summarise(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (benchmark, regressor, features, N), in the records' order."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["benchmark"], r["regressor"], r["features"], r["n"]), []).append(r)
    rows = []
    for (bench, reg, features, n), rs in groups.items():
        row: dict[str, Any] = {"benchmark": bench, "regressor": reg, "features": features,
                               "n": n, "seeds": [r["seed"] for r in rs],
                               "held_out": rs[0]["held_out"]}
        for m in ("kendall_tau", "spearman_rho"):
            values = np.array([r["metrics"][m] for r in rs], dtype=np.float64)
            row[m], row[f"{m}_std"] = float(values.mean()), float(values.std())
        rows.append(row)
    return rows


def _order(rows: Sequence[dict[str, Any]], key: str) -> list[Any]:
    return list(dict.fromkeys(r[key] for r in rows))


def markdown(rows: Sequence[dict[str, Any]], what: Mapping[str, str], command: str) -> str:
    lines = [
        "# The early-training predictor on NAS-Bench-201 and NAS-Bench-101",
        "",
        "N cells labelled at random (per seed), the rest held out; Kendall τ (± std over seeds) "
        "and Spearman ρ of the prediction against the final accuracy on the held-out cells. "
        "`arch`: architecture encoding only; `arch+eK`: plus the K-epoch validation accuracy; "
        "`eK` with regressor `early-value`: the K-epoch accuracy itself as the ranking.",
        "",
        f"Regenerate: `{command}`",
    ]
    sizes = sorted(_order(rows, "n"))
    cell = {(r["benchmark"], r["regressor"], r["features"], r["n"]): r for r in rows}
    for bench in _order(rows, "benchmark"):
        mine = [r for r in rows if r["benchmark"] == bench]
        held = {r["n"]: r["held_out"] for r in mine}
        lines += [
            "",
            f"## {bench}: {what.get(bench, '')}",
            "",
            "| regressor | features | " + " | ".join(
                f"τ N={n} ({held.get(n, '?')} held out)" for n in sizes) + " | "
            + " | ".join(f"ρ N={n}" for n in sizes) + " |",
            "|---|---|" + "---:|" * (2 * len(sizes)),
        ]
        pairs = list(dict.fromkeys((r["regressor"], r["features"]) for r in mine))
        for reg, features in pairs:
            taus, rhos = [], []
            for n in sizes:
                r = cell.get((bench, reg, features, n))
                taus.append("" if r is None else
                            f"{r['kendall_tau']:.3f} ± {r['kendall_tau_std']:.3f}")
                rhos.append("" if r is None else f"{r['spearman_rho']:.3f}")
            lines.append(f"| {reg} | {features} | " + " | ".join(taus) + " | "
                         + " | ".join(rhos) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Kendall τ against N, one panel per benchmark, colour by feature set, style by
    regressor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = _order(rows, "benchmark")
    fig, axes = plt.subplots(1, len(benches), figsize=(6.5 * len(benches), 4.6), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, bench in zip(axes[0], benches, strict=True):
        mine = [r for r in rows if r["benchmark"] == bench]
        features = _order(mine, "features")
        regs = [r for r in _order(mine, "regressor")]
        for r_i, reg in enumerate(regs):
            for f_i, feat in enumerate(features):
                line = sorted((r["n"], r["kendall_tau"]) for r in mine
                              if r["regressor"] == reg and r["features"] == feat)
                if line:
                    ax.plot([n for n, _ in line], [t for _, t in line],
                            "o" + styles[r_i % len(styles)], color=f"C{f_i % 10}",
                            label=f"{reg}, {feat}", markersize=4)
        ax.set_xscale("log")
        ax.set_xlabel("labelled cells N")
        ax.set_ylabel("Kendall τ on the held-out cells")
        ax.set_title(bench)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(out_dir: Path, records: Sequence[dict[str, Any]], what: Mapping[str, str],
                 command: str) -> dict[str, Path]:
    import json

    rows = summarise(records)
    paths = {"results_json": out_dir / "results.json", "readme": out_dir / "README.md",
             "plot": out_dir / "kendall.png"}
    results = {"command": command, "benchmarks": dict(what), "summary": rows,
               "records": list(records)}
    atomic_write_text(paths["results_json"],
                      json.dumps(results, indent=1, default=json_default) + "\n")
    atomic_write_text(paths["readme"], markdown(rows, what, command))
    plot(rows, paths["plot"])
    return paths
