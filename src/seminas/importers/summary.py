"""What an import found, as one readable block and as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seminas.importers.streams import human_bytes

_METRIC_WORDS = {
    "valid_acc": "validation accuracy",
    "valid_loss": "validation loss",
    "test_acc": "test accuracy",
    "test_loss": "test loss",
    "valtest_acc": "valid+test accuracy",
    "valtest_loss": "valid+test loss",
    "train_acc": "train accuracy",
    "train_loss": "train loss",
    "train_time": "train time",
    "train_epoch_time": "time per epoch",
    "valid_eval_time": "validation time",
    "test_eval_time": "test time",
    "valtest_eval_time": "valid+test time",
    "params": "params",
    "flops": "FLOPs",
    "latency": "latency",
}


@dataclass
class ImportSummary:
    """The result of ``seminas data import``: the source, what it held, where it went."""

    path: str
    format: str
    benchmark: str
    cells: int
    groups: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)
    source_files: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    peak_memory_bytes: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return sorted({g["dataset"] for g in self.groups})

    @property
    def fidelities(self) -> list[int]:
        return sorted({int(g["fidelity"]) for g in self.groups})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["datasets"] = self.datasets
        out["fidelities"] = self.fidelities
        return out

    def to_text(self) -> str:
        lines = [f"imported {self.path}", f"  format       {self.format}"]
        lines.append(f"  benchmark    {self.benchmark}, {self.cells:,} cells")
        for fid in sorted(self.fidelities, reverse=True):
            label = f"{fid} epochs"
            for g in [g for g in self.groups if int(g["fidelity"]) == fid]:
                lines.append(f"  {label:<12} {_group_line(g)}")
                label = ""
        metrics = sorted({m for g in self.groups for m in g.get("metrics", [])})
        if metrics:
            words = ", ".join(_METRIC_WORDS.get(m, m) for m in _ordered(metrics))
            lines.append(f"  per run      {words}")
        curve_sets = sorted(
            {(g["dataset"], int(g["fidelity"])) for g in self.groups if g.get("curves")}
        )
        if curve_sets:
            names = sorted({ds for ds, _ in curve_sets})
            fids = sorted({f for _, f in curve_sets}, reverse=True)
            lines.append(
                "  curves       per-epoch validation accuracy and loss: "
                f"{', '.join(names)} ({' and '.join(str(f) for f in fids)} epochs)"
            )
        for key, label in (("table", "table"), ("curves", "curves file")):
            if self.files.get(key):
                size = self.files.get(f"{key}_bytes")
                extra = f" ({human_bytes(size)})" if size is not None else ""
                lines.append(f"  {label:<12} {self.files[key]}{extra}")
        took = f"  took         {_duration(self.seconds)}"
        if self.peak_memory_bytes:
            took += f", peak memory {human_bytes(self.peak_memory_bytes)}"
        lines.append(took)
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


def _ordered(metrics: list[str]) -> list[str]:
    rank = {m: i for i, m in enumerate(_METRIC_WORDS)}
    return sorted(metrics, key=lambda m: (rank.get(m, len(rank)), m))


def _group_line(g: dict[str, Any]) -> str:
    seeds = [s for s in g["seeds"] if s is not None]
    if seeds:
        who = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"
    else:
        who = "one run per cell, seed not recorded"
    text = f"{g['dataset']}: {who}; {g['runs']:,} runs"
    per_cell = g.get("runs_per_cell", {})
    if len([k for k in per_cell if k != "0"]) > 1:
        parts = ", ".join(f"{int(v):,} with {k}" for k, v in per_cell.items() if k != "0")
        text += f" (cells: {parts})"
    missing = per_cell.get("0")
    if missing:
        text += f"; {int(missing):,} cells have no run"
    return text


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec} s"
