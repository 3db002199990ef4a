"""``seminas space nb101 enumerate|hash``: search-space utilities."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seminas.cli.input import Parser
from seminas.errors import SeminasError


def cmd_nb101_enumerate(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.spaces.nb101_enum import load_or_build

    with progress_for(args.quiet) as progress:
        enum = load_or_build(args.cache, progress=progress)
    print(f"{len(enum)} unique cells")
    print(f"cache: {enum.path}")
    return 0


def cmd_nb101_hash(args: argparse.Namespace) -> int:
    from seminas.spaces.nb101 import NB101Space

    path = Path(args.file)
    try:
        items = json.loads(path.read_text())
    except FileNotFoundError:
        raise SeminasError(f"no such file {path}: give a JSON list of cells") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeminasError(
            f"cannot read {path} as JSON ({exc.__class__.__name__}): it must be a JSON list of "
            f'{{"matrix": [[...]], "ops": [...]}} or {{"matrix": ..., "labels": ...}}'
        ) from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise SeminasError(f"{path} must hold a JSON list of cells, got {type(items).__name__}")
    space = NB101Space()
    for i, item in enumerate(items):
        try:
            print(space.arch_id(space.from_native(item)))
        except SeminasError as exc:
            raise SeminasError(f"{path}: cell {i}: {exc}") from None
    return 0


def add_parser(sub: Any) -> None:
    """Register ``space`` and its commands on the main parser's subparsers."""
    space = sub.add_parser("space", help="search-space utilities")
    space_sub = space.add_subparsers(dest="space", required=True, parser_class=Parser)
    nb101 = space_sub.add_parser("nb101", help="NAS-Bench-101 cell space")
    nb101_sub = nb101.add_subparsers(dest="nb101_command", required=True, parser_class=Parser)
    enum = nb101_sub.add_parser("enumerate", help="build (once) and cache all 423,624 cells")
    enum.add_argument("--cache", help="cache file (default: in the seminas cache directory)")
    enum.add_argument("--quiet", action="store_true")
    enum.set_defaults(func=cmd_nb101_enumerate)
    hsh = nb101_sub.add_parser("hash", help="official module hash of each cell in a JSON file")
    hsh.add_argument("file", help='JSON list of {"matrix", "ops"} or {"matrix", "labels"}')
    hsh.set_defaults(func=cmd_nb101_hash)
