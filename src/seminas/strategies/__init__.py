"""Search strategies by name. Each shares :class:`~seminas.strategies.base.Strategy`'s interface."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from seminas.errors import SeminasError
from seminas.strategies.base import (
    BudgetExhausted,
    SearchContext,
    SearchResult,
    Strategy,
    Trial,
    run_search,
)

# name -> "module:Class"; imported lazily so `rs` never pays for torch models it does not use
_REGISTRY = {
    "seminas": "seminas.strategies.seminas:SemiNAS",
    "nao": "seminas.strategies.seminas:NAO",
    "re": "seminas.strategies.evolution:RegularizedEvolution",
    "rs": "seminas.strategies.random_search:RandomSearch",
    "gbdt": "seminas.strategies.gbdt:GBDTNAS",
    "semi-gbdt": "seminas.strategies.gbdt:SemiGBDT",
    "weaknas": "seminas.strategies.weaknas:WeakNAS",
}


def strategy_names() -> list[str]:
    return list(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    if name not in _REGISTRY:
        raise SeminasError(
            f"unknown strategy {name!r}: choose from {', '.join(_REGISTRY)}"
        )
    module, cls = _REGISTRY[name].split(":")
    return getattr(import_module(module), cls)


def default_preset(name: str, space: str) -> str | None:
    """The preset a strategy runs with on ``space`` when none is named: its fast settings for
    the space, else its settings named after the space, else its plain defaults (None)."""
    presets = strategy_class(name).presets
    for candidate in (f"fast-{space}", space):
        if candidate in presets:
            return candidate
    return None


def resolve_preset(name: str, preset: str | None, space: str) -> str | None:
    """The preset a strategy runs with when one preset name is given for many strategies: its own
    preset of that name (``fast`` means ``fast-<space>``), else its default for the space."""
    presets = strategy_class(name).presets
    if preset is not None:
        for candidate in (f"{preset}-{space}", preset):
            if candidate in presets and (candidate == preset or preset == "fast"):
                return candidate
    return default_preset(name, space)


def make_strategy(name: str, preset: str | None = None, **overrides: Any) -> Strategy:
    return strategy_class(name).from_preset(preset, **overrides)


__all__ = [
    "BudgetExhausted",
    "SearchContext",
    "SearchResult",
    "Strategy",
    "Trial",
    "default_preset",
    "make_strategy",
    "resolve_preset",
    "run_search",
    "strategy_class",
    "strategy_names",
]
