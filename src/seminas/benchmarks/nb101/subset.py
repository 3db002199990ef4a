"""The NAS-Bench-101 subset shipped in the data directory: 20,001 real cells with one
training run's validation accuracy each (no test accuracy, so none is made up)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seminas.benchmarks.base import Record, TabularBenchmark
from seminas.benchmarks.nb101.schema import EPOCH_BUDGETS, REPORT_EPOCHS, check_hash
from seminas.data import NB101_OFFICIAL_HINT, known_file
from seminas.errors import SeminasError, UnknownArchitectureError
from seminas.spaces.nb101 import NB101Space, NB101Spec, spec_from_labels

SUBSET_FILE = "nasbench101/subset-20k.csv"
SPECS_FILE = "nasbench101/specs-1k.json"
SUBSET_ROWS = 20_001
_SUBSET_COLUMNS = ("hash", "params", "train_seconds_108ep") + tuple(
    f"val_acc_{e}ep" for e in EPOCH_BUDGETS
)


class NB101SubsetBenchmark(TabularBenchmark):
    """20,001 real NAS-Bench-101 cells with ONE run's validation accuracy each (no test data).

    The search metric is deterministic (a single run, no random choice). The report metric is
    always ``None``: the subset has no test accuracies, so nothing is made up. Training time is
    known only at 108 epochs, so ``cost_seconds`` is ``None`` at other budgets. Only the 1,000
    cells of :meth:`specs` have matrices; the others can be queried by hash.
    """

    report_metric_name = "test accuracy (%): not in the NAS-Bench-101 subset (missing)"

    def __init__(
        self,
        epochs: int = 108,
        data_dir: str | os.PathLike | None = None,
        space: NB101Space | None = None,
        report_validation: bool = False,
    ) -> None:
        super().__init__()
        if epochs not in EPOCH_BUDGETS:
            raise SeminasError(
                f"the NAS-Bench-101 subset has no results for {epochs!r} epochs: available epoch "
                f"budgets are {', '.join(map(str, EPOCH_BUDGETS))}"
            )
        self.space = space if space is not None else NB101Space()
        self.epochs = int(epochs)
        self._data_dir = data_dir
        self.path = known_file(SUBSET_FILE, data_dir)
        frame = _read_csv(self.path, _SUBSET_COLUMNS)
        self.hashes: list[str] = [h.strip().lower() for h in frame["hash"].astype(str)]
        self._index = {h: i for i, h in enumerate(self.hashes)}
        if len(self._index) != len(self.hashes):
            raise SeminasError(
                f"{self.path} has duplicate hashes; restore it (`seminas data check`)"
            )
        self._search = frame[f"val_acc_{self.epochs}ep"].to_numpy(float) * 100.0
        self._cost = (
            frame["train_seconds_108ep"].to_numpy(float) if self.epochs == REPORT_EPOCHS else None
        )
        self._params = frame["params"].to_numpy(np.int64)
        self.search_metric_name = f"validation accuracy (%), single run, {self.epochs} epochs"
        # A search on the subset reports what it searched (there is no test accuracy to report)
        self.report_validation = bool(report_validation)
        if self.report_validation:
            self.report_metric_name = (
                f"validation accuracy (%), single run, {self.epochs} epochs (the subset has no "
                f"test accuracy)"
            )
        self._specs: list[NB101Spec] | None = None

    def specs(self) -> list[NB101Spec]:
        """The 1,000 cells of ``specs-1k.json`` (the only ones with matrices), in file order."""
        if self._specs is None:
            path = known_file(SPECS_FILE, self._data_dir)
            try:
                entries = json.loads(path.read_text())
                self._specs = [spec_from_labels(e["matrix"], e["labels"]) for e in entries]
            except (ValueError, KeyError, TypeError) as exc:
                raise SeminasError(
                    f"cannot parse {path}: {type(exc).__name__}; the file is corrupt, restore it "
                    f"(`seminas data check` compares checksums)"
                ) from exc
        return list(self._specs)

    def restricted_space(self, enumeration: Any) -> NB101Space:
        """A space of exactly the subset's cells, their matrices found by hash in the full
        enumeration (:func:`seminas.spaces.nb101_enum.load_or_build`), so that a search on the
        subset never proposes a cell the subset cannot answer."""
        from seminas.spaces.nb101 import SpecPool

        positions = enumeration.indices_of(self.hashes)
        missing = [h for h, p in zip(self.hashes, positions, strict=True) if p < 0]
        if missing:
            raise SeminasError(
                f"{len(missing)} hashes of {self.path} are not NAS-Bench-101 cells (first: "
                f"{missing[0]}); the file is damaged, restore it (`seminas data check`)"
            )
        return NB101Space(SpecPool(enumeration.specs(positions), self.hashes), restrict=True)

    def _row(self, module_hash: str) -> int:
        key = check_hash(module_hash)
        row = self._index.get(key)
        if row is None:
            raise UnknownArchitectureError(
                f"NAS-Bench-101 cell {key} is not among the {len(self):,} cells of the subset "
                f"{self.path.name}; the full table needs the official file ({NB101_OFFICIAL_HINT})"
            )
        return row

    def _record(self, row: int) -> Record:
        return Record(
            arch_id=self.hashes[row],
            search_metric=float(self._search[row]),
            report_metric=float(self._search[row]) if self.report_validation else None,
            cost_seconds=None if self._cost is None else float(self._cost[row]),
            params=int(self._params[row]),
            extra={"epochs": self.epochs},
        )

    def query_hash(self, module_hash: str) -> Record:
        """Charged query by module hash."""
        record = self._record(self._row(module_hash))
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record

    def lookup_hash(self, module_hash: str) -> Record:
        """Free lookup by module hash."""
        return self._record(self._row(module_hash))

    def lookup(self, arch: Any) -> Record:
        spec = self.space.validate(arch)
        return self._record(self._row(self.space.arch_id(spec)))

    def __len__(self) -> int:
        return len(self.hashes)

    def records(self) -> Iterator[Record]:
        for row in range(len(self)):
            yield self._record(row)

    def best_by_search(self) -> Record:
        return self._record(int(np.argmax(self._search)))

    def best_by_report(self) -> Record:
        """With ``report_validation``, the best validation accuracy; otherwise there is no
        report metric to rank by."""
        if not self.report_validation:
            raise SeminasError("the NAS-Bench-101 subset has no test accuracy to rank by")
        return self.best_by_search()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "file": str(self.path),
            "epochs": self.epochs,
            "dataset": "subset-20k",
        }


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The subset's table, checked for its columns, its 20,001 rows and numeric metrics."""
    from seminas.benchmarks.csvcheck import read_checked_csv

    return read_checked_csv(
        path,
        columns,
        rows=SUBSET_ROWS,
        numeric=[c for c in columns if c != "hash"],
        dtype={"hash": str},
        what="the NAS-Bench-101 subset",
    )
