"""The one-shot report: per method and seed, cost (CPU seconds) and the chosen cell's table
accuracies, with the published NAS-Bench-201 numbers beside ours, marked as published at full
scale (their searches ran on GPUs, at the benchmark's 16 channels and 5 cells per stage, on the
whole CIFAR-10 training set; ours on CPUs at the size in the settings column)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from seminas.experiments.store import atomic_write_text
from seminas.oneshot.search import METHODS, TABLE_COLUMNS, read_records

REPORT_MD = "oneshot.md"
REPORT_JSON = "oneshot.json"

# Published NAS-Bench-201 test accuracies (%), mean +- std over the papers' seeds; None where
# the paper gives no number we could confirm. Sources in docs/oneshot.md.
PUBLISHED: dict[str, dict[str, Any]] = {
    "darts": {
        "source": "Dong & Yang, NAS-Bench-201, ICLR 2020, weight-sharing results "
                  "(DARTS-V1, first order)",
        "cifar10": {"valid": 39.77, "test": 54.30},
        "cifar100": {"valid": 15.03, "test": 15.61},
        "ImageNet16-120": {"valid": 16.43, "test": 16.32},
    },
    "balenas": {
        "source": "Zhang et al., BaLeNAS, CVPR 2022 (BaLeNAS-TF, training-free selection; "
                  "CIFAR-10 as listed by Papers with Code)",
        "cifar10": {"valid": 91.52, "test": 94.33},
        "cifar100": None,
        "ImageNet16-120": None,
    },
    "zarts": {"source": "Wang et al., ZARTS, NeurIPS 2022: NAS-Bench-201 numbers not confirmed "
                        "here", "cifar10": None, "cifar100": None, "ImageNet16-120": None},
    "ponas": {"source": "Huang & Chu, PONAS, 2020: reports ImageNet results; no NAS-Bench-201 "
                        "numbers found", "cifar10": None, "cifar100": None,
              "ImageNet16-120": None},
}


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    a = np.asarray(values, float)
    return f"{a.mean():.2f} ± {a.std():.2f}" if len(a) > 1 else f"{a[0]:.2f}"


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: seeds, mean CPU seconds, and mean ± std of every table accuracy."""
    out: dict[str, Any] = {}
    for name in METHODS:
        recs = [r for r in records if r["method"] == name]
        if not recs:
            continue
        row: dict[str, Any] = {
            "seeds": sorted(int(r["seed"]) for r in recs),
            "cpu_seconds_mean": float(np.mean([r["cpu_seconds"] for r in recs])),
            "cells": {r["cell"]: sum(1 for q in recs if q["cell"] == r["cell"]) for r in recs},
        }
        for ds, _, _ in TABLE_COLUMNS:
            for split in ("valid", "test"):
                vals = [r["table"][ds][split] for r in recs]
                row[f"{ds}.{split}"] = {"mean": float(np.mean(vals)), "std": float(np.std(vals))}
        out[name] = row
    return out


def _published_cell(pub: Any, split: str) -> str:
    return "-" if pub is None else f"{pub[split]:.2f}"


def _cell(text: str) -> str:
    """A cell string inside a markdown table (its ``|`` escaped)."""
    return text.replace("|", "\\|")


def markdown(records: list[dict[str, Any]]) -> str:
    lines = ["# One-shot methods on NAS-Bench-201 (CPU scale)", "",
             "Ours: cells chosen by each search at the CPU size in its settings; accuracies are "
             "the benchmark's (CIFAR-10: cifar10-valid validation at 200 epochs, test at 200; "
             "CIFAR-100 and ImageNet16-120: validation at 12 epochs, test at 200). "
             "**Published** rows are the papers' numbers at full scale, for comparison only.", "",
             "| method | seeds | CPU s / search | C10 valid | C10 test | C100 valid | C100 test "
             "| IN16 valid | IN16 test |", "|---|---|---|---|---|---|---|---|---|"]
    for name in METHODS:
        recs = [r for r in records if r["method"] == name]
        if recs:
            cols = [_mean_std([r["table"][ds][s] for r in recs])
                    for ds, _, _ in TABLE_COLUMNS for s in ("valid", "test")]
            cpu = np.mean([r["cpu_seconds"] for r in recs])
            lines.append(f"| {name} (ours) | {len(recs)} | {cpu:.0f} | " + " | ".join(cols) + " |")
        pub = PUBLISHED[name]
        cols = [_published_cell(pub[ds], s) for ds, _, _ in TABLE_COLUMNS
                for s in ("valid", "test")]
        lines.append(f"| {name} (**published**, full scale) | - | - | " + " | ".join(cols) + " |")
    lines += ["", "## Every search", "",
              "| method | seed | CPU s | steps | cell | C10 test | C100 test | IN16 test |",
              "|---|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["method"], int(r["seed"]))):
        t = r["table"]
        lines.append(f"| {r['method']} | {r['seed']} | {r['cpu_seconds']:.0f} | {r['steps']} | "
                     f"`{_cell(r['cell'])}` | {t['cifar10']['test']:.2f} | "
                     f"{t['cifar100']['test']:.2f} | "
                     f"{t['ImageNet16-120']['test']:.2f} |")
    lines += ["", "## Sources of the published numbers", ""]
    lines += [f"- {name}: {PUBLISHED[name]['source']}" for name in METHODS]
    return "\n".join(lines) + "\n"


def write_report(out: str | os.PathLike) -> Path:
    """``oneshot.md`` and ``oneshot.json`` from ``out/search.jsonl``; returns the markdown path."""
    out = Path(out)
    records = read_records(out)
    atomic_write_text(out / REPORT_JSON, json.dumps(
        {"summary": summarise(records), "published": PUBLISHED}, indent=2) + "\n")
    return atomic_write_text(out / REPORT_MD, markdown(records))
