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


def make_strategy(name: str, preset: str | None = None, **overrides: Any) -> Strategy:
    return strategy_class(name).from_preset(preset, **overrides)


__all__ = [
    "BudgetExhausted",
    "SearchContext",
    "SearchResult",
    "Strategy",
    "Trial",
    "make_strategy",
    "run_search",
    "strategy_class",
    "strategy_names",
]
