"""One place that turns command-line names into evaluators."""

from __future__ import annotations

import os

from seminas.benchmarks.base import Evaluator
from seminas.errors import SeminasError

NB101_SIZE = 423_624


def make_evaluator(
    space: str,
    dataset: str = "cifar10",
    fidelity: int = 200,
    data_dir: str | os.PathLike | None = None,
    nb101_file: str | os.PathLike | None = None,
    epochs: int = 108,
    seed: int = 0,
    progress: bool = True,
    evaluator: str = "table",
    data: str = "cifar10-10k",
    network: str = "cpu",
    channels: int | None = None,
    cells: int | None = None,
) -> Evaluator:
    """The tabular evaluator for a space, or with ``evaluator="train"`` the training evaluator
    (:class:`seminas.training.TrainingEvaluator`: ``data``, ``epochs`` of training, ``seed``,
    network size ``network``/``channels``/``cells``).

    NAS-Bench-101: the official table. When the table holds every cell, the space samples
    uniformly from the cached enumeration; a partial table (a fixture, a subset) restricts the
    space to its own cells so that no strategy proposes a cell the table cannot answer.
    """
    if evaluator == "train":
        from seminas.training.evaluator import TrainingEvaluator

        if space not in ("nb201", "nb101"):
            raise SeminasError(f"unknown search space {space!r}: choose nb201 or nb101")
        return TrainingEvaluator(
            space,
            data=data,
            epochs=epochs,
            seed=seed,
            data_dir=data_dir,
            network=network,
            channels=channels,
            cells=cells,
        )
    if evaluator != "table":
        raise SeminasError(f"unknown evaluator {evaluator!r}: choose table or train")
    if space == "nb201":
        from seminas.benchmarks.nb201 import NB201Benchmark

        return NB201Benchmark(dataset, fidelity=fidelity, data_dir=data_dir)
    if space == "nb101":
        from seminas.benchmarks.nb101 import NB101Benchmark
        from seminas.spaces.nb101 import NB101Space, SpecPool

        bench = NB101Benchmark(
            nb101_file, epochs=epochs, seed=seed, data_dir=data_dir, progress=progress
        )
        table = bench.table
        if len(table) >= NB101_SIZE:
            from seminas.spaces.nb101_enum import load_or_build

            bench.space = NB101Space(load_or_build(progress=progress))
        else:
            pool = SpecPool(
                [table.spec_at(i) for i in range(len(table))],
                [table.hash_at(i) for i in range(len(table))],
            )
            bench.space = NB101Space(pool, restrict=True)
        return bench
    raise SeminasError(f"unknown search space {space!r}: choose nb201 or nb101")
