"""Search strategies by name. Each shares :class:`~seminas.strategies.base.Strategy`'s interface."""

from __future__ import annotations

from typing import Any

from seminas.registry import register_strategy, strategy_class, strategy_names
from seminas.strategies.base import (
    BudgetExhausted,
    SearchContext,
    SearchResult,
    Strategy,
    Trial,
    run_search,
)

# strategy_names() lists the built-ins, then installed plugins' (entry point group
# "seminas.strategies"); strategy_class(name) imports one lazily, so that `rs` never pays for
# torch models it does not use. See seminas.registry.


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
    "register_strategy",
    "resolve_preset",
    "run_search",
    "strategy_class",
    "strategy_names",
]
