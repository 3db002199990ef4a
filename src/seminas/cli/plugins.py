"""``seminas plugins``: what the registries hold, built-in and from installed packages."""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_plugins(args: argparse.Namespace) -> int:
    """What the registries hold: built-ins (``seminas``) and installed packages' entry points."""
    from seminas.registry import describe

    listing = describe()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for group, entries in listing.items():
        print(f"{group}:")
        for e in entries:
            print(f"  {e['name']:<14s} {e['origin']}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``plugins`` on the main parser's subparsers."""
    plugins = sub.add_parser("plugins", help="registered spaces, strategies, evaluators, "
                             "predictors, and the package each comes from")
    plugins.add_argument("--json", action="store_true", help="print the list as JSON")
    plugins.set_defaults(func=cmd_plugins)
