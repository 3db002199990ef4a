"""The richer data of an imported NAS-Bench-201 table: single training runs and learning curves.

An imported table keeps every run (``...#seeds`` arrays, one column per training seed) and,
in its ``.curves`` file, the per-epoch validation accuracy and loss of each run. :class:`RunData`
answers the questions a benchmark user asks of them, for the metric a
:class:`~seminas.benchmarks.nb201.NB201Benchmark` searches on:

- ``value(index, seed=S)``: the search metric of the run trained with seed ``S`` instead of the
  mean over runs (the official API's ``is_random=S``);
- ``value(index, epoch=E)``: the metric after ``E`` epochs (1-based: ``E = fidelity`` is the end
  of training), from the learning curve;
- ``curve(index)``: the whole learning curve (per seed, or the mean over seeds), the
  early-training signal that learning-curve predictors use.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seminas.benchmarks.nb201_table import NB201Table, metric_key, seeds_key
from seminas.errors import SeminasError
from seminas.importers.builder import VALID_ALIASES, curve_name
from seminas.importers.curves import CurvesFile


def search_key_parts(dataset: str, fidelity: int) -> tuple[str, str, int]:
    """``(dataset, metric, epochs)`` of the array NB201Benchmark searches on (its protocol)."""
    if fidelity == 12:
        return dataset, "valid_acc", 12
    if dataset == "cifar10":
        return "cifar10-valid", "valid_acc", 200
    return dataset, "valid_acc", 12


def report_key_parts(dataset: str, fidelity: int) -> tuple[str, str, int]:
    return dataset, "test_acc", 12 if fidelity == 12 else 200


class RunData:
    """Per-run values and curves of one table, for one (dataset, fidelity) protocol."""

    def __init__(
        self, table: NB201Table, table_path: Path | None, dataset: str, fidelity: int
    ) -> None:
        self.table = table
        self.table_path = table_path
        self.dataset = dataset
        self.fidelity = fidelity
        ds, metric, epochs = search_key_parts(dataset, fidelity)
        self.search = _resolve(table, ds, metric, epochs)
        self.report = _resolve(table, *report_key_parts(dataset, fidelity))
        self._curves: CurvesFile | None = None

    # -- what the table holds ---------------------------------------------------------------
    def seeds(self) -> list[int | None]:
        """The training seeds of the search metric's runs (its ``#seeds`` columns)."""
        ds, _, epochs = self.search
        seeds = self.table.meta.get("seeds", {}).get(f"{ds}.{epochs}ep")
        if seeds is None or not self.table.has(seeds_key(metric_key(*self.search))):
            raise SeminasError(
                f"this NAS-Bench-201 table ({self.table.meta.get('source', 'unknown source')}) "
                f"holds no single runs, only means; import an official file "
                f"(`seminas data import FILE`) for per-seed results"
            )
        return list(seeds)

    def epochs(self) -> int:
        ds, _, epochs = self.search
        return int(self.table.meta.get("epochs", {}).get(f"{ds}.{epochs}ep", epochs))

    def _column(self, parts: tuple[str, str, int], seed: int) -> np.ndarray | None:
        ds, metric, epochs = parts
        seeds = self.table.meta.get("seeds", {}).get(f"{ds}.{epochs}ep") or []
        key = seeds_key(metric_key(ds, metric, epochs))
        if seed not in seeds or not self.table.has(key):
            return None
        return self.table.get(key)[:, seeds.index(seed)]

    def _check_seed(self, seed: int) -> None:
        seeds = self.seeds()
        if seed not in seeds:
            known = ", ".join(str(s) for s in seeds if s is not None) or "none recorded"
            ds, _, epochs = self.search
            raise SeminasError(
                f"no run with seed {seed} for {ds} at {epochs} epochs in this table (seeds: "
                f"{known})"
            )

    # -- curves ---------------------------------------------------------------------------------
    def curves_file(self) -> CurvesFile:
        if self._curves is None:
            info = self.table.meta.get("curves")
            if not info or self.table_path is None:
                raise SeminasError(
                    f"this NAS-Bench-201 table ({self.table.meta.get('source', 'unknown')}) has "
                    f"no learning curves; import an official file (`seminas data import FILE`)"
                )
            self._curves = CurvesFile(self.table_path.parent / info["file"], info.get("size"))
        return self._curves

    def curve(self, index: int, metric: str = "valid_acc", seed: int | None = None) -> np.ndarray:
        """Per-epoch ``metric`` (``valid_acc`` or ``valid_loss``) of cell ``index`` on the
        search metric's dataset and fidelity: of the run with ``seed``, else the mean over runs
        (epochs a run lacks are NaN)."""
        ds, _, epochs = self.search
        name = curve_name(ds, metric, epochs)
        curves = self.curves_file()
        if name not in curves.names():
            raise SeminasError(
                f"this table has no {metric} curve for {ds} at {epochs} epochs (it has "
                f"{', '.join(curves.names())})"
            )
        rows = curves.get(name)[int(index)]  # (seeds, epochs), a few bytes read from disk
        if seed is not None:
            self._check_seed(seed)
            return np.array(rows[self.seeds().index(seed)], dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.asarray(rows, dtype=np.float64), axis=0)

    # -- single values -----------------------------------------------------------------------
    def value(self, index: int, seed: int | None = None, epoch: int | None = None) -> float:
        """The search metric of cell ``index``: of one run (``seed``), after ``epoch`` epochs
        (1-based), or both; with neither, the table's mean."""
        if epoch is not None:
            last = self.epochs()
            if not 1 <= int(epoch) <= last:
                raise SeminasError(f"--at-epoch must be 1..{last} (the epochs of these runs)")
            if int(epoch) < last:
                return float(self.curve(index, "valid_acc", seed)[int(epoch) - 1])
            # the last epoch is the final value: exact (float64) rather than the curve's float32
        if seed is not None:
            self._check_seed(seed)
            col = self._column(self.search, seed)
            assert col is not None
            return float(col[int(index)])
        return float(self.table.get(metric_key(*self.search))[int(index)])

    def report_value(self, index: int, seed: int | None = None) -> float | None:
        """The report metric (final test accuracy) of the run with ``seed`` if the report's
        dataset has one, else the mean over its runs."""
        if seed is not None:
            col = self._column(self.report, seed)
            if col is not None:
                value = float(col[int(index)])
                return None if math.isnan(value) else value
        if not self.table.has(metric_key(*self.report)):
            return None
        value = float(self.table.get(metric_key(*self.report))[int(index)])
        return None if math.isnan(value) else value

    def epoch_cost(self, index: int, epoch: int, seed: int | None = None) -> float | None:
        """Training seconds of ``epoch`` epochs of the search metric's run(s)."""
        ds, _, epochs = self.search
        key = metric_key(ds, "train_epoch_time", epochs)
        if not self.table.has(key):
            return None
        per_epoch: Any = None
        if seed is not None:
            col = self._column((ds, "train_epoch_time", epochs), seed)
            per_epoch = None if col is None else col[int(index)]
        if per_epoch is None:
            per_epoch = self.table.get(key)[int(index)]
        value = float(per_epoch) * int(epoch)
        return None if math.isnan(value) else value


def _resolve(table: NB201Table, dataset: str, metric: str, epochs: int) -> tuple[str, str, int]:
    """A (dataset, metric, epochs) whose per-run data the table holds: cifar10's validation
    numbers are cifar10-valid's (see :data:`~seminas.importers.builder.VALID_ALIASES`)."""
    target = VALID_ALIASES.get(dataset)
    if (
        target
        and metric.startswith("valid")
        and not table.has(seeds_key(metric_key(dataset, metric, epochs)))
    ):
        return target, metric, epochs
    return dataset, metric, epochs
