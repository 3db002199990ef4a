"""Synthetic accuracies for the toy space: a tabular benchmark and a simulated training.

Each "dataset" is a fixed landscape: per-layer operation effects plus effects of neighbouring
pairs (``smooth``), and for ``rugged`` an extra per-architecture term that makes local search
harder. Everything is a pure function of the dataset's name, so every process agrees.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from seminas.benchmarks.base import Evaluator, Record, TabularBenchmark
from seminas.errors import SeminasError, UnknownArchitectureError
from seminas_toy.space import LAYERS, OPS, SIZE, ToySpace

DATASETS = {"smooth": 1, "rugged": 2}  # name -> the seed of its landscape


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse an unknown dataset before any work starts (seminas shows this in one line)."""
    if options["dataset"] not in DATASETS:
        raise SeminasError(
            f"unknown toy dataset {options['dataset']!r}: choose {' or '.join(DATASETS)}"
        )
    return dict(options)


def landscape(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) accuracy in percent of every cell, indexed by ``ToyArch.code``."""
    check_options({"dataset": dataset})
    rng = np.random.default_rng(DATASETS[dataset])
    single = rng.normal(0.0, 1.0, size=(LAYERS, len(OPS)))
    pair = rng.normal(0.0, 0.5, size=(LAYERS - 1, len(OPS), len(OPS)))
    digits = (np.arange(SIZE)[:, None] // len(OPS) ** np.arange(LAYERS)) % len(OPS)
    raw = single[np.arange(LAYERS), digits].sum(axis=1)
    raw += pair[np.arange(LAYERS - 1), digits[:, :-1], digits[:, 1:]].sum(axis=1)
    if dataset == "rugged":
        raw += rng.normal(0.0, 1.0, size=SIZE)
    val = 60.0 + 30.0 * (raw - raw.min()) / (raw.max() - raw.min())
    test = val - 0.5 + rng.normal(0.0, 0.3, size=SIZE)
    return val, test


class ToyTable(TabularBenchmark):
    """The toy space's tabular benchmark: all 256 cells of one dataset."""

    search_metric_name = "toy validation accuracy (%)"
    report_metric_name = "toy test accuracy (%)"

    def __init__(self, dataset: str = "smooth") -> None:
        super().__init__()
        self.space = ToySpace()
        self.dataset = dataset
        self.val, self.test = landscape(dataset)

    def _record(self, code: int) -> Record:
        return Record(
            arch_id=self.space.arch_id(self.space.from_code(code)),
            search_metric=float(self.val[code]),
            report_metric=float(self.test[code]),
            cost_seconds=60.0,
        )

    def lookup(self, arch: Any) -> Record:
        try:
            arch = self.space.validate(arch)
        except SeminasError as exc:
            raise UnknownArchitectureError(str(exc)) from None
        return self._record(arch.code)

    def arch_at(self, index: int) -> Any:
        if not 0 <= int(index) < SIZE:
            raise SeminasError(f"toy index {index} is out of range (0..{SIZE - 1})")
        return self.space.from_code(int(index))

    def __len__(self) -> int:
        return SIZE

    def records(self) -> Iterator[Record]:
        for code in range(SIZE):
            yield self._record(code)

    def best_by_report(self) -> Record:
        return self._record(int(np.argmax(self.test)))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "dataset": self.dataset}


class SimulatedTraining(Evaluator):
    """A simulated training: the table's accuracy plus noise that shrinks with ``epochs``,
    drawn from (``seed``, cell), so a cell scores the same in any order and any process; each
    evaluation sleeps ``epochs`` milliseconds, like a (very) short training."""

    search_metric_name = "toy validation accuracy (%) after simulated training"
    report_metric_name = "toy test accuracy (%)"

    def __init__(self, dataset: str = "smooth", epochs: int = 12, seed: int = 0) -> None:
        super().__init__()
        if int(epochs) < 1:
            raise SeminasError(f"toy-sim needs --epochs >= 1, got {epochs}")
        self.space = ToySpace()
        self.dataset = dataset
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.val, self.test = landscape(dataset)

    def _evaluate(self, arch: Any) -> Record:
        time.sleep(self.epochs / 1000)
        code = arch.code
        noise = np.random.default_rng([self.seed, code]).normal(0.0, 3.0 / np.sqrt(self.epochs))
        return Record(
            arch_id=self.space.arch_id(arch),
            search_metric=float(self.val[code] + noise),
            report_metric=float(self.test[code]),
            cost_seconds=float(self.epochs),
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "dataset": self.dataset,
            "epochs": self.epochs,
            "seed": self.seed,
        }


def simulated_training(space: Any, options: Mapping[str, Any]) -> SimulatedTraining:
    """The ``toy-sim`` evaluator kind: ``options`` are those its entry declares."""
    check_options(options)
    return SimulatedTraining(**options)
