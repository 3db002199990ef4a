"""NAS-Bench-201 as a tabular benchmark: the CSV files in ``nasbench201/``, an imported table or
the table shipped with seminas (:mod:`seminas.benchmarks.nb201_table`).

Which metric drives the search (documented in the README):

- ``cifar10`` (200 epochs): search on the ``cifar10-valid`` validation accuracy (trained on 25k
  images), report the ``cifar10`` test accuracy (trained on train+valid) -- the standard protocol.
- ``cifar100`` and ``ImageNet16-120`` (200 epochs): the data has no 200-epoch validation accuracy
  for them, so the search runs on the 12-epoch validation accuracy of the same dataset (a cheaper,
  noisier signal that never touches test data) and the 200-epoch test accuracy is reported.
- ``fidelity=12``: search on the 12-epoch validation accuracy, report the 12-epoch test accuracy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seminas.benchmarks.base import Record, TabularBenchmark
from seminas.benchmarks.nb201_table import (
    CSV_COLUMNS,
    CSV_FILES,
    EMBEDDED_NAME,
    NB201Table,
    NB201TableError,
    embedded_table_path,
    imported_tables,
    load_embedded,
    metric_key,
    read_meta,
    table_from_csv_dir,
)
from seminas.data import KNOWN_FILES, DataDir, search_dirs
from seminas.errors import DataNotFoundError, SeminasError, UnknownArchitectureError
from seminas.spaces.nb201 import NB201Arch, NB201Space

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_ALIASES = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
}
_TEST_200 = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
_PREFIX_12 = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}
FIDELITIES = (12, 200)


def normalise_dataset(name: str) -> str:
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise SeminasError(
            f"unknown NAS-Bench-201 dataset {name!r}: choose one of {', '.join(DATASETS)}"
        )
    return _ALIASES[key]


class NB201Benchmark(TabularBenchmark):
    """All 15,625 NAS-Bench-201 cells. Rows are aligned by the official index 0..15624.

    The numbers come from the first source in the search order (``seminas data where``): the
    CSV files of ``data_dir`` when given (only there), else of ``$SEMINAS_DATA`` or the per-user
    data directory, else an imported table, else the CSVs beside a source checkout, else the
    table shipped with seminas. ``table`` uses that :class:`NB201Table` directly instead. Every
    source goes through the same table, so the same search gives the same trials on each.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        fidelity: int = 200,
        data_dir: str | os.PathLike | None = None,
        table: NB201Table | None = None,
    ) -> None:
        super().__init__()
        self.space = NB201Space()
        self.dataset = normalise_dataset(dataset)
        if fidelity not in FIDELITIES:
            raise SeminasError(
                f"NAS-Bench-201 fidelity {fidelity!r} is not available: choose 200 or 12 epochs"
            )
        self.fidelity = fidelity
        self._data_dir = data_dir
        keys = required_keys(self.dataset, fidelity)
        if table is None:
            self.source = find_source(data_dir, keys)
            table = self.source.load(keys)
        else:
            self.source = NB201Source("table", None, "given table", table.meta.get("source", ""))
        self.table = table
        self.arch_strings: list[str] = table.arch_strings()
        if fidelity == 12:
            search = table.get(metric_key(self.dataset, "valid_acc", 12))
            report = table.get(metric_key(self.dataset, "test_acc", 12))
            cost = None
            self.search_metric_name = f"{self.dataset} 12-epoch validation accuracy (%)"
            self.report_metric_name = f"{self.dataset} 12-epoch test accuracy (%)"
            if self.dataset == "cifar10":
                cost = table.get(metric_key("cifar10-valid", "train_epoch_time", 200)) * 12
        else:
            report = table.get(metric_key(self.dataset, "test_acc", 200))
            if self.dataset == "cifar10":
                search = table.get(metric_key("cifar10-valid", "valid_acc", 200))
                cost = table.get(metric_key("cifar10-valid", "train_time", 200))
                self.search_metric_name = "cifar10-valid validation accuracy (%), 200 epochs"
            else:
                search = table.get(metric_key(self.dataset, "valid_acc", 12))
                cost = None
                self.search_metric_name = f"{self.dataset} 12-epoch validation accuracy (%)"
            self.report_metric_name = f"{self.dataset} test accuracy (%), 200 epochs"
        self.search = np.asarray(search, dtype=np.float64)
        self.report = np.asarray(report, dtype=np.float64)
        self.cost = None if cost is None else np.asarray(cost, dtype=np.float64)
        self._index = {s: i for i, s in enumerate(self.arch_strings)}
        if len(self._index) != len(self.arch_strings):
            raise SeminasError("NAS-Bench-201 files contain duplicate architecture strings")

    # -- index <-> architecture, as in the data files --------------------------------------
    def index_of(self, arch: Any) -> int:
        key = self.space.arch_id(self.space.validate(arch))
        if key not in self._index:
            raise UnknownArchitectureError(f"architecture {key} is not in the NAS-Bench-201 table")
        return self._index[key]

    def arch_at(self, index: int) -> NB201Arch:
        if not 0 <= int(index) < len(self.arch_strings):
            raise SeminasError(
                f"NAS-Bench-201 index {index} is out of range (0..{len(self.arch_strings) - 1})"
            )
        return self.space.validate(self.arch_strings[int(index)])

    # -- TabularBenchmark ------------------------------------------------------------------
    def lookup(self, arch: Any) -> Record:
        i = self.index_of(arch)
        return self._record(i)

    def _record(self, i: int) -> Record:
        return Record(
            arch_id=self.arch_strings[i],
            search_metric=float(self.search[i]),
            report_metric=float(self.report[i]),
            cost_seconds=None if self.cost is None else float(self.cost[i]),
            params=None,
            extra={"index": i},
        )

    def __len__(self) -> int:
        return len(self.arch_strings)

    def records(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield self._record(i)

    def best_by_search(self) -> Record:
        return self._record(int(np.argmax(self.search)))

    def best_by_report(self) -> Record:
        return self._record(int(np.argmax(self.report)))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "dataset": self.dataset,
            "fidelity": self.fidelity,
            "data": self.source.describe(),
        }

    # -- single runs and learning curves: imported tables (seminas.importers.runs) -----------
    def runs(self) -> Any:
        """Per-seed values and per-epoch curves of this benchmark's search metric
        (:class:`~seminas.importers.runs.RunData`); tables imported from official files have
        them, the CSVs and the embedded table only means."""
        data = getattr(self, "_run_data", None)
        if data is None:
            from seminas.importers.runs import RunData

            path = self.source.path if self.source.kind == "imported" else None
            data = RunData(self.table, path, self.dataset, self.fidelity)
            self._run_data = data
        return data

    def learning_curve(
        self, arch: Any, metric: str = "valid_acc", seed: int | None = None
    ) -> np.ndarray:
        """Per-epoch ``valid_acc`` (or ``valid_loss``) of ``arch`` for the search metric: the
        run trained with ``seed``, else the mean over runs. Free, like :meth:`lookup`: a
        predictor that uses early-training signals charges the queries itself."""
        return self.runs().curve(self.index_of(arch), metric, seed)

    def lookup_run(self, arch: Any, seed: int | None = None, epoch: int | None = None) -> Record:
        """The record of one training run (``seed``) and/or after ``epoch`` epochs (1-based),
        without charging a query; the report metric stays the final test accuracy."""
        i = self.index_of(arch)
        runs = self.runs()
        cost = self.cost[i] if self.cost is not None else None
        if epoch is not None:
            cost = runs.epoch_cost(i, int(epoch), seed)
        return Record(
            arch_id=self.arch_strings[i],
            search_metric=runs.value(i, seed=seed, epoch=epoch),
            report_metric=runs.report_value(i, seed=seed),
            cost_seconds=None if cost is None else float(cost),
            params=None,
            extra={"index": i, "seed": seed, "epoch": epoch},
        )

    def query_run(self, arch: Any, seed: int | None = None, epoch: int | None = None) -> Record:
        """:meth:`lookup_run`, charged as one query."""
        record = self.lookup_run(self.space.validate(arch), seed, epoch)
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record


def required_keys(dataset: str, fidelity: int) -> tuple[str, ...]:
    """The table arrays a benchmark of ``dataset`` at ``fidelity`` reads."""
    dataset = normalise_dataset(dataset)
    if fidelity == 12:
        keys = [metric_key(dataset, "valid_acc", 12), metric_key(dataset, "test_acc", 12)]
        if dataset == "cifar10":
            keys.append(metric_key("cifar10-valid", "train_epoch_time", 200))
        return tuple(keys)
    keys = [metric_key(dataset, "test_acc", 200)]
    if dataset == "cifar10":
        keys += [
            metric_key("cifar10-valid", "valid_acc", 200),
            metric_key("cifar10-valid", "train_time", 200),
        ]
    else:
        keys.append(metric_key(dataset, "valid_acc", 12))
    return tuple(keys)


@dataclass(frozen=True)
class NB201Source:
    """Where a benchmark's numbers come from: CSV files of a data directory, an imported table,
    the embedded table, or a table given directly."""

    kind: str  # "csv", "imported", "embedded", "table"
    path: Path | None  # data directory (csv) or table file
    origin: str  # "--data-dir", "$SEMINAS_DATA", "user data dir", "source checkout", ...
    note: str = ""

    def load(self, keys: Sequence[str] = ()) -> NB201Table:
        """The table of this source (for CSVs, only the files that hold ``keys``)."""
        if self.kind == "csv":
            assert self.path is not None
            return table_from_csv_dir(self.path, csv_files_for(keys))
        if self.kind == "embedded":
            return load_embedded()
        if self.kind == "imported":
            assert self.path is not None
            return NB201Table.load(self.path, name=f"imported table {self.path}")
        raise SeminasError(f"NAS-Bench-201 source {self.kind!r} cannot be loaded by itself")

    def describe(self) -> str:
        if self.kind == "csv":
            return f"CSV files in {self.path} ({self.origin})"
        if self.kind == "embedded":
            return f"table shipped with seminas ({EMBEDDED_NAME})"
        if self.kind == "imported":
            return f"imported table {self.path}"
        return self.note or "table given directly"


def csv_files_for(keys: Sequence[str]) -> tuple[str, ...]:
    """The CSV files (in :data:`CSV_FILES` order) that hold ``keys``; ``12ep.csv`` always, as
    the file whose architecture strings the others are checked against (all files if no keys)."""
    wanted = set(keys)
    return tuple(
        f
        for f in CSV_FILES
        if not wanted or f == "12ep.csv" or wanted & set(CSV_COLUMNS[f].values())
    )


def find_source(data_dir: str | os.PathLike | None = None, keys: Sequence[str] = ()) -> NB201Source:
    """The first NAS-Bench-201 source in the search order that holds ``keys``.

    A data directory counts when its ``nasbench201/`` holds any of the CSV files; it must then
    hold every file ``keys`` need (a partial set is an error that names the missing file, never
    a silent switch). ``data_dir`` given: only its CSVs.
    """
    files = csv_files_for(keys)
    dirs = search_dirs(data_dir)
    if data_dir is not None:
        return _csv_source(dirs[0], files, explicit=True)
    defaults = [d for d in dirs if d.origin != "source checkout"]
    checkout = [d for d in dirs if d.origin == "source checkout"]
    for entry in defaults:
        if _has_any_csv(entry.path):
            return _csv_source(entry, files, explicit=False)
    for path in imported_tables():
        try:
            held = read_meta(path).get("arrays", {})
        except NB201TableError as exc:
            raise NB201TableError(
                f"{exc}; re-run `seminas data import` on the original file, or delete it"
            ) from None
        if all(k in held for k in keys):
            return NB201Source("imported", path, "imported tables")
    for entry in checkout:
        if _has_any_csv(entry.path):
            return _csv_source(entry, files, explicit=False)
    return NB201Source("embedded", embedded_table_path(), "embedded table")


def _has_any_csv(directory: Path) -> bool:
    return any((directory / "nasbench201" / name).is_file() for name in CSV_FILES)


def _csv_source(entry: DataDir, files: Sequence[str], explicit: bool) -> NB201Source:
    """The CSV files this search needs in ``entry``; every missing one is named in one line."""
    missing = [entry.path / "nasbench201" / name for name in files
               if not (entry.path / "nasbench201" / name).is_file()]
    if missing:
        whats = []
        for path in missing:
            relpath = f"nasbench201/{path.name}"
            known = next((k for k in KNOWN_FILES if k.relpath == relpath), None)
            whats.append(known.what if known else relpath)
        names = str(missing[0]) + (
            f" and {len(missing) - 1} more: {', '.join(str(p) for p in missing[1:])}"
            if len(missing) > 1 else ""
        )
        label = "missing file"
        if explicit:
            detail = "; ".join(whats)
            fix = (
                "put the NAS-Bench-201 CSV files there, or leave out --data-dir to use the "
                "NAS-Bench-201 table shipped with seminas"
            )
        else:
            detail = f"{'; '.join(whats)}; {entry.origin} {entry.path} holds the other " \
                     f"NAS-Bench-201 files"
            fix = (
                f"restore them, or move {entry.path / 'nasbench201'} away to use the table "
                f"shipped with seminas"
            )
        raise DataNotFoundError(f"{label} {names} ({detail}): {fix}")
    for name in files:
        path = entry.path / "nasbench201" / name
        if not os.access(path, os.R_OK):
            raise DataNotFoundError(f"cannot read {path}: check its permissions")
    return NB201Source("csv", entry.path, entry.origin)
