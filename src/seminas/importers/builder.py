"""Collects every training run of every cell into arrays in the NB201Table layout.

Readers of the different official formats all hand :class:`TableBuilder` the same thing: one
:class:`Run` per (fidelity, dataset, seed) of a cell, with its final numbers and its per-epoch
curves. The builder places cells by their official index (checking each cell's architecture
against NAS-Bench-201's own order), keeps one column per training seed (NaN where a cell lacks
that seed), and refuses a source that does not cover all 15,625 cells.

Array names follow :mod:`seminas.benchmarks.nb201_table`: ``<dataset>.<metric>.<E>ep`` is the
per-cell mean over seeds, ``...#seeds`` the per-seed values (columns in the order of
``meta["seeds"]["<dataset>.<E>ep"]``), and ``<dataset>.<metric>.<E>ep.curve#seeds`` the per-epoch
values ``(cells, seeds, epochs)``, which go to a separate curves file (see :mod:`.curves`).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seminas.benchmarks.nb201_table import N_CELLS, metric_key, seeds_key
from seminas.errors import SeminasError

CURVE_SUFFIX = ".curve"
# cifar10 (trained on train+valid) has no validation split: its validation numbers are those of
# cifar10-valid, the standard protocol (and what the 12-epoch CSV calls "cifar10-val").
VALID_ALIASES = {"cifar10": "cifar10-valid"}


class MissingCells(SeminasError):
    """A source that does not hold results for every NAS-Bench-201 cell."""


@dataclass
class Run:
    """One training run of one cell: ``finals`` maps a metric to its value after the last epoch
    (or a whole-run quantity: times, params...), ``curves`` a metric to per-epoch values."""

    fidelity: int
    dataset: str
    seed: int | None
    epochs: int
    finals: dict[str, float] = field(default_factory=dict)
    curves: dict[str, Sequence[float]] = field(default_factory=dict)


def curve_name(dataset: str, metric: str, fidelity: int) -> str:
    """Name of the per-seed, per-epoch array of a metric (in the curves file)."""
    return seeds_key(metric_key(dataset, metric, fidelity) + CURVE_SUFFIX)


def group_name(dataset: str, fidelity: int) -> str:
    return f"{dataset}.{int(fidelity)}ep"


class _Group:
    """The runs of one (fidelity, dataset): per-seed columns that grow as new seeds appear."""

    def __init__(self, fidelity: int, dataset: str, epochs: int) -> None:
        self.fidelity = fidelity
        self.dataset = dataset
        self.epochs = epochs
        self.seeds: list[int | None] = []
        self._col: dict[int | None, int] = {}
        self.finals: dict[str, np.ndarray] = {}
        self.curves: dict[str, np.ndarray] = {}
        self.has_run = np.zeros((N_CELLS, 0), dtype=bool)

    def _column(self, seed: int | None) -> int:
        col = self._col.get(seed)
        if col is not None:
            return col
        col = len(self.seeds)
        self.seeds.append(seed)
        self._col[seed] = col
        self.has_run = np.concatenate([self.has_run, np.zeros((N_CELLS, 1), bool)], axis=1)
        for name, arr in self.finals.items():
            self.finals[name] = _grow(arr)
        for name, arr in self.curves.items():
            self.curves[name] = _grow(arr)
        return col

    def sort_seeds(self) -> None:
        """Put the seed columns in ascending order (a seedless run last)."""
        order = sorted(
            range(len(self.seeds)), key=lambda c: (self.seeds[c] is None, self.seeds[c] or 0)
        )
        if order == list(range(len(self.seeds))):
            return
        self.seeds = [self.seeds[c] for c in order]
        self._col = {s: c for c, s in enumerate(self.seeds)}
        self.has_run = self.has_run[:, order]
        self.finals = {k: v[:, order] for k, v in self.finals.items()}
        self.curves = {k: v[:, order] for k, v in self.curves.items()}

    def put(self, index: int, run: Run, where: str) -> None:
        col = self._column(run.seed)
        if self.has_run[index, col]:
            raise SeminasError(
                f"{where}: cell {index} has two {run.dataset} {run.fidelity}-epoch runs with "
                f"seed {run.seed}; the file is damaged"
            )
        self.has_run[index, col] = True
        width = len(self.seeds)
        for name, value in run.finals.items():
            arr = self.finals.get(name)
            if arr is None:
                arr = self.finals[name] = np.full((N_CELLS, width), np.nan)
            arr[index, col] = value
        for name, values in run.curves.items():
            arr = self.curves.get(name)
            if arr is None:
                arr = self.curves[name] = np.full(
                    (N_CELLS, width, self.epochs), np.nan, dtype=np.float32
                )
            arr[index, col, :] = values


def _grow(arr: np.ndarray) -> np.ndarray:
    pad = np.full((arr.shape[0], 1, *arr.shape[2:]), np.nan, dtype=arr.dtype)
    return np.concatenate([arr, pad], axis=1)


def _nanmean(arr: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        return np.nanmean(arr, axis=1)


@dataclass
class Built:
    """What the builder produced: the table's arrays, the curves, and what was found."""

    arrays: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    seeds: dict[str, list[int | None]]
    epochs: dict[str, int]
    groups: list[dict[str, Any]]


class TableBuilder:
    """Accumulates cells from one or more parts (files) of a source.

    :meth:`finish` works on any number of cells (so readers can be checked on small files);
    an import calls :meth:`require_complete` first."""

    def __init__(self, source: str, official: Sequence[str]) -> None:
        if len(official) != N_CELLS:
            raise SeminasError(f"the official NAS-Bench-201 list has {len(official)} cells")
        self.source = source
        self.official = list(official)
        self.index_of = {s: i for i, s in enumerate(self.official)}
        self._groups: dict[tuple[int, str], _Group] = {}
        self._part: str | None = None
        self._part_seen = np.zeros(N_CELLS, dtype=bool)
        self.parts: list[str] = []
        self._absent: list[list[int]] = []

    # -- parts ------------------------------------------------------------------------------------
    def start_part(self, name: str) -> None:
        self._part = name
        self._part_seen[:] = False

    def end_part(self, declared: Iterable[int] | None = None) -> int:
        """Close the current part, checking that it holds every cell it ``declared`` (the
        file's own list of evaluated cells); returns the number of cells it held."""
        assert self._part is not None
        seen = self._part_seen
        count = int(seen.sum())
        if declared is not None:
            declared_set = {int(i) for i in declared}
            absent = sorted(i for i in declared_set if 0 <= i < N_CELLS and not seen[i])
            if absent:
                raise MissingCells(
                    f"{self._part} lists {len(declared_set):,} evaluated cells but holds results "
                    f"for only {count:,} (missing {_some(absent)}): the file is incomplete or "
                    f"damaged; download it again"
                )
        self.parts.append(self._part)
        self._absent.append(np.flatnonzero(~seen).tolist())
        self._part = None
        return count

    def require_complete(self) -> None:
        """Every part must hold all 15,625 cells: seminas imports only complete tables."""
        for part, absent in zip(self.parts, self._absent, strict=True):
            if absent:
                raise MissingCells(
                    f"{part} holds {N_CELLS - len(absent):,} of the {N_CELLS:,} NAS-Bench-201 "
                    f"cells (missing {_some(absent)}): the file is incomplete or damaged; "
                    f"seminas imports only complete tables"
                )

    # -- cells ------------------------------------------------------------------------------------
    def check_index(self, index: Any, arch: Any, where: str) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise SeminasError(f"{where}: cell index {index!r} is not a whole number")
        index = int(index)
        if not 0 <= index < N_CELLS:
            raise SeminasError(f"{where}: cell index {index} is outside 0..{N_CELLS - 1}")
        if arch != self.official[index]:
            raise SeminasError(
                f"{where}: cell {index} is {arch!r}, but NAS-Bench-201's cell {index} is "
                f"{self.official[index]!r}: not a NAS-Bench-201 table, or a damaged one"
            )
        return index

    def lookup(self, arch: str, where: str) -> int:
        index = self.index_of.get(arch)
        if index is None:
            raise SeminasError(f"{where}: {arch!r} is not a NAS-Bench-201 architecture string")
        return index

    def add_cell(self, index: int, runs: Iterable[Run], where: str) -> None:
        """Store the runs of cell ``index`` (already checked with :meth:`check_index`)."""
        if self._part_seen[index]:
            raise SeminasError(f"{where}: cell {index} appears twice; the file is damaged")
        self._part_seen[index] = True
        for run in runs:
            key = (run.fidelity, run.dataset)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(run.fidelity, run.dataset, run.epochs)
            elif run.epochs != group.epochs:
                raise SeminasError(
                    f"{where}: cell {index}'s {run.dataset} run (fidelity {run.fidelity}) has "
                    f"{run.epochs} epochs where earlier cells have {group.epochs}"
                )
            group.put(index, run, where)

    # -- result -----------------------------------------------------------------------------------
    def finish(self) -> Built:
        if not self.parts:
            raise MissingCells(f"{self.source} holds no NAS-Bench-201 cells")
        if not self._groups:
            raise SeminasError(f"{self.source} holds cells but no training results")
        arrays: dict[str, np.ndarray] = {}
        curves: dict[str, np.ndarray] = {}
        seeds: dict[str, list[int | None]] = {}
        epochs: dict[str, int] = {}
        groups = []
        for (fid, ds), g in sorted(self._groups.items()):
            g.sort_seeds()
            name = group_name(ds, fid)
            seeds[name] = list(g.seeds)
            epochs[name] = g.epochs
            known_seeds = any(s is not None for s in g.seeds)
            for metric, values in sorted(g.finals.items()):
                key = metric_key(ds, metric, fid)
                arrays[key] = _nanmean(values)
                if known_seeds:
                    arrays[seeds_key(key)] = values
            for metric, values in sorted(g.curves.items()):
                curves[curve_name(ds, metric, fid)] = values
            per_cell = g.has_run.sum(axis=1)
            groups.append(
                {
                    "fidelity": fid,
                    "dataset": ds,
                    "epochs": g.epochs,
                    "seeds": list(g.seeds),
                    "runs": int(per_cell.sum()),
                    "cells": int((per_cell > 0).sum()),
                    "runs_per_cell": {
                        str(k): int(v) for k, v in sorted(Counter(per_cell.tolist()).items())
                    },
                    "metrics": sorted(g.finals),
                    "curves": sorted(g.curves),
                }
            )
        for alias, target in VALID_ALIASES.items():
            for fid, ds in list(self._groups):
                own = self._groups.get((fid, alias))
                if ds != target or (own is not None and "valid_acc" in own.finals):
                    continue
                for metric in ("valid_acc", "valid_loss"):
                    src = metric_key(target, metric, fid)
                    if src in arrays:
                        arrays[metric_key(alias, metric, fid)] = arrays[src]
        return Built(arrays, curves, seeds, epochs, groups)


def _some(indexes: Sequence[int], shown: int = 5) -> str:
    head = ", ".join(str(i) for i in indexes[:shown])
    more = len(indexes) - shown
    word = "cell" if len(indexes) == 1 else "cells"
    return f"{word} {head}" + (f" and {more:,} more" if more > 0 else "")
