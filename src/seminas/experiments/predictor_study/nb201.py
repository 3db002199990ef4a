"""The predictor study on NAS-Bench-201: every predictor, with and without learning from
unlabeled cells, on CIFAR-10, CIFAR-100 and ImageNet16-120.

For each dataset, predictor, *variant*, N and seed, a predictor is fitted on N labeled cells and
ranks held-out random cells:

- **Cells.** Per seed, one random order of the 15,625 cells (the same for every dataset): the
  first ``labeled_pool`` (300) are the labeled candidates (the first N are labeled, so the sets
  are nested over N), the next ``unlabeled_pool`` (5,000) are the unlabeled cells, and all the
  others (10,325) are the test cells -- random cells no fit ever sees, the same for every N,
  predictor and variant of that seed. Labels: the search metric the bench uses
  (:class:`seminas.benchmarks.nb201.NB201Benchmark`): CIFAR-10's 200-epoch validation accuracy
  (``cifar10-valid``), CIFAR-100's and ImageNet16-120's 12-epoch validation accuracy.
- **Variants.** ``none``: the predictor on the N labeled cells. ``pseudo``: SemiNAS's
  pseudo-labels through the wrapper (:mod:`seminas.predictors.semi`): the first M unlabeled
  cells pseudo-labeled, then a fresh predictor fitted on labeled x ``upsample`` plus them.
  ``pretrain``: FBNetV3's free-label pretraining (:mod:`seminas.predictors.free_labels`) on all
  the unlabeled cells, then the fit on the labeled cells. ``both``: pretraining, then
  pseudo-labels. Pretraining is for the neural predictors only (the others have no trunk to
  pretrain: those cells are not in the grid). Pretraining needs no label, so it is done once
  per (predictor, seed) and reused, unchanged, for every dataset and N.
- **The controller** (the faithful SemiNAS controller's predictor, token encoding) is trained
  as SemiNAS trains it: ``epochs`` on the labeled cells, and for ``pseudo`` then
  ``pseudo_epochs`` more on labeled x ``upsample`` plus its own pseudo-labels (it continues its
  weights, as in the paper, rather than refitting).
- **Metrics** on the test cells: Kendall's tau-b, Spearman's rho and the precision of the
  predicted top ``top_k`` (50): how many of the predicted best 50 are among the true best 50
  (ties as random tie-breaking). CPU seconds of each fit and of each pretraining are recorded.

Every finished cell is appended to ``results.jsonl`` (the common results store, kind
``predictor-study-nb201``) at once; the same command again runs only the missing cells.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.predictor_study.metrics import ranking_metrics
from seminas.experiments.store import ResultsStore, atomic_write_text
from seminas.progress import NO_PROGRESS, Progress

LINE_FORMAT = 1
KIND = "predictor-study-nb201"
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
VARIANTS: tuple[str, ...] = ("none", "pseudo", "pretrain", "both")
DEFAULT_NS: tuple[int, ...] = (50, 100, 300)
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
# The seeds the predictor settings below were chosen on; results are reported on others.
DEVELOPMENT_SEEDS: tuple[int, ...] = (1000, 1001, 1002)

_NEURAL = {"max_steps": 300, "pretrain_epochs": 20}
_MLP = {"hidden": (128, 128, 128), "epochs": 100, "batch_size": 32, **_NEURAL}
# study name -> (registry name, options); "controller" is SemiNAS's own predictor
PREDICTOR_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "gbdt": ("gbdt", {"min_data_in_leaf": 5}),
    "mlp": ("mlp", dict(_MLP)),
    "mlp-rank": ("mlp", {**_MLP, "loss": "pairwise"}),
    "gnn": ("gnn", dict(_NEURAL)),
    "gnn-rank": ("gnn", {**_NEURAL, "loss": "pairwise"}),
    "ensemble": ("ensemble", {"member": "gnn", "members": 3, "loss": "pairwise", **_NEURAL}),
    "controller": ("controller", {"epochs": 100, "pseudo_epochs": 10}),
}
PREDICTORS: tuple[str, ...] = tuple(PREDICTOR_SPECS)
DEFAULT_PREDICTORS: tuple[str, ...] = PREDICTORS

RESULTS_FILE = "results.jsonl"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
PLOT_PNG = "plot.png"

CellKey = tuple[str, str, str, int, int]  # (dataset, predictor, variant, N, seed)


@dataclass(frozen=True)
class NB201StudySettings:
    """Everything besides the grid that decides a result (stored in every line, with the
    predictor's own spec)."""

    labeled_pool: int = 300
    unlabeled_pool: int = 5000
    m: int = 1000
    upsample: int = 10
    top_k: int = 50

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spec_dict(predictor: str) -> dict[str, Any]:
    name, options = PREDICTOR_SPECS[predictor]
    return json.loads(json.dumps({"predictor": name, "options": options}))


def applies(predictor: str, variant: str) -> bool:
    """Whether ``variant`` exists for ``predictor`` (pretraining needs a neural trunk)."""
    if variant in ("none", "pseudo"):
        return True
    name, options = PREDICTOR_SPECS[predictor]
    if name == "ensemble":
        name = options.get("member", "gnn")
    return name in ("mlp", "gnn") and int(options.get("pretrain_epochs", 0)) > 0


def check_grid(
    datasets: Sequence[str],
    predictors: Sequence[str],
    variants: Sequence[str],
    ns: Sequence[int],
    seeds: Sequence[int],
    settings: NB201StudySettings,
) -> None:
    """One clear error for a bad grid, before any data is loaded."""
    if not datasets or not predictors or not variants or not ns or not seeds:
        raise SeminasError("the grid is empty: give at least one dataset, predictor, variant, N "
                           "and seed")
    bad = sorted(set(datasets) - set(DATASETS))
    if bad:
        raise SeminasError(f"unknown dataset(s) {', '.join(bad)}: choose from "
                           f"{', '.join(DATASETS)}")
    bad = sorted(set(predictors) - set(PREDICTORS))
    if bad:
        raise SeminasError(f"unknown predictor(s) {', '.join(bad)}: choose from "
                           f"{', '.join(PREDICTORS)}")
    bad = sorted(set(variants) - set(VARIANTS))
    if bad:
        raise SeminasError(f"unknown variant(s) {', '.join(bad)}: choose from "
                           f"{', '.join(VARIANTS)}")
    if any(int(n) < 2 or int(n) > settings.labeled_pool for n in ns):
        raise SeminasError(f"each N must be in 2..{settings.labeled_pool} (the labeled pool), "
                           f"got {list(ns)}")
    if settings.m < 0 or settings.m > settings.unlabeled_pool:
        raise SeminasError(f"M must be in 0..{settings.unlabeled_pool} (the unlabeled pool), "
                           f"got {settings.m}")
    if any(int(s) < 0 for s in seeds):
        raise SeminasError("seeds must be non-negative integers")


# -- the data --------------------------------------------------------------------------------------
@dataclass
class NB201StudyData:
    """Every cell in dense-code order with each encoding, its free labels and, per dataset, its
    search metric."""

    y: dict[str, np.ndarray]
    flat: np.ndarray
    graphs: Any
    tokens: np.ndarray
    free: np.ndarray
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, datasets: Sequence[str], data_dir: str | os.PathLike | None = None
    ) -> NB201StudyData:
        from seminas.benchmarks.nb201 import NB201Benchmark
        from seminas.predictors.encoding import nb201_code_features
        from seminas.predictors.free_labels import nb201_code_free_labels
        from seminas.predictors.graphs import nb201_code_graphs
        from seminas.spaces.nb201 import NB201Space

        space = NB201Space()
        codes = np.arange(space.size)
        archs = [space.from_code(int(c)) for c in codes]
        ids = [space.arch_id(a) for a in archs]
        y, sources = {}, {}
        for dataset in datasets:
            bench = NB201Benchmark(dataset, data_dir=data_dir)
            rows = {arch: i for i, arch in enumerate(bench.arch_strings)}
            index = np.asarray([rows[i] for i in ids], dtype=np.int64)
            y[dataset] = np.asarray(bench.search, dtype=np.float64)[index]
            sources[dataset] = f"{bench.search_metric_name}; {bench.source.describe()}"
        return cls(y, nb201_code_features(codes), nb201_code_graphs(codes),
                   space.encode_many(archs), nb201_code_free_labels(codes), sources)

    def rows(self, encoding: str, index: np.ndarray) -> Any:
        if encoding == "graph":
            return self.graphs.take_rows(index)
        if encoding == "tokens":
            return self.tokens[index]
        return self.flat[index]


@dataclass(frozen=True)
class SeedCells:
    labeled: np.ndarray  # the labeled pool, in order (the first N are labeled)
    unlabeled: np.ndarray  # the unlabeled pool (the first M are pseudo-labeled)
    test: np.ndarray


def draw_cells(settings: NB201StudySettings, seed: int, total: int = 15_625) -> SeedCells:
    order = np.random.default_rng([int(seed), 201]).permutation(total)
    a, b = settings.labeled_pool, settings.labeled_pool + settings.unlabeled_pool
    return SeedCells(order[:a], order[a:b], order[b:])


def _seed_of(seed: int, predictor: str) -> int:
    """The predictor's seed for ``seed``: the same for every dataset, N and variant (so
    variants are compared on the same initialisation), different across predictors."""
    salt = int(hashlib.md5(predictor.encode()).hexdigest()[:8], 16)
    return int(np.random.SeedSequence([int(seed), salt]).generate_state(1)[0]) % (2**31 - 1)


# -- one cell ------------------------------------------------------------------------------------
def _wrapper(settings: NB201StudySettings, predictor: str, seed: int) -> Any:
    from seminas.predictors.semi import SemiSupervisedPredictor

    name, options = PREDICTOR_SPECS[predictor]
    return SemiSupervisedPredictor(
        seed=_seed_of(seed, predictor), base=name, m=settings.m, upsample=settings.upsample,
        **options,
    )


def _controller_cell(
    settings: NB201StudySettings, data: NB201StudyData, cells: SeedCells, dataset: str,
    variant: str, n: int, seed: int, initial: Any = None,
) -> tuple[np.ndarray, dict[str, Any], Any]:
    import torch

    from seminas.controller.predictor import ControllerPredictor
    from seminas.spaces.nb201 import NB201Space

    options = PREDICTOR_SPECS["controller"][1]
    labeled = cells.labeled[:n]
    y = data.y[dataset][labeled]
    if initial is not None:  # the plain cell's controller, continued on a copy
        model = copy.deepcopy(initial)
    else:
        model = ControllerPredictor(NB201Space(), epochs=int(options["epochs"]),
                                    seed=_seed_of(seed, "controller"))
        model.fit(data.tokens[labeled], y)
    plain = copy.deepcopy(model) if variant == "none" else None
    info: dict[str, Any] = {"labeled": n, "pseudo_labeled": 0}
    if variant == "pseudo" and settings.m:
        unlabeled = data.tokens[cells.unlabeled[: settings.m]]
        pseudo = model.predict(unlabeled)
        tokens = np.concatenate([np.tile(data.tokens[labeled], (settings.upsample, 1)),
                                 unlabeled])
        targets = np.concatenate([np.tile(y, settings.upsample), pseudo])
        # SemiNAS continues the same controller (standardised as before) on both
        model.trainer.fit(torch.as_tensor(tokens, dtype=torch.long), targets,
                          int(options["pseudo_epochs"]))
        info["pseudo_labeled"] = int(len(unlabeled))
    return model.predict(data.tokens[cells.test]), info, plain


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


class _Pretrained:
    """Pretrained wrappers of one seed, one per predictor (pretraining sees no label)."""

    def __init__(self) -> None:
        self.seed: int | None = None
        self.items: dict[str, tuple[Any, float]] = {}

    def get(self, settings, data, cells, predictor: str, seed: int) -> tuple[Any, float]:
        if self.seed != seed:
            self.seed, self.items = seed, {}
        if predictor not in self.items:
            wrapper = _wrapper(settings, predictor, seed)
            start = time.process_time()
            encoding = wrapper.encoding
            wrapper.pretrain(data.rows(encoding, cells.unlabeled), data.free[cells.unlabeled])
            self.items[predictor] = (wrapper, time.process_time() - start)
        wrapper, seconds = self.items[predictor]
        return copy.deepcopy(wrapper), seconds


class _Plain:
    """The plain fits (``none``, ``pretrain``) of the running (seed, predictor, dataset), with
    their CPU seconds: the ``pseudo`` and ``both`` cells start from them instead of fitting the
    very same model again (their first step), and count their time."""

    def __init__(self) -> None:
        self.scope: tuple[Any, ...] | None = None
        self.items: dict[tuple[str, int], tuple[Any, float, float]] = {}

    def get(
        self, scope: tuple[Any, ...], variant: str, n: int
    ) -> tuple[Any, float, float] | None:
        if scope != self.scope:
            self.scope, self.items = scope, {}
        return self.items.get((variant, n))

    def put(
        self, scope: tuple[Any, ...], variant: str, n: int, model: Any, cpu: float, wall: float
    ) -> None:
        if scope != self.scope:
            self.scope, self.items = scope, {}
        self.items[(variant, n)] = (model, cpu, wall)


_PLAIN_OF = {"pseudo": "none", "both": "pretrain"}


def run_cell(
    settings: NB201StudySettings,
    data: NB201StudyData,
    cells: SeedCells,
    key: CellKey,
    pretrained: _Pretrained | None = None,
    plain: _Plain | None = None,
) -> dict[str, Any]:
    """Fit and score one cell of the grid; its results line (a function of the settings and the
    cell's coordinates only: the caches change the time taken, not the result)."""
    dataset, predictor, variant, n, seed = key
    pretrained = pretrained or _Pretrained()
    plain = plain or _Plain()
    scope = (seed, predictor, dataset)
    earlier = plain.get(scope, _PLAIN_OF[variant], n) if variant in _PLAIN_OF else None
    initial, initial_cpu, initial_wall = earlier if earlier is not None else (None, 0.0, 0.0)
    pretrain_cpu = None
    if predictor != "controller" and variant in ("pretrain", "both"):
        model, pretrain_cpu = pretrained.get(settings, data, cells, predictor, seed)
    elif predictor != "controller":
        model = _wrapper(settings, predictor, seed)
    start, cpu = time.perf_counter(), time.process_time()
    if predictor == "controller":
        pred, info, fitted = _controller_cell(settings, data, cells, dataset, variant, n, seed,
                                              initial)
    else:
        encoding = model.encoding
        labeled = cells.labeled[:n]
        X, y = data.rows(encoding, labeled), data.y[dataset][labeled]
        if variant in ("pseudo", "both"):
            model.fit(X, y, unlabeled=data.rows(encoding, cells.unlabeled[: settings.m]),
                      initial=initial)
        else:
            model.fit(X, y)
        fitted = model.model if variant in ("none", "pretrain") else None
        pred = model.predict(data.rows(encoding, cells.test))
        info = dict(model.info)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if fitted is not None:
        plain.put(scope, variant, n, fitted, cpu, seconds)
    info["reused_plain_fit"] = initial is not None
    metrics = ranking_metrics(pred, data.y[dataset][cells.test], top_k=settings.top_k)
    return {
        "format": LINE_FORMAT,
        "space": "nb201",
        "dataset": dataset,
        "predictor": predictor,
        "variant": variant,
        "n": int(n),
        "seed": int(seed),
        **{k: _finite(v) for k, v in metrics.items()},
        "n_test": int(len(cells.test)),
        "seconds": seconds + initial_wall,
        "cpu_seconds": cpu + initial_cpu,
        "pretrain_cpu_seconds": pretrain_cpu,
        "info": info,
        "settings": settings.to_dict(),
        "spec": spec_dict(predictor),
    }


# -- the study ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NB201StudyOutput:
    out_dir: Path
    results: Path
    summary_json: Path
    summary_md: Path
    plot: Path
    cells: int
    new_cells: int


def _key(line: Mapping[str, Any]) -> CellKey:
    return (str(line["dataset"]), str(line["predictor"]), str(line["variant"]),
            int(line["n"]), int(line["seed"]))


def _store(path: Path) -> ResultsStore:
    return ResultsStore(path, KIND, key=_key)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return _store(path).read(repair=True)


def grid(
    datasets: Sequence[str],
    predictors: Sequence[str],
    variants: Sequence[str],
    ns: Sequence[int],
    seeds: Sequence[int],
) -> list[CellKey]:
    """The cells in the order they run: by seed, then predictor (so one pretraining serves
    every dataset and N of a seed), then dataset, variant and N."""
    return [
        (d, p, v, int(n), int(s))
        for s in seeds for p in predictors for d in datasets for v in variants
        if applies(p, v) for n in ns
    ]


def run_nb201_study(
    out: str | os.PathLike,
    datasets: Sequence[str] = DATASETS,
    predictors: Sequence[str] = DEFAULT_PREDICTORS,
    variants: Sequence[str] = VARIANTS,
    ns: Sequence[int] = DEFAULT_NS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    m: int = 1000,
    upsample: int = 10,
    data_dir: str | os.PathLike | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    command: str | None = None,
    data: NB201StudyData | None = None,
) -> NB201StudyOutput:
    """Run the grid's missing cells, then write ``summary.json``, ``summary.md`` and
    ``plot.png`` for the requested grid. ``data``: the cells, already loaded (with every
    dataset of the grid); default: loaded from ``data_dir`` when a cell is missing."""
    import torch

    from seminas.experiments.predictor_study.nb201_report import (
        default_command,
        plot,
        render_markdown,
        summarize,
    )

    progress = progress or NO_PROGRESS
    datasets = list(dict.fromkeys(datasets))
    predictors = list(dict.fromkeys(predictors))
    variants = [v for v in VARIANTS if v in set(variants)] + [
        v for v in dict.fromkeys(variants) if v not in VARIANTS]
    ns = sorted({int(n) for n in ns})
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    settings = NB201StudySettings(m=int(m), upsample=int(upsample))
    check_grid(datasets, predictors, variants, ns, seeds, settings)
    if settings.upsample < 1:
        raise SeminasError(f"upsample must be >= 1, got {settings.upsample}")
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    existing = read_lines(path)
    stored = settings.to_dict()
    for line in existing:
        if line.get("settings") != stored or (
            line.get("predictor") in PREDICTOR_SPECS
            and line.get("spec") != spec_dict(line["predictor"])
        ):
            raise SeminasError(
                f"{path} holds results made with other settings (e.g. {line.get('predictor')} "
                f"with {line.get('settings')}); use another --out"
            )
    done = {_key(ln): ln for ln in existing}
    wanted = grid(datasets, predictors, variants, ns, seeds)
    todo = [k for k in wanted if k not in done]
    new = 0
    sources: dict[str, str] = {}
    if todo:
        if data is None:
            data = NB201StudyData.load(sorted({k[0] for k in todo}, key=DATASETS.index),
                                       data_dir)
        sources = data.sources
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        store = _store(path)
        pretrained, plain = _Pretrained(), _Plain()
        drawn: dict[int, SeedCells] = {}
        progress.start("NAS-Bench-201 predictor study", len(todo), "cells")
        try:
            for key in todo:
                progress.advance(0, "{} {} {} N={} seed={}".format(*key))
                seed = key[4]
                if seed not in drawn:
                    drawn = {seed: draw_cells(settings, seed)}
                line = run_cell(settings, data, drawn[seed], key, pretrained, plain)
                store.append(line)
                done[key] = line
                new += 1
                progress.advance(1)
        finally:
            progress.finish()
            torch.set_num_threads(previous)
    lines = [done[k] for k in wanted if k in done]
    if command is None:
        command = default_command(datasets, predictors, variants, ns, seeds, settings, out_dir)
    summary = summarize(lines)
    if not sources and (out_dir / SUMMARY_JSON).is_file():  # nothing loaded: keep the last ones
        try:
            sources = json.loads((out_dir / SUMMARY_JSON).read_text()).get("sources", {})
        except (OSError, ValueError):
            sources = {}
    payload = {"settings": stored, "specs": {p: spec_dict(p) for p in predictors},
               "command": command, "sources": sources, **summary}
    atomic_write_text(out_dir / SUMMARY_JSON, json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out_dir / SUMMARY_MD, render_markdown(summary, settings, predictors,
                                                            command))
    plot(summary["rows"], out_dir / PLOT_PNG)
    return NB201StudyOutput(out_dir, path, out_dir / SUMMARY_JSON, out_dir / SUMMARY_MD,
                            out_dir / PLOT_PNG, len(lines), new)


__all__ = [
    "DATASETS",
    "DEFAULT_NS",
    "DEFAULT_PREDICTORS",
    "DEFAULT_SEEDS",
    "DEVELOPMENT_SEEDS",
    "KIND",
    "PREDICTORS",
    "PREDICTOR_SPECS",
    "VARIANTS",
    "NB201StudyData",
    "NB201StudyOutput",
    "NB201StudySettings",
    "applies",
    "check_grid",
    "draw_cells",
    "grid",
    "read_lines",
    "run_cell",
    "run_nb201_study",
]
