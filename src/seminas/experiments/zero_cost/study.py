"""Score a fixed random sample of NAS-Bench-201 cells with every training-free score.

- **Cells.** One seeded permutation of the 15,625 cells; a study of N cells scores its first N,
  so a larger study extends a smaller one with the same seed (and resumes it).
- **Images.** One minibatch of ``batch_size`` real CIFAR-10 training images (the shared
  ``cifar10-10k`` subset), drawn with the seed and normalised as for training; the same batch
  for every cell.
- **Networks.** Each cell's NAS-Bench-201 network (standard: 16 channels, 5 cells per stage),
  default PyTorch initialisation drawn from a per-cell seed (from the study seed and the cell's
  index). NASWOT and DAS read one forward pass of one fresh network; synflow scores another
  fresh network with the same weights (NASWOT's training-mode pass moves BatchNorm's running
  statistics, which synflow's evaluation mode would then see).
- **Store.** Each cell's scores and seconds are one record of ``results.jsonl`` (the common
  results store, kind ``zero-cost-nb201``) as soon as they exist; the same command again
  scores only the missing cells. Records made with other settings are refused.

At the end the report is written (:mod:`seminas.experiments.zero_cost.report`) together with
``scores.npz`` (:mod:`seminas.zero_cost.scorefile`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore
from seminas.progress import NO_PROGRESS, Progress

KIND = "zero-cost-nb201"
RESULTS_FILE = "results.jsonl"
SCORES_FILE = "scores.npz"
N_CELLS = 15625
DEFAULT_CELLS = 1000
DEFAULT_BATCH_SIZE = 64
DATA_SOURCE = "cifar10-10k"
NETWORKS: dict[str, dict[str, int]] = {
    "standard": {"channels": 16, "cells_per_stage": 5},
    "cpu-scale": {"channels": 8, "cells_per_stage": 1},
}
TARGETS = ("cifar10", "cifar100", "ImageNet16-120")
ALL_SCORES = ("das", "naswot", "synflow")
ACTIVATION_SCORES = ("das", "naswot")


@dataclass(frozen=True)
class StudySettings:
    """What every record of one study shares (the number of cells may grow)."""

    seed: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE
    network: str = "standard"
    data: str = DATA_SOURCE
    # which scores to compute: synflow alone costs about a quarter of all three, so a
    # whole-space score file (a search filter) can be made in minutes
    scores: tuple[str, ...] = ALL_SCORES

    def __post_init__(self) -> None:
        from seminas.zero_cost import check_scores

        object.__setattr__(self, "scores", tuple(check_scores(tuple(self.scores))))
        if not self.scores:
            raise SeminasError("no score to compute: give at least one of "
                               f"{', '.join(ALL_SCORES)}")
        if self.network not in NETWORKS:
            raise SeminasError(
                f"unknown network size {self.network!r}: choose {' or '.join(NETWORKS)}"
            )
        if not 2 <= int(self.batch_size) <= 10000:
            raise SeminasError(
                f"batch size {self.batch_size} is out of range: give 2..10000 images"
            )
        if not 0 <= int(self.seed) < 2**32:
            raise SeminasError(f"seed {self.seed} is out of range: give 0..2**32-1")

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "network_settings": NETWORKS[self.network]}
        # the default (every score) is left out, so records of earlier studies stay valid
        if self.scores == ALL_SCORES:
            del out["scores"]
        else:
            out["scores"] = list(self.scores)
        return out


@dataclass
class StudyOutput:
    results: Path
    scores: Path
    summary_json: Path
    summary_md: Path
    plots: list[Path]
    cells: int
    new_cells: int


def sample_cells(n: int, seed: int) -> np.ndarray:
    """The first ``n`` NAS-Bench-201 indices of the study's seeded permutation."""
    if not 1 <= n <= N_CELLS:
        raise SeminasError(f"--cells {n} is out of range: give 1..{N_CELLS} or 'all'")
    return np.random.default_rng([int(seed), 0]).permutation(N_CELLS)[:n]


def cell_seed(seed: int, index: int) -> int:
    """The initialisation seed of one cell's network."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def minibatch(settings: StudySettings, data_dir: str | os.PathLike | None = None) -> Any:
    """The study's fixed, normalised image batch (``batch_size`` training images)."""
    from seminas.training.data import load_image_data, normalise

    data = load_image_data(settings.data, data_dir)
    if settings.batch_size > len(data.x_train):
        raise SeminasError(
            f"batch size {settings.batch_size} exceeds the {len(data.x_train)} images of "
            f"{settings.data}"
        )
    rng = np.random.default_rng([int(settings.seed), 1])
    idx = np.sort(rng.choice(len(data.x_train), size=settings.batch_size, replace=False))
    return normalise(data.x_train[idx])


def load_truth(data_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """200-epoch test accuracy (%) of all 15,625 cells per dataset, plus ``arch`` strings."""
    from seminas.benchmarks.nb201 import NB201Benchmark

    out: dict[str, Any] = {}
    for ds in TARGETS:
        bench = NB201Benchmark(ds, data_dir=data_dir)
        out[ds] = np.asarray(bench.report, dtype=np.float64)
        out.setdefault("arch", np.asarray(bench.arch_strings))
    return out


def score_cell(arch: str, index: int, settings: StudySettings, batch: Any) -> dict[str, Any]:
    """One record: every score of one cell and the seconds each group of scores took."""
    from seminas.zero_cost import activation_scores, nb201_network, synflow

    init = cell_seed(settings.seed, index)
    net_settings = NETWORKS[settings.network]
    scores: dict[str, float] = {}
    # network construction included; "activation" serves both NASWOT and DAS
    seconds: dict[str, float] = {}
    if any(s in settings.scores for s in ACTIVATION_SCORES):
        t0 = time.perf_counter()
        scores.update(activation_scores(nb201_network(arch, init, net_settings), batch))
        seconds["activation"] = time.perf_counter() - t0
    if "synflow" in settings.scores:
        t0 = time.perf_counter()
        scores["synflow"] = synflow(nb201_network(arch, init, net_settings), batch)
        seconds["synflow"] = time.perf_counter() - t0
    return {
        "index": int(index),
        "arch": arch,
        "settings": settings.to_dict(),
        "scores": scores,
        "seconds": seconds,
    }


def _store(path: Path) -> ResultsStore:
    return ResultsStore(path, KIND, key=lambda r: int(r["index"]),
                        valid=lambda r: isinstance(r["scores"], dict))


def run_study(
    out: str | os.PathLike,
    cells: int | str = DEFAULT_CELLS,
    settings: StudySettings | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    truth: Mapping[str, np.ndarray] | None = None,
    command: str | None = None,
) -> StudyOutput:
    """Score the sample's missing cells, then write the report and ``scores.npz``.

    ``cells``: a number or ``"all"``. ``truth``: the table's accuracies (default: loaded from
    ``data_dir``, see :func:`load_truth`). ``command``: the line recorded in the report.
    """
    import torch

    from seminas.experiments.zero_cost.report import write_report

    settings = settings or StudySettings()
    n = N_CELLS if str(cells).lower() == "all" else int(cells)
    wanted = sample_cells(n, settings.seed)
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    store = _store(out_dir / RESULTS_FILE)
    store.check_writable()
    truth = dict(truth) if truth is not None else load_truth(data_dir)
    progress = progress or NO_PROGRESS
    new = 0
    with store.exclusive("zero-cost study"):
        done = {int(r["index"]): r for r in store.read(repair=True)}
        for r in done.values():
            if r.get("settings") != settings.to_dict():
                raise SeminasError(
                    f"{store.path} holds scores made with other settings ({r.get('settings')}); "
                    f"use another --out"
                )
        todo = [int(i) for i in wanted if int(i) not in done]
        if todo:
            batch = minibatch(settings, data_dir)
            old_threads = torch.get_num_threads()
            torch.set_num_threads(int(threads))
            progress.start("training-free scores", total=len(todo), unit="cells")
            try:
                for i in todo:
                    record = score_cell(str(truth["arch"][i]), i, settings, batch)
                    store.append(record)
                    done[i] = record
                    new += 1
                    progress.advance(1)
            finally:
                progress.finish()
                torch.set_num_threads(old_threads)
    records = [done[int(i)] for i in wanted]
    paths = write_report(
        out_dir, records, truth, settings.to_dict(),
        command=command or default_command(n, settings),
    )
    return StudyOutput(
        results=store.path,
        scores=paths["scores"],
        summary_json=paths["summary_json"],
        summary_md=paths["summary_md"],
        plots=paths["plots"],
        cells=len(records),
        new_cells=new,
    )


def default_command(n: int, settings: StudySettings) -> str:
    """The command line that regenerates a study."""
    cells = "all" if n == N_CELLS else str(n)
    parts = [
        "seminas zero-cost study", f"--cells {cells}", "--out DIR", f"--seed {settings.seed}",
        f"--batch-size {settings.batch_size}",
    ]
    if settings.network != "standard":
        parts.append(f"--network {settings.network}")
    if settings.scores != ALL_SCORES:
        parts.append(f"--scores {','.join(settings.scores)}")
    return " ".join(parts)
