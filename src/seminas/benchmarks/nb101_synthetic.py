"""A small synthetic NAS-Bench-101 table in the exact official file format.

The official table cannot be shipped, yet the reader, the cache and end-to-end searches on
:class:`~seminas.benchmarks.nb101.NB101Benchmark` need a file to run on. This writes one with the
same TFRecord framing, JSON rows and ModelMetrics protobuf as the real file: three runs per cell
and epoch budget, accuracies as fractions, times in seconds. The numbers are made up but
plausible: a deterministic function of the cell's operations and edges (conv3x3 helps, pooling
hurts, more epochs help) plus seeded per-run noise, so searches have a signal to find and every
output is reproducible from ``seed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from seminas.benchmarks.nb101 import RUNS, encode_row, model_metrics_classes
from seminas.benchmarks.tfrecord import write_tfrecords
from seminas.errors import SeminasError
from seminas.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, NB101Space, NB101Spec, graph_hash


def synthetic_specs(n: int, seed: int) -> list[NB101Spec]:
    """``n`` distinct valid cells (distinct module hashes), reproducible from ``seed``."""
    if n < 0:
        raise SeminasError(f"the number of synthetic cells must be >= 0, got {n}")
    return NB101Space().sample(n, np.random.default_rng(seed))


def _longest_path(spec: NB101Spec) -> int:
    depth = [0] * spec.num_vertices
    for v in range(1, spec.num_vertices):
        depth[v] = max((depth[u] + 1 for u in range(v) if spec.matrix[u][v]), default=0)
    return depth[-1]


def expected_accuracy(spec: NB101Spec, epochs: int = 108) -> float:
    """The noise-free synthetic validation accuracy (fraction) of ``spec`` after ``epochs``."""
    inner = spec.ops[1:-1]
    final = (
        0.895
        + 0.008 * inner.count(CONV3X3)
        + 0.004 * inner.count(CONV1X1)
        - 0.006 * inner.count(MAXPOOL3X3)
        + 0.002 * min(spec.num_edges, 7)
        + 0.003 * min(_longest_path(spec), 4)
    )
    final = min(final, 0.955)
    return 0.1 + (final - 0.1) * (1.0 - np.exp(-epochs / 9.0))


def synthetic_params(spec: NB101Spec) -> int:
    """A plausible trainable-parameter count (the real network has 128-512 channels)."""
    inner = spec.ops[1:-1]
    return int(
        400_000
        + 3_800_000 * inner.count(CONV3X3)
        + 450_000 * inner.count(CONV1X1)
        + 60_000 * spec.num_edges
    )


def _rows(specs: Sequence[NB101Spec], seed: int, epochs: Sequence[int]) -> Iterator[bytes]:
    model_metrics, _ = model_metrics_classes()
    rng = np.random.default_rng(seed)
    for spec in specs:
        module_hash = graph_hash(spec.matrix, spec.labels())
        params = synthetic_params(spec)
        for budget in epochs:
            mean = expected_accuracy(spec, budget)
            noise = 0.003 + 0.02 * np.exp(-budget / 20.0)  # short training is noisier
            for _run in range(RUNS):
                val = float(np.clip(mean + rng.normal(0.0, noise), 0.05, 0.97))
                test = float(np.clip(val - 0.006 + rng.normal(0.0, 0.003), 0.05, 0.97))
                train_time = budget * (9.0 + params / 1.5e6) * (1.0 + rng.normal(0.0, 0.02))
                metrics = model_metrics(
                    trainable_parameters=params, total_time=train_time + 0.6 * budget
                )
                for fraction in (0.0, 0.5, 1.0):  # start, halfway, end, as in the real file
                    scale = 0.0 if fraction == 0.0 else 1.0 - np.exp(-fraction * budget / 9.0)
                    scale /= 1.0 - np.exp(-budget / 9.0)
                    metrics.evaluation_data.add(
                        current_epoch=fraction * budget,
                        training_time=fraction * train_time,
                        train_accuracy=min(1.0, 0.1 + (val + 0.05 - 0.1) * scale),
                        validation_accuracy=0.1 + (val - 0.1) * scale,
                        test_accuracy=0.1 + (test - 0.1) * scale,
                    )
                yield encode_row(module_hash, budget, spec.matrix, spec.ops, metrics)


def write_synthetic_nb101(
    path: str | os.PathLike,
    specs: Iterable[NB101Spec],
    seed: int,
    epochs: Sequence[int] = (108,),
) -> Path:
    """Write a synthetic table of ``specs`` to ``path`` (3 runs per cell per epoch budget).

    ``epochs=(108,)`` mimics ``nasbench_only108.tfrecord``; ``(4, 12, 36, 108)`` mimics
    ``nasbench_full.tfrecord``. The same arguments always give the same bytes.
    """
    budgets = [int(e) for e in epochs]
    if not budgets or any(e <= 0 for e in budgets) or len(set(budgets)) != len(budgets):
        raise SeminasError(f"epoch budgets must be distinct positive integers, got {list(epochs)}")
    specs = list(specs)
    hashes = {graph_hash(s.matrix, s.labels()) for s in specs}
    if len(hashes) != len(specs):
        raise SeminasError("synthetic NAS-Bench-101 cells must be distinct (by module hash)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tfrecords(path, _rows(specs, seed, budgets))
    return path
