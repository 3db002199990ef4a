"""The official NAS-Bench-101 table (423,624 cells) as a tabular benchmark, queried like the
official API.

The official file (``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``, brought by the
user) is converted once into a cache (:mod:`~seminas.benchmarks.nb101.convert`). A charged
:meth:`NB101Benchmark.query` returns the validation accuracy of ONE of the three runs, drawn from
a seeded generator (repeated queries of a cell can differ), and the mean test accuracy of the
three 108-epoch runs as the report metric. Inside a search the run is drawn from a generator
seeded by (seed, query number), so a query gives the same answer in any process and after any
resume. :meth:`~NB101Benchmark.lookup` (free, for analysis) averages the three runs instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from seminas.benchmarks.base import Record, TabularBenchmark
from seminas.benchmarks.nb101.convert import load_table
from seminas.benchmarks.nb101.schema import REPORT_EPOCHS, check_hash
from seminas.data import (
    NB101_OFFICIAL_FILES,
    NB101_OFFICIAL_HINT,
    find_file,
    missing_file_error,
    require_file,
)
from seminas.errors import SeminasError, UnknownArchitectureError
from seminas.progress import Progress
from seminas.spaces.nb101 import NB101Space, NB101Spec


def resolve_official_file(
    path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
) -> Path:
    """The official table to use: ``path`` if given, else whichever of the two official files
    is in the data directory (only108 preferred: same 108-epoch numbers, a quarter the size)."""
    what = "the official NAS-Bench-101 table (TFRecord)"
    if path is not None:
        given = Path(path).expanduser()
        if given.is_dir():  # not "missing": the name is taken by a directory
            raise SeminasError(
                f"--nb101-file {given} is a directory: give the official table file itself "
                f"({' or '.join(Path(r).name for r in NB101_OFFICIAL_FILES)})"
            )
        return require_file(given, what, NB101_OFFICIAL_HINT)
    for rel in NB101_OFFICIAL_FILES:  # each data directory in search order (data.search_dirs)
        found = find_file(rel, data_dir)
        if found is not None:
            return require_file(found, what, NB101_OFFICIAL_HINT)
    raise missing_file_error(NB101_OFFICIAL_FILES[0], what, NB101_OFFICIAL_HINT, data_dir)


def _row_means(runs: np.ndarray) -> np.ndarray:
    """Mean over the available runs of each row (NaN where a row has none), without warnings."""
    present = ~np.isnan(runs)
    count = present.sum(axis=1)
    total = np.where(present, runs, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)



class NB101Benchmark(TabularBenchmark):
    """The official NAS-Bench-101 table (423,624 cells), queried like the official API."""

    search_metric_name = "validation accuracy (%), one of three runs at random"
    report_metric_name = "test accuracy (%), mean of three runs at 108 epochs"

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        epochs: int = 108,
        seed: int = 0,
        space: NB101Space | None = None,
        data_dir: str | os.PathLike | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__()
        self.space = space if space is not None else NB101Space()
        self.path = resolve_official_file(path, data_dir)
        self.table, self.cache_path, self.cache_built = load_table(self.path, progress)
        available = self.table.epochs
        try:
            epochs = int(epochs)
        except (TypeError, ValueError):
            epochs = -1
        if epochs not in available:
            raise SeminasError(
                f"{self.path.name} has no results for {epochs} epochs: available epoch budgets "
                f"are {', '.join(map(str, available))} (nasbench_full.tfrecord has 4/12/36/108, "
                f"nasbench_only108.tfrecord only 108)"
            )
        self.epochs = epochs
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._val = self.table.val[epochs] * 100.0
        self._test = self.table.test[epochs] * 100.0
        self._time = self.table.time[epochs]
        self._mean_val = _row_means(self._val)
        self._mean_time = _row_means(self._time)
        if REPORT_EPOCHS in available:
            self._report: np.ndarray | None = _row_means(self.table.test[REPORT_EPOCHS] * 100.0)
        else:
            self._report = None
        self.search_metric_name = (
            f"validation accuracy (%), one of three runs at random, {epochs} epochs"
        )

    def reseed(self, seed: int) -> None:
        """Restart the run-choosing generator (e.g. between independent searches)."""
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    # -- hashes ----------------------------------------------------------------------------
    def _row(self, module_hash: str) -> int:
        key = check_hash(module_hash)
        row = self.table.row_of(key)
        if row is None or np.isnan(self._mean_val[row]):
            raise UnknownArchitectureError(
                f"NAS-Bench-101 cell {key} is not in {self.path} at {self.epochs} epochs "
                f"({len(self.table):,} cells)"
            )
        return row

    def query_hash(self, module_hash: str) -> Record:
        """Charged query by module hash (as :meth:`query`)."""
        record = self._sampled(self._row(module_hash))
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record

    def lookup_hash(self, module_hash: str) -> Record:
        """Free lookup by module hash (as :meth:`lookup`)."""
        return self._mean_record(self._row(module_hash))

    def spec_of(self, module_hash: str) -> NB101Spec:
        """The cell a module hash stands for, as stored in the table."""
        return self.table.spec_at(self._row(module_hash))

    # -- records -----------------------------------------------------------------------------
    def _common(self, row: int) -> tuple[str, float | None, int]:
        report = None if self._report is None else float(self._report[row])
        return self.table.hash_at(row), report, int(self.table.params[row])

    def _sampled(self, row: int, rng: np.random.Generator | None = None) -> Record:
        runs = np.flatnonzero(~np.isnan(self._val[row]))
        run = int(runs[int((rng or self.rng).integers(len(runs)))])
        arch_id, report, params = self._common(row)
        return Record(
            arch_id=arch_id,
            search_metric=float(self._val[row, run]),
            report_metric=report,
            cost_seconds=float(self._time[row, run]),
            params=params,
            extra={
                "epochs": self.epochs,
                "run": run,
                "run_test_accuracy": float(self._test[row, run]),
            },
        )

    def _mean_record(self, row: int) -> Record:
        arch_id, report, params = self._common(row)
        return Record(
            arch_id=arch_id,
            search_metric=float(self._mean_val[row]),
            report_metric=report,
            cost_seconds=float(self._mean_time[row]),
            params=params,
            extra={"epochs": self.epochs, "runs": int(np.count_nonzero(~np.isnan(self._val[row])))},
        )

    # -- TabularBenchmark ------------------------------------------------------------------
    def _evaluate(self, arch: NB101Spec) -> Record:
        return self._sampled(self._row(self.space.arch_id(arch)))

    def _evaluate_at(self, arch: NB101Spec, query: int) -> Record:
        """The run is drawn from a generator seeded by (seed, query number): the same run
        wherever and whenever the query is evaluated (a resumed study, another worker)."""
        rng = np.random.default_rng([int(self.seed), int(query)])
        return self._sampled(self._row(self.space.arch_id(arch)), rng)

    def lookup(self, arch: Any) -> Record:
        """Mean of the three runs, without charging a query."""
        spec = self.space.validate(arch)
        return self._mean_record(self._row(self.space.arch_id(spec)))

    def __len__(self) -> int:
        return len(self.table)

    def records(self) -> Iterator[Record]:
        for row in np.flatnonzero(~np.isnan(self._mean_val)).tolist():
            yield self._mean_record(row)

    def best_by_search(self) -> Record:
        """The cell with the best mean validation accuracy (the analysis optimum)."""
        return self._mean_record(int(np.nanargmax(self._mean_val)))

    def best_by_report(self) -> Record | None:
        """The cell with the best mean 108-epoch test accuracy (None without 108-epoch data)."""
        if self._report is None:
            return None
        return self._mean_record(int(np.nanargmax(self._report)))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "file": str(self.path),
            "epochs": self.epochs,
            "seed": self.seed,
            "cells": len(self),
        }
