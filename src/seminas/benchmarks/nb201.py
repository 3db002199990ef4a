"""NAS-Bench-201 as a tabular benchmark, from the CSV files in ``nasbench201/``.

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
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from seminas.benchmarks.base import Record, TabularBenchmark
from seminas.data import known_file
from seminas.errors import SeminasError, UnknownArchitectureError
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
    """All 15,625 NAS-Bench-201 cells. Rows are aligned by the official index 0..15624."""

    def __init__(
        self,
        dataset: str = "cifar10",
        fidelity: int = 200,
        data_dir: str | os.PathLike | None = None,
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
        low = _read_csv(known_file("nasbench201/12ep.csv", data_dir))
        prefix = _PREFIX_12[self.dataset]
        self.arch_strings: list[str] = low["arch_str"].tolist()
        if fidelity == 12:
            search = low[f"{prefix}-val"].to_numpy(float)
            report = low[f"{prefix}-test"].to_numpy(float)
            cost = None
            self.search_metric_name = f"{self.dataset} 12-epoch validation accuracy (%)"
            self.report_metric_name = f"{self.dataset} 12-epoch test accuracy (%)"
        else:
            test = _read_csv(known_file("nasbench201/test-200ep.csv", data_dir))
            _check_aligned(self.arch_strings, test["ArchitectureString"].tolist(), "test-200ep")
            report = test[_TEST_200[self.dataset]].to_numpy(float)
            if self.dataset == "cifar10":
                valid = _read_csv(known_file("nasbench201/cifar10-valid-200ep.csv", data_dir))
                _check_aligned(self.arch_strings, valid["arch_str"].tolist(), "cifar10-valid")
                search = valid["valid-accuracy"].to_numpy(float)
                cost = valid["train-all-time"].to_numpy(float)
                self.search_metric_name = "cifar10-valid validation accuracy (%), 200 epochs"
            else:
                search = low[f"{prefix}-val"].to_numpy(float)
                cost = None
                self.search_metric_name = f"{self.dataset} 12-epoch validation accuracy (%)"
            self.report_metric_name = f"{self.dataset} test accuracy (%), 200 epochs"
        if self.dataset == "cifar10" and fidelity == 12:
            valid = _read_csv(known_file("nasbench201/cifar10-valid-200ep.csv", data_dir))
            cost = valid["train-per-time"].to_numpy(float) * 12
        self.search = search
        self.report = report
        self.cost = cost
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
        return {**super().describe(), "dataset": self.dataset, "fidelity": self.fidelity}


def _read_csv(path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeminasError(
            f"cannot parse {path}: {exc.__class__.__name__}; the file is corrupt, restore it "
            f"(`seminas data check` compares checksums)"
        ) from exc


def _check_aligned(expected: list[str], got: list[str], name: str) -> None:
    if expected != got:
        raise SeminasError(
            f"NAS-Bench-201 file {name} is not row-aligned with 12ep.csv; restore the data files "
            f"(`seminas data check`)"
        )
