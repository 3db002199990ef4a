"""What a bench runs: one :class:`RunSpec` per (variant, seed), checked before any run starts.

A spec is a small frozen value that pickles, so it crosses to a worker process or a Ray task as
the payload of one job, and its ``config_key`` (everything but the seed and the data location)
plus the seed identify its line in ``results.jsonl``: what makes a bench resumable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.bench.tables import bench_table_options, normalise_space
from seminas.experiments.seeds import parse_seeds
from seminas.options import SEED_MAX


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything that determines one search run; picklable so it can cross to a worker."""

    space: str
    dataset: str
    fidelity: int = 200
    data_dir: str | None = None
    strategy: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: int
    seed: int
    label: str | None = None  # a variant's name in tables and plots (not part of config_key)

    @property
    def method(self) -> str:
        """Human label of the configuration: strategy, preset and overrides (not the budget)."""
        if self.label:
            return self.label
        label = self.strategy if self.preset is None else f"{self.strategy}[{self.preset}]"
        extra = " ".join(f"{k}={canonical_json(v)}" for k, v in sorted(self.overrides.items()))
        return f"{label} {extra}" if extra else label

    @property
    def config_key(self) -> str:
        """Identity of the configuration without the seed (data location excluded)."""
        return config_key_of(asdict(self))

    def benchmark_key(self) -> tuple[str, str, int]:
        return (self.space, self.dataset, int(self.fidelity))

    def describe(self) -> str:
        """One line naming the run, for messages."""
        return (f"{self.method} budget={self.budget} seed={self.seed} on "
                f"{self.space}/{self.dataset}")


def config_key_of(line: Mapping[str, Any]) -> str:
    """The configuration key of a spec or results line (all spec fields except seed, data_dir)."""
    parts = [f"{line['space']}:{line['dataset']}:{int(line['fidelity'])}ep", str(line["strategy"])]
    if line.get("preset") is not None:
        parts.append(f"preset={line['preset']}")
    parts.extend(
        f"{k}={canonical_json(v)}" for k, v in sorted((line.get("overrides") or {}).items())
    )
    parts.append(f"budget={int(line['budget'])}")
    return " ".join(parts)


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON: one text per value, for keys and labels."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=json_default)


def json_default(obj: Any) -> Any:
    """JSON for the NumPy values and paths that results carry (NaN stays NaN, unlike the
    store's: a results line keeps exactly what the search returned)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def resolve_preset(strategy: str, preset: str | None, space: str = "nb201") -> str | None:
    """The preset a strategy runs with when one ``--preset`` (or none) is given for all: its own
    preset of that name, else its default for the space (see
    :func:`seminas.strategies.resolve_preset`)."""
    from seminas.strategies import resolve_preset as resolve

    return resolve(strategy, preset, space)


def make_specs(
    space: str,
    dataset: str | None,
    strategies: Sequence[str] | str,
    budget: int,
    seeds: Sequence[int] | str,
    *,
    fidelity: int | None = None,
    data_dir: str | os.PathLike | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RunSpec]:
    """Specs for strategies x seeds, checked here (names, preset, options, budget) so a typo is
    one clear error before any worker starts rather than one failure per run."""
    from seminas.experiments.plan import Variant, variants_from
    from seminas.registry import space_entry
    from seminas.strategies import make_strategy, strategy_class

    space = normalise_space(space)
    variants = variants_from(strategies)
    strategies = list(dict.fromkeys(v.strategy for v in variants))
    if isinstance(seeds, str):
        seeds = parse_seeds(seeds)
    if not seeds:
        raise SeminasError("no seeds given: e.g. --seeds 0-9")
    if int(budget) < 1:
        raise SeminasError(f"budget must be at least 1 query, got {budget}")
    if any(int(s) < 0 for s in seeds):
        raise SeminasError("seeds must be non-negative integers")
    if max(int(s) for s in seeds) > SEED_MAX:
        raise SeminasError(f"seeds must be at most {SEED_MAX} (2**32 - 1), got {max(seeds)}")
    space_entry(space).make_space().check_budget(int(budget))  # before any run
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(strategies))
    if unknown:
        raise SeminasError(f"overrides given for strategies not in the bench: {', '.join(unknown)}")
    table = bench_table_options(space, dataset, fidelity)  # one clear error before any run
    dataset = str(table.get("dataset", "default" if dataset is None else dataset))
    fidelity = int(
        table.get("fidelity", table.get("epochs", 200 if fidelity is None else fidelity))
    )
    presets = {name: resolve_preset(name, preset, space) for name in strategies}
    named = {
        name for name in strategies
        if preset is not None and presets[name] in (preset, f"{preset}-{space}")
    }
    if preset is not None and not named:
        available = sorted({p for n in strategies for p in strategy_class(n).presets})
        raise SeminasError(
            f"no strategy in the bench has a preset {preset!r} "
            f"(available: {', '.join(available) or 'none'})"
        )
    resolved: list[tuple[Variant, str | None, dict[str, Any]]] = []
    seen: set[str] = set()
    for v in variants:
        v_preset = v.preset if v.preset is not None else presets[v.strategy]
        v_overrides = {**dict(overrides.get(v.strategy, {})), **dict(v.overrides)}
        make_strategy(v.strategy, v_preset, **v_overrides)  # one clear error per bad option
        key = canonical_json([v.strategy, v_preset, v_overrides])
        if key in seen:
            continue
        seen.add(key)
        resolved.append((v, v_preset, v_overrides))
    dd = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
    return [
        RunSpec(
            space=space,
            dataset=dataset,
            fidelity=int(fidelity),
            data_dir=dd,
            strategy=v.strategy,
            preset=v_preset,
            overrides=v_overrides,
            budget=int(budget),
            seed=int(seed),
            label=v.label,
        )
        for v, v_preset, v_overrides in resolved
        for seed in seeds
    ]
