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

from seminas.progress import Progress
from seminas.study.storage import Storage, StudyError, TrialRow, open_storage

# Config entries that only name things and never change the search.
_NOT_COMPARED = {"preset"}


def evaluator_spec(space: str, **options: Any) -> dict[str, Any]:
    """What a study stores to rebuild its evaluator on create and resume: the space, the
    evaluator kind (``evaluator=``, unless the table) and the options that kind declares, by
    registry name (:func:`seminas.registry.evaluator_spec`), so a plugin's space or evaluator is
    rebuilt exactly like a built-in one."""
    from seminas.registry import evaluator_spec as spec_of

    return spec_of(space, **options)


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


# The order differences are listed in: what decides the search first, a strategy's knobs last.
_DIFF_ORDER = ("strategy", "budget", "seed", "parallelism", "evaluator")
_MAX_LISTED = 4  # differences named in the refusal; the rest are counted


def config_differences(stored: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """``key X in the study, Y now`` for each setting that differs (dotted keys): strategy,
    budget, seed and evaluator first, the strategy's options last. A setting unset (missing or
    null) on both sides is no difference; when the strategy itself differs, its options are not
    listed one by one (they are another strategy's)."""
    a = {k: v for k, v in _flatten(stored).items() if k.split(".")[0] not in _NOT_COMPARED}
    b = {k: v for k, v in _flatten(given).items() if k.split(".")[0] not in _NOT_COMPARED}
    other_strategy = a.get("strategy") != b.get("strategy")

    def rank(key: str) -> tuple[int, str]:
        head = key.split(".")[0]
        return (_DIFF_ORDER.index(head) if head in _DIFF_ORDER else len(_DIFF_ORDER), key)

    out = []
    for key in sorted(set(a) | set(b), key=rank):
        old, new = a.get(key), b.get(key)
        if old == new or (other_strategy and key.startswith("options.")):
            continue
        if key not in a and new == _added_default(key, given):
            continue  # a setting seminas gained after the study was made, at its default
        show_old = "(unset)" if old is None else json.dumps(old)
        show_new = "(unset)" if new is None else json.dumps(new)
        out.append(f"{key} {show_old} in the study, {show_new} now")
    return out


_NO_DEFAULT = object()


def _added_default(key: str, given: Mapping[str, Any]) -> Any:
    """The default of a strategy option or evaluator option ``key`` (dotted) for the given
    config, as a study stores it: what an option added to seminas after a study was made takes,
    so that the old study is not refused for it. ``_NO_DEFAULT`` when there is none."""
    head, _, name = key.partition(".")
    try:
        if head == "options":
            from dataclasses import asdict

            from seminas.strategies import strategy_class

            defaults = asdict(strategy_class(given["strategy"]).Config())
        elif head == "evaluator":
            from seminas.registry import evaluator_spec as spec_of

            spec = given["evaluator"]
            kind = {"evaluator": spec["evaluator"]} if "evaluator" in spec else {}
            defaults = spec_of(spec["space"], **kind)
        else:
            return _NO_DEFAULT
    except Exception:  # an unknown strategy or space: nothing to excuse
        return _NO_DEFAULT
    value = json.loads(json.dumps(defaults)).get(name, _NO_DEFAULT)
    return value


def _listed(diffs: list[str]) -> str:
    shown = "; ".join(diffs[:_MAX_LISTED])
    more = len(diffs) - _MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


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
    def open(cls, path: str | Path, read_only: bool = False) -> Study:
        """An existing study; one clear :class:`StudyError` for anything else. ``read_only``
        never writes to it (and works on a read-only file, folder or file system)."""
        storage = open_storage(path, read_only=read_only)
        try:
            return cls(storage)
        except BaseException:
            storage.close()
            raise

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
        ``journal`` is the SQLite journal of a new file (see
        :class:`~seminas.study.storage.SQLiteStorage`).
        """
        # gathered before the file is created (it imports torch), so that the file is not
        # seen for long without its study
        facts = {**environment(), **dict(info or {})}
        storage = open_storage(path, create=True, journal=journal)
        try:
            created = storage.create(config, facts)
            study = cls(storage)
            if not created:
                diffs = config_differences(study.config, config)
                if diffs:
                    raise StudyError(
                        f"study {storage.location} was created with another config: "
                        f"{_listed(diffs)}. Continue it with `seminas resume "
                        f"{storage.location}`, or pick a new --study file"
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

    def evaluator(self, data_dir: str | None = None, progress: Progress | None = None) -> Any:
        """The evaluator the config describes, reading data from ``data_dir`` (this machine's);
        first-time work (converting a table) reports to ``progress``."""
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
