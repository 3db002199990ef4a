"""Command-line option parsing shared by every ``seminas`` subcommand."""

from __future__ import annotations

import json
from typing import Any

from seminas.errors import SeminasError


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as a dict; VALUE is read as JSON when it parses, else a string."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SeminasError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
