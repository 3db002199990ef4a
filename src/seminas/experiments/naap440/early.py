"""The early-training predictor on the benchmarks that record early epochs.

NAAP-440's lesson is that the first few epochs of training, fed to a regressor beside the
architecture, predict the final accuracy. Two of seminas's tables hold such early values, so the
same predictor is tried there, in the way a NAS budget would use it: N labelled cells (chosen at
random by the seed, nested so N=50 is part of N=100), the rest held out, Kendall tau and
Spearman rho on the held-out cells.

- ``nb201``: NAS-Bench-201 CIFAR-10, the architecture's one-hot encoding (30 columns) and the
  12-epoch validation accuracy (``12ep.csv``'s ``cifar10-val``) predicting the 200-epoch CIFAR-10
  test accuracy; held out: the other 15,625 - N cells.
- ``nb101``: the NAS-Bench-101 subset's 1,000 cells with matrices (``specs-1k.json``), GBDT-NAS's
  45-column encoding and the 4-, 12- or 36-epoch validation accuracy predicting the 108-epoch
  validation accuracy (the subset has no test accuracy); held out: the other 1,000 - N cells.

Feature sets: ``arch`` (no early value), ``arch+eK`` (the architecture and epoch K's accuracy)
and ``eK`` (epoch K's accuracy as the ranking itself, nothing fitted: what the early value alone
is worth). The regressors are the NAAP-440 study's (:data:`~.study.REGRESSORS`). Each
(benchmark, regressor, features, N, seed) is one record of the common results store (kind
``naap440-early``); a rerun computes only the missing ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore
from seminas.progress import NO_PROGRESS, Progress

KIND = "naap440-early"
RECORDS_FILE = "records.jsonl"
BENCHMARKS = ("nb201", "nb101")
DEFAULT_REGRESSORS = ("random-forest", "gbdt-nas", "mlp")
DEFAULT_SIZES = (50, 100, 300)
RAW = "early-value"  # the "regressor" of the eK feature sets: the early value itself


@dataclass(frozen=True)
class EarlyTask:
    """One benchmark's cells: architecture encoding, early accuracies (%) and the target (%)."""

    name: str
    arch: np.ndarray
    early: dict[int, np.ndarray] = field(repr=False)
    target: np.ndarray = field(repr=False)
    what: str = ""

    def feature_sets(self) -> list[str]:
        epochs = sorted(self.early)
        return ["arch", *(f"arch+e{k}" for k in epochs), *(f"e{k}" for k in epochs)]

    def _early(self, features: str, prefix: str) -> np.ndarray:
        k = int(features[len(prefix):])
        if k not in self.early:
            raise SeminasError(
                f"{self.name} has no {k}-epoch values: choose from {', '.join(self.feature_sets())}"
            )
        return self.early[k]

    def matrix(self, features: str) -> np.ndarray:
        """The features a regressor sees for ``features`` (``arch`` or ``arch+eK``)."""
        if features == "arch":
            return self.arch.astype(np.float64)
        if features.startswith("arch+e"):
            early = self._early(features, "arch+e")
            return np.hstack([self.arch.astype(np.float64), early[:, None]])
        raise SeminasError(f"unknown feature set {features!r} for {self.name}")

    def raw(self, features: str) -> np.ndarray:
        """The early value itself, for an ``eK`` feature set."""
        return self._early(features, "e")


def load_task(name: str, data_dir: str | os.PathLike | None = None) -> EarlyTask:
    """The cells of ``nb201`` or ``nb101`` (see the module docstring)."""
    if name == "nb201":
        return _nb201(data_dir)
    if name == "nb101":
        return _nb101(data_dir)
    raise SeminasError(f"unknown benchmark {name!r}: choose from {', '.join(BENCHMARKS)}")


def _nb201(data_dir: str | os.PathLike | None) -> EarlyTask:
    from seminas.benchmarks.nb201 import NB201Benchmark
    from seminas.benchmarks.nb201_table import metric_key
    from seminas.predictors.encoding import nb201_features

    bench = NB201Benchmark("cifar10", 200, data_dir)
    early = np.asarray(bench.table.get(metric_key("cifar10", "valid_acc", 12)), dtype=np.float64)
    arch = nb201_features([bench.arch_at(i) for i in range(len(bench))])
    return EarlyTask("nb201", arch, {12: early}, np.asarray(bench.report, dtype=np.float64),
                     what=f"NAS-Bench-201 CIFAR-10, 12-epoch validation accuracy -> "
                          f"{bench.report_metric_name}")


def _nb101(data_dir: str | os.PathLike | None) -> EarlyTask:
    from seminas.benchmarks.nb101.schema import EPOCH_BUDGETS, REPORT_EPOCHS
    from seminas.benchmarks.nb101.subset import NB101SubsetBenchmark
    from seminas.predictors.encoding import nb101_features

    final = NB101SubsetBenchmark(REPORT_EPOCHS, data_dir)
    specs = final.specs()
    hashes = [final.space.arch_id(s) for s in specs]
    early = {}
    for epochs in EPOCH_BUDGETS:
        if epochs == REPORT_EPOCHS:
            continue
        bench = NB101SubsetBenchmark(epochs, data_dir)
        early[int(epochs)] = np.array([bench.lookup_hash(h).search_metric for h in hashes])
    target = np.array([final.lookup_hash(h).search_metric for h in hashes])
    return EarlyTask("nb101", nb101_features(specs), early, target,
                     what=f"NAS-Bench-101 subset ({len(specs)} cells with matrices), 4/12/36-epoch "
                          f"validation accuracy -> {REPORT_EPOCHS}-epoch validation accuracy")


def labelled(n_cells: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The N labelled cells of a seed and the held-out rest; the first N of one permutation, so
    a seed's smaller sets are part of its larger ones."""
    if not 2 <= n < n_cells:
        raise SeminasError(f"N={n} labelled cells needs 2 <= N < {n_cells} (the cells there are)")
    order = np.random.default_rng([int(seed), 440]).permutation(n_cells)
    return np.sort(order[:n]), np.sort(order[n:])


def rank_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    if float(np.ptp(y_pred)) == 0.0:
        return {"kendall_tau": 0.0, "spearman_rho": 0.0}
    return {"kendall_tau": float(kendalltau(y_true, y_pred)[0]),
            "spearman_rho": float(spearmanr(y_true, y_pred)[0])}


def run_unit(task: EarlyTask, regressor: str, features: str, n: int, seed: int) -> dict[str, Any]:
    """Fit on the seed's N labelled cells (or use the raw early value); score the rest."""
    from seminas.experiments.naap440.study import REGRESSORS

    train, test = labelled(len(task.target), n, seed)
    t0 = time.perf_counter()
    if regressor == RAW:
        pred = task.raw(features)[test]
        n_features = 1
    else:
        X = task.matrix(features)
        model = REGRESSORS[regressor].build(int(seed))
        model.fit(X[train], task.target[train])
        pred = np.asarray(model.predict(X[test]), dtype=np.float64).ravel()
        n_features = int(X.shape[1])
    return {
        "benchmark": task.name,
        "regressor": regressor,
        "features": features,
        "n": int(n),
        "seed": int(seed),
        "n_features": n_features,
        "held_out": int(len(test)),
        "metrics": rank_metrics(task.target[test], pred),
        "seconds": time.perf_counter() - t0,
    }


def units(task: EarlyTask, regressors: Sequence[str], sizes: Sequence[int],
          seeds: Sequence[int]) -> list[tuple[str, str, str, int, int]]:
    """Every (benchmark, regressor, features, N, seed) of one benchmark."""
    from seminas.experiments.naap440.study import REGRESSORS

    unknown = [r for r in regressors if r not in REGRESSORS]
    if unknown:
        raise SeminasError(
            f"unknown regressor {unknown[0]!r}: choose from {', '.join(REGRESSORS)}"
        )
    if not seeds or not sizes:
        raise SeminasError("the early study needs seeds and sizes, e.g. --seeds 0-4 --n 50,100")
    for n in sizes:
        labelled(len(task.target), int(n), 0)  # range check before any work
    out = []
    for features in task.feature_sets():
        names = regressors if features.startswith("arch") else [RAW]
        for r in names:
            for n in sizes:
                for s in seeds:
                    out.append((task.name, r, features, int(n), int(s)))
    return out


def record_key(record: Any) -> tuple[str, str, str, int, int]:
    return (str(record["benchmark"]), str(record["regressor"]), str(record["features"]),
            int(record["n"]), int(record["seed"]))


def open_store(out_dir: str | os.PathLike) -> ResultsStore:
    return ResultsStore(Path(out_dir) / RECORDS_FILE, KIND, key=record_key,
                        valid=lambda r: isinstance(r["metrics"]["kendall_tau"], float))


@dataclass
class EarlyOutput:
    records: Path
    results_json: Path
    readme: Path
    plot: Path
    units: int
    new_units: int


def default_command(benchmarks: Sequence[str], regressors: Sequence[str], sizes: Sequence[int],
                    seeds: Sequence[int]) -> str:
    from seminas.experiments.seeds import format_seeds

    return (f"seminas naap440 early --out DIR --benchmarks {','.join(benchmarks)} "
            f"--regressors {','.join(regressors)} --n {','.join(map(str, sizes))} "
            f"--seeds {format_seeds(seeds)}")


def run_early(
    out: str | os.PathLike,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    benchmarks: Sequence[str] = BENCHMARKS,
    regressors: Sequence[str] = DEFAULT_REGRESSORS,
    sizes: Sequence[int] = DEFAULT_SIZES,
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    command: str | None = None,
) -> EarlyOutput:
    """Run the missing units into ``out`` (one thread), then write the report."""
    import torch
    from threadpoolctl import threadpool_limits

    from seminas.experiments.naap440.early_report import write_report

    bad = [b for b in benchmarks if b not in BENCHMARKS]
    if bad:
        raise SeminasError(f"unknown benchmark {bad[0]!r}: choose from {', '.join(BENCHMARKS)}")
    if not benchmarks:
        raise SeminasError(f"name at least one benchmark: {', '.join(BENCHMARKS)}")
    seeds, sizes = [int(s) for s in seeds], [int(n) for n in sizes]
    tasks = {name: load_task(name, data_dir) for name in benchmarks}
    todo_all = [u for t in tasks.values() for u in units(t, regressors, sizes, seeds)]
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(out_dir)
    store.check_writable()
    progress = progress or NO_PROGRESS
    new = 0
    with store.exclusive("NAAP-440 early study"):
        done = {record_key(r): r for r in store.read(repair=True)}
        todo = [u for u in todo_all if u not in done]
        if todo:
            old_threads = torch.get_num_threads()
            torch.set_num_threads(1)
            progress.start("early-training predictor", total=len(todo), unit="fits")
            try:
                with threadpool_limits(1):
                    for unit in todo:
                        record = run_unit(tasks[unit[0]], *unit[1:])
                        store.append(record)
                        done[unit] = record
                        new += 1
                        progress.advance(1, note=f"{unit[0]} {unit[1]} {unit[2]} N={unit[3]}")
            finally:
                progress.finish()
                torch.set_num_threads(old_threads)
    records = [done[u] for u in todo_all]
    paths = write_report(out_dir, records, {t.name: t.what for t in tasks.values()},
                         command=command or default_command(benchmarks, regressors, sizes, seeds))
    return EarlyOutput(records=store.path, results_json=paths["results_json"],
                       readme=paths["readme"], plot=paths["plot"], units=len(records),
                       new_units=new)
