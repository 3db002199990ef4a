"""A study: one search's config and everything it produced, kept in a :class:`Storage`.

The config is what makes a search reproducible -- strategy and its resolved options, budget,
seed, and how to rebuild the evaluator (never the data directory, which differs between
machines). A search started again on an existing study must bring the same config; the
refusal names every difference, so the user knows whether to ``resume`` or choose a new file.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.study.storage import SQLiteStorage, Storage, StudyError, TrialRow

# Evaluator options that matter per space (the rest of the CLI's options are ignored there).
_EVALUATOR_KEYS = {
    "nb201": ("dataset", "fidelity"),
    "nb101": ("nb101_file", "epochs", "seed"),
}
# The defaults of make_evaluator, for options not given.
_EVALUATOR_DEFAULTS = {
    "dataset": "cifar10",
    "fidelity": 200,
    "nb101_file": None,
    "epochs": 108,
    "seed": 0,
}
# The training evaluator (``evaluator: train``): the same keys for every space.
_TRAIN_KEYS = ("evaluator", "data", "epochs", "seed", "network", "channels", "cells")
_TRAIN_DEFAULTS = {
    "evaluator": "train",
    "data": "cifar10-10k",
    "epochs": 2,
    "seed": 0,
    "network": "cpu",
    "channels": None,
    "cells": None,
}
# Config entries that only name things and never change the search.
_NOT_COMPARED = {"preset"}


def evaluator_spec(space: str, **options: Any) -> dict[str, Any]:
    """The options of :func:`seminas.benchmarks.factory.make_evaluator` a study stores."""
    if space not in _EVALUATOR_KEYS:
        raise SeminasError(f"unknown search space {space!r}: choose nb201 or nb101")
    spec: dict[str, Any] = {"space": space}
    kind = options.get("evaluator") or "table"
    if kind == "train":
        for key in _TRAIN_KEYS:
            value = options.get(key)
            spec[key] = _TRAIN_DEFAULTS[key] if value is None else value
        return spec
    if kind != "table":
        raise SeminasError(f"unknown evaluator {kind!r}: choose table or train")
    for key in _EVALUATOR_KEYS[space]:
        value = options.get(key, _EVALUATOR_DEFAULTS[key])
        if key == "nb101_file" and value is not None:
            value = str(value)
        spec[key] = value
    return spec


def make_config(
    strategy: Any,
    evaluator: Mapping[str, Any],
    budget: int,
    seed: int,
    preset: str | None = None,
    parallelism: int = 1,
) -> dict[str, Any]:
    """A study config from a strategy object, an :func:`evaluator_spec`, budget and seed.

    ``parallelism`` (the number of workers) is kept when above 1: strategies that fill every
    worker (evolution) propose differently with more workers, so a resume must use as many.
    """
    config = {
        "strategy": strategy.name,
        "preset": preset,
        "options": strategy.config_dict(),
        "budget": int(budget),
        "seed": int(seed),
        "evaluator": dict(evaluator),
    }
    if int(parallelism) > 1:
        config["parallelism"] = int(parallelism)
    return json.loads(json.dumps(config))  # exactly what the file will give back


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def config_differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """``key: stored -> given`` for each setting that differs (dotted keys, sorted)."""
    a = {k: v for k, v in _flatten(stored).items() if k.split(".")[0] not in _NOT_COMPARED}
    b = {k: v for k, v in _flatten(given).items() if k.split(".")[0] not in _NOT_COMPARED}
    missing = object()
    out = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key, missing), b.get(key, missing)
        if old != new:
            show_old = "(unset)" if old is missing else json.dumps(old)
            show_new = "(unset)" if new is missing else json.dumps(new)
            out.append(f"{key} {show_old} in the study, {show_new} now")
    return out


def environment() -> dict[str, Any]:
    """Versions that can change floating-point results (recorded, never compared)."""
    import numpy
    import torch

    try:
        from importlib.metadata import version

        seminas_version = version("seminas")
    except Exception:  # not installed as a distribution
        seminas_version = "unknown"
    return {
        "seminas": seminas_version,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


class Study:
    """A study file opened for use: its config plus convenient views of what it holds."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.config = storage.config()
        self.info = storage.info()

    @property
    def location(self) -> str:
        return self.storage.location

    @property
    def budget(self) -> int:
        return int(self.config["budget"])

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def parallelism(self) -> int:
        """Workers the search was configured for (1 unless it ran on an executor)."""
        return int(self.config.get("parallelism", 1))

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Study:
        """An existing study; one clear :class:`StudyError` for anything else."""
        return cls(SQLiteStorage(path))

    @classmethod
    def create_or_open(
        cls,
        path: str | Path,
        config: dict[str, Any],
        info: Mapping[str, Any] | None = None,
        journal: str = "wal",
    ) -> tuple[Study, bool]:
        """Create the study, or open it if it exists with the same config.

        Returns ``(study, created)``. A different config is refused, naming the differences.
        ``journal`` is the SQLite journal of a new file (see :class:`SQLiteStorage`).
        """
        storage = SQLiteStorage(path, create=True, journal=journal)
        try:
            created = storage.create(config, {**environment(), **dict(info or {})})
            study = cls(storage)
            if not created:
                diffs = config_differences(study.config, config)
                if diffs:
                    raise StudyError(
                        f"study {path} was created with another config: {'; '.join(diffs)}. "
                        f"Continue it with `seminas resume {path}`, or pick a new --study file"
                    )
        except BaseException:
            storage.close()
            raise
        return study, created

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building the search -------------------------------------------------------------------
    def strategy(self) -> Any:
        from seminas.strategies import make_strategy

        return make_strategy(self.config["strategy"], None, **self.config["options"])

    def evaluator(self, data_dir: str | None = None, progress: bool = False) -> Any:
        """The evaluator the config describes, reading data from ``data_dir`` (this machine's)."""
        from seminas.benchmarks.factory import make_evaluator

        spec = dict(self.config["evaluator"])
        return make_evaluator(data_dir=data_dir, progress=progress, **spec)

    # -- views ---------------------------------------------------------------------------------
    def done(self) -> list[TrialRow]:
        return self.storage.trials("done")

    def complete(self) -> bool:
        return bool(self.storage.get_state("complete", False))

    def best(self, top: int = 1) -> list[TrialRow]:
        """The best finished trials by search metric (the earliest wins ties)."""
        done = self.done()
        order = sorted(done, key=lambda t: (-float(t.search_metric), t.number))
        return order[: max(0, int(top))]

    def result(self) -> Any:
        """A :class:`~seminas.strategies.SearchResult` of the finished trials, in query order."""
        from seminas.strategies import SearchResult, Trial

        trials = [
            Trial(
                number=t.number,
                arch_id=t.arch_id,
                arch=t.arch,
                search_metric=float(t.search_metric),
                report_metric=t.report_metric,
                cost_seconds=t.cost_seconds,
                iteration=t.iteration,
                predicted=t.predicted,
            )
            for t in self.done()
        ]
        return SearchResult(
            strategy=self.config["strategy"],
            config=self.config["options"],
            seed=self.seed,
            budget=self.budget,
            evaluator=self.info.get("evaluator", self.config["evaluator"]),
            trials=trials,
            wall_seconds=float(sum(self.storage.phase_seconds(["search"]).values())),
            diagnostics=self.storage.get_state("diagnostics", {}) or {},
        )
