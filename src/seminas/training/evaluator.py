"""The training evaluator: an architecture's score is the accuracy of its network after training.

:class:`TrainingEvaluator` builds the space's network (:mod:`seminas.networks`), trains it with a
:class:`~seminas.training.recipe.Recipe` on image data (or hands it to the user's own training
function) and returns a :class:`~seminas.benchmarks.base.Record`: search metric = validation
accuracy (held-out part of the training set), report metric = test accuracy (when the data has
a test split), cost = wall seconds of the training, params = trainable parameters.

Repeatability: each evaluation seeds torch from ``(seed, arch id)``, runs with one torch thread
(``threads``) and deterministic algorithms, so an architecture gets the same numbers in any
process, in any order, on the CPU. The validation split depends on ``seed`` only.

The caller's randomness is left alone: the seeding of Python's, NumPy's and torch's global
generators (a network's initial weights, and whatever a user's ``train_fn`` draws, come from
them) happens inside a block that puts all three states back afterwards
(:func:`seminas.randomness.global_rng_preserved`). So a training, a cache hit that skips it, or a
study row replayed without it leaves the same random state behind -- an in-process search stays
exact whether or not its evaluations were cached.

Cache: finished results are stored on disk (SQLite, ``<cache dir>/training/results.sqlite``)
under a key made of the architecture id, the recipe, the network size, the data's identity, the
validation fraction, the seed and the training function's name; asking again answers from the
cache at no cost (``extra["cached"]``). Failed trainings are never cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sqlite3
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import SeminasError
from seminas.networks import build_with, network_settings
from seminas.randomness import global_rng_preserved
from seminas.registry import space_entry, space_names_where
from seminas.spaces.base import SearchSpace
from seminas.training.data import CIFAR10_SUBSET, ImageData, load_image_data, split_validation
from seminas.training.recipe import DEFAULT_VAL_FRACTION, Recipe, TrainOutcome, train_network

CACHE_FILE = "results.sqlite"


@dataclass
class TrainRequest:
    """What a user's training function receives for one evaluation."""

    arch: Any  # the space's native notation (a string for nb201, a dict for nb101)
    arch_id: str
    space: str
    recipe: Recipe
    seed: int  # derived from the evaluator's seed and the architecture id
    data: ImageData | None  # the evaluator's data, if it was given any
    network: dict[str, int]  # the width/depth settings of the evaluator's network size

    def build(self, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        """The space's network for this architecture, freshly initialised from ``seed``
        (it seeds torch's global generator: inside an evaluation, whose global random states
        are put back when it ends)."""
        torch.manual_seed(self.seed)
        return build_network(self.space, self.arch, self.network, num_classes, in_channels)


TrainFn = Callable[[TrainRequest], "TrainOutcome | Mapping[str, Any] | float"]


def build_network(
    space: str, arch: Any, settings: Mapping[str, int], num_classes: int = 10, in_channels: int = 3
) -> nn.Module:
    """The network of ``arch`` with explicit width/depth ``settings`` (the space's registered
    builder, :class:`seminas.registry.NetworkEntry`)."""
    return build_with(space, arch, settings, num_classes, in_channels)


def derive_seed(seed: int, arch_id: str) -> int:
    """The training seed of one architecture: independent of the order of evaluation."""
    digest = hashlib.sha256(f"{int(seed)}:{arch_id}".encode()).hexdigest()
    return int(digest[:8], 16)


@contextmanager
def _deterministic(threads: int | None):
    previous_threads = torch.get_num_threads()
    previous_det = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous_det, warn_only=previous_warn)
        if threads is not None:
            torch.set_num_threads(previous_threads)


def _space(space: SearchSpace | str) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return space
    try:  # the whole registered space: any valid cell can be trained, no table restricts it
        return space_entry(space).make_space()
    except SeminasError:
        trainable = space_names_where(lambda e: e.network is not None)
        raise SeminasError(
            f"no trainable network for search space {space!r}: choose {' or '.join(trainable)}"
        ) from None


class ResultCache:
    """Finished training results on disk, shared by every process of this machine."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = Path(directory) / CACHE_FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, record TEXT NOT NULL, "
            "created REAL NOT NULL)"
        )
        return conn

    def get(self, key: str) -> Record | None:
        if not self.path.is_file():
            return None
        try:
            conn = self._connect()
            try:
                row = conn.execute("SELECT record FROM results WHERE key = ?", (key,)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None  # an unreadable cache is a cache miss, never an error
        return None if row is None else Record(**json.loads(row[0]))

    def put(self, key: str, record: Record) -> None:
        try:
            conn = self._connect()
            try:
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO results (key, record, created) VALUES (?, ?, ?)",
                        (key, json.dumps(record.to_dict()), time.time()),
                    )
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # caching is an optimisation; a read-only disk must not fail the evaluation

    def __len__(self) -> int:
        if not self.path.is_file():
            return 0
        conn = self._connect()
        try:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
        finally:
            conn.close()


class TrainingEvaluator(Evaluator):
    """Scores architectures by training their networks (see the module docstring).

    ``data``: an :class:`ImageData`, a source for :func:`load_image_data` (loaded on first use,
    in each worker process) or ``None`` with a ``train_fn``. ``epochs`` overrides the recipe's.
    ``network``: ``"cpu"`` (default, small) or ``"standard"``; ``channels``/``cells`` override
    its width/depth. ``train_fn(request) -> TrainOutcome | {"val_accuracy": ..} | float``
    replaces the built-in training. ``cache_dir=False`` disables the cache.
    """

    search_metric_name = "validation accuracy (%) after training"
    report_metric_name = "test accuracy (%) after training"

    def __init__(
        self,
        space: SearchSpace | str,
        data: ImageData | str | None = CIFAR10_SUBSET,
        recipe: Recipe | None = None,
        epochs: int | None = None,
        seed: int = 0,
        cache_dir: str | os.PathLike | None | bool = None,
        train_fn: TrainFn | None = None,
        *,
        data_dir: str | os.PathLike | None = None,
        network: str = "cpu",
        channels: int | None = None,
        cells: int | None = None,
        val_fraction: float = DEFAULT_VAL_FRACTION,
        image_size: int | None = None,
        threads: int | None = 1,
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.space = _space(space)
        recipe = recipe or Recipe()
        if epochs is not None:
            if not isinstance(epochs, int) or epochs < 1:
                raise SeminasError(f"--epochs must be a whole number >= 1, got {epochs!r}")
            recipe = Recipe(**{**recipe.to_dict(), "epochs": int(epochs)})
        self.recipe = recipe
        self.seed = int(seed)
        if data is None and train_fn is None:
            raise SeminasError("TrainingEvaluator needs data, or a train_fn that brings its own")
        if not 0.0 < val_fraction < 1.0:
            raise SeminasError(f"validation fraction must be in (0, 1), got {val_fraction}")
        self.train_fn = train_fn
        self.data_source = data if isinstance(data, str) else None
        self._data = data if isinstance(data, ImageData) else None
        self.data_dir = None if data_dir is None else str(data_dir)
        self.image_size = image_size
        self.network_size = network
        self.network = network_settings(self.space.name, network, channels, cells)
        self.val_fraction = float(val_fraction)
        self.threads = threads
        self.device = device
        if cache_dir is False:
            self.cache: ResultCache | None = None
        else:
            from seminas.data import cache_dir as default_cache

            base = Path(cache_dir) if cache_dir not in (None, True) else default_cache()
            self.cache = ResultCache(base / "training")
        self._split: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.data_source is not None:
            self._check_source()

    # -- data ---------------------------------------------------------------------------------
    def _check_source(self) -> None:
        """Fail now, in one line, on a source that cannot be loaded later in a worker."""
        src = self.data_source
        assert src is not None
        if src == CIFAR10_SUBSET:
            from seminas.data import known_file
            from seminas.training.data import CIFAR10_SUBSET_FILE

            known_file(CIFAR10_SUBSET_FILE, self.data_dir)
        elif not Path(src).expanduser().is_dir():
            raise SeminasError(
                f"unknown data source {src!r}: give {CIFAR10_SUBSET!r}, a directory of the "
                f"CIFAR-10 python batches, or an image folder with train/<class>/ images"
            )

    @property
    def data(self) -> ImageData | None:
        """The image data, loaded on first use."""
        if self._data is None and self.data_source is not None:
            self._data = load_image_data(self.data_source, self.data_dir, self.image_size)
        return self._data

    def _data_identity(self) -> str:
        if self._data is not None and self.data_source is None:
            return self._data.identity()
        if self.data_source is None:
            return "none"
        if self.data_source == CIFAR10_SUBSET:
            return CIFAR10_SUBSET
        path = Path(self.data_source).expanduser().resolve()
        return f"{path}|size={self.image_size}"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.data_source is not None:  # workers load it themselves: cheaper than pickling
            state["_data"] = None
        state["_split"] = None
        return state

    # -- the cache ------------------------------------------------------------------------------
    def cache_key(self, arch_id: str) -> str:
        fn = None
        if self.train_fn is not None:
            fn = f"{getattr(self.train_fn, '__module__', '?')}." + getattr(
                self.train_fn, "__qualname__", type(self.train_fn).__name__
            )
        parts = {
            "arch": arch_id,
            "space": self.space.name,
            "recipe": self.recipe.key(),
            "network": self.network,
            "data": self._data_identity(),
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "train_fn": fn,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def cached_record(self, arch: Any) -> Record | None:
        """The stored result of ``arch``, or None. Costs no training."""
        if self.cache is None:
            return None
        arch = self.space.validate(arch)
        record = self.cache.get(self.cache_key(self.space.arch_id(arch)))
        if record is None:
            return None
        return Record(
            arch_id=record.arch_id,
            search_metric=record.search_metric,
            report_metric=record.report_metric,
            cost_seconds=record.cost_seconds,
            params=record.params,
            extra={**record.extra, "cached": True},
        )

    # -- evaluating -----------------------------------------------------------------------------
    def _evaluate(self, arch: Any) -> Record:
        arch_id = self.space.arch_id(arch)
        cached = self.cached_record(arch)
        if cached is not None:
            return cached
        seed = derive_seed(self.seed, arch_id)
        with _deterministic(self.threads), global_rng_preserved():
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            outcome = self._train(arch, arch_id, seed)
        record = Record(
            arch_id=arch_id,
            search_metric=float(outcome.val_accuracy),
            report_metric=None if outcome.test_accuracy is None else float(outcome.test_accuracy),
            cost_seconds=float(outcome.seconds),
            params=None if outcome.params is None else int(outcome.params),
            extra={
                "epochs": self.recipe.epochs,
                "recipe": self.recipe.key(),
                "history": outcome.history,
            },
        )
        if self.cache is not None and math.isfinite(record.search_metric):
            self.cache.put(self.cache_key(arch_id), record)
        return record

    def _train(self, arch: Any, arch_id: str, seed: int) -> TrainOutcome:
        data = self.data
        if self.train_fn is not None:
            request = TrainRequest(
                arch=self.space.to_native(arch),
                arch_id=arch_id,
                space=self.space.name,
                recipe=self.recipe,
                seed=seed,
                data=data,
                network=dict(self.network),
            )
            start = time.perf_counter()
            return _as_outcome(self.train_fn(request), time.perf_counter() - start)
        assert data is not None
        if self._split is None:
            self._split = split_validation(data, self.val_fraction, self.seed)
        train_idx, val_idx = self._split
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = build_network(
            self.space.name, arch, self.network, data.num_classes, data.x_train.shape[1]
        ).to(device)
        return train_network(model, data, self.recipe, seed, train_idx, val_idx)

    def describe(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "space": self.space.name,
            "data": self.data_source or (self._data.name if self._data is not None else None),
            "recipe": self.recipe.to_dict(),
            "network": {"size": self.network_size, **self.network},
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "train_fn": None if self.train_fn is None else getattr(
                self.train_fn, "__qualname__", repr(self.train_fn)
            ),
        }


def _as_outcome(value: Any, seconds: float) -> TrainOutcome:
    """Accept what a user's training function may return."""
    if isinstance(value, TrainOutcome):
        return value
    if isinstance(value, Mapping):
        if "val_accuracy" not in value:
            raise SeminasError("a train_fn's dict must have 'val_accuracy' (percent)")
        return TrainOutcome(
            val_accuracy=float(value["val_accuracy"]),
            test_accuracy=None if value.get("test_accuracy") is None
            else float(value["test_accuracy"]),
            seconds=float(value.get("seconds", seconds)),
            params=None if value.get("params") is None else int(value["params"]),
            history=list(value.get("history", [])),
        )
    if isinstance(value, (int, float)):
        return TrainOutcome(float(value), None, seconds, None, [])
    raise SeminasError(
        f"a train_fn must return a TrainOutcome, a dict with 'val_accuracy' or a number, "
        f"got {type(value).__name__}"
    )
