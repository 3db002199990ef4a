"""Running a predictor study: the missing cells of its grid, each appended to the common results
store the moment it is done (so an interrupted study loses nothing and the same command again
does only the missing cells), then the summary and the plot for the requested grid."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.experiments.predictor_study.cells import SeedDraw, draw_seed, run_cell
from seminas.experiments.predictor_study.data import StudyData
from seminas.experiments.predictor_study.plots import plot
from seminas.experiments.predictor_study.settings import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MS,
    DEFAULT_NS,
    DEFAULT_SEEDS,
    PREDICTORS,
    StudySettings,
    check_grid,
)
from seminas.experiments.predictor_study.summary import (
    default_command,
    render_markdown,
    summarize,
)
from seminas.experiments.store import ResultsStore, atomic_write_text
from seminas.progress import NO_PROGRESS, Progress

RESULTS_FILE = "results.jsonl"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
PLOT_PNG = "plot.png"

CellKey = tuple[str, int, int, int]  # (predictor, N, M, seed)


@dataclass(frozen=True)
class StudyOutput:
    """Where a study wrote its files, and how many cells it holds and ran now."""

    out_dir: Path
    results: Path
    summary_json: Path
    summary_md: Path
    plot: Path
    cells: int
    new_cells: int


def _key(line: Mapping[str, Any]) -> CellKey:
    return (str(line["predictor"]), int(line["n"]), int(line["m"]), int(line["seed"]))


def _store(path: Path) -> ResultsStore:
    return ResultsStore(path, "predictor-study", key=_key)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The finished cells in ``results.jsonl`` (the common results store: a broken last line,
    a write cut short, is dropped from the file with a warning so that cell is redone; any other
    broken line is an error)."""
    return _store(path).read(repair=True)


def run_study(
    out: str | os.PathLike,
    ns: Sequence[int] = DEFAULT_NS,
    ms: Sequence[int] = DEFAULT_MS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    predictors: Sequence[str] = PREDICTORS,
    preset: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    train_steps: int = 0,
    epochs: int | None = None,
    pretrain_epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    command: str | None = None,
    enumeration: Any | None = None,
) -> StudyOutput:
    """Run the missing cells of the N x M x seed x predictor grid, then write the summary
    (``summary.json``, ``summary.md``) and ``plot.png`` for the requested grid. Building the
    enumeration (once per machine) and the cells report to ``progress``."""
    import torch

    progress = progress or NO_PROGRESS
    ns = sorted({int(n) for n in ns})
    ms = sorted({int(m) for m in ms})
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    predictors = list(dict.fromkeys(predictors))
    check_grid(ns, ms, seeds, predictors)
    settings = StudySettings.make(preset, max_steps, train_steps, epochs, pretrain_epochs)
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    existing = read_lines(path)
    stored = settings.to_dict()
    other = [ln for ln in existing if ln.get("settings") != stored]
    if other:
        raise SeminasError(
            f"{path} holds results made with other settings (e.g. preset "
            f"{other[0].get('settings', {}).get('preset')!r}); use another --out"
        )
    done = {_key(ln): ln for ln in existing}
    wanted = [(p, n, m, s) for s in seeds for n in ns for m in ms for p in predictors]
    todo = [k for k in wanted if k not in done]
    new = 0
    if todo:
        data = StudyData.load(data_dir, progress=progress, enumeration=enumeration)
        if max(ms) > len(data.outside):
            raise SeminasError(f"M must be at most {len(data.outside)} (cells outside the subset)")
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            new = _run_cells(todo, data, settings, path, done, progress)
        finally:
            torch.set_num_threads(previous_threads)
    lines = [done[k] for k in wanted if k in done]
    if command is None:
        command = default_command(ns, ms, seeds, predictors, settings, out_dir)
    summary = summarize(lines)
    payload = {"settings": stored, "command": command, "rows": summary["rows"],
               "effects": summary["effects"]}
    atomic_write_text(out_dir / SUMMARY_JSON, json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out_dir / SUMMARY_MD, render_markdown(summary, settings, command))
    plot(summary["rows"], out_dir / PLOT_PNG)
    return StudyOutput(out_dir, path, out_dir / SUMMARY_JSON, out_dir / SUMMARY_MD,
                       out_dir / PLOT_PNG, len(lines), new)


def _run_cells(
    todo: list[CellKey],
    data: StudyData,
    settings: StudySettings,
    path: Path,
    done: dict[CellKey, dict[str, Any]],
    progress: Progress,
) -> int:
    """Every cell of ``todo`` in order, each appended as it finishes; how many ran."""
    store = _store(path)
    m_max = max(k[2] for k in todo)
    drawn: dict[int, SeedDraw] = {}  # one seed's cells, shared by all its cells (then dropped)
    progress.start("predictor study", len(todo), "cells")
    try:
        for predictor, n, m, seed in todo:
            progress.advance(0, f"{predictor} N={n} M={m} seed={seed}")  # the cell now running
            if seed not in drawn:
                drawn.clear()
                drawn[seed] = draw_seed(data, seed, m_max)
            line = run_cell(settings, data, drawn[seed], predictor, n, m, seed)
            store.append(line)
            done[_key(line)] = line
            progress.advance(1)
    finally:
        progress.finish()
    return len(todo)
