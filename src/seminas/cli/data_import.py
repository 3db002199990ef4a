"""``seminas data import``: the command line of :func:`seminas.importers.import_path`."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(data_sub: Any) -> None:
    """Add ``import`` to the ``seminas data`` subcommands."""
    imp = data_sub.add_parser(
        "import",
        help="convert an official benchmark file (NAS-Bench-201 .pth, NATS-Bench, NASLib, "
        "NAS-Bench-101 .tfrecord) into the seminas cache, once",
        description="Convert an official benchmark file or directory into the seminas cache "
        "(reading it without running code from it) and say what it holds. Formats: "
        "NAS-Bench-201 .pth v1.0/v1.1; NATS-Bench topology .pickle.pbz2 and its -simple/ or "
        "-full/ directory; NASLib nb201_*.pickle (or a directory of them); NAS-Bench-101 "
        ".tfrecord. `--list` shows where to get each and what is imported already.",
    )
    imp.add_argument("path", nargs="?", help="the official file or directory")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.add_argument(
        "--name", help="name of the imported table in the cache (default: from the file name)"
    )
    imp.add_argument(
        "--list",
        action="store_true",
        help="the formats it reads, where to get them, and the tables imported so far",
    )
    imp.set_defaults(func=cmd_import)


def _listing() -> dict[str, Any]:
    from seminas.benchmarks.nb201_table import NB201TableError, imported_tables, read_meta
    from seminas.importers import FORMATS

    tables = []
    for path in imported_tables():
        try:
            meta = read_meta(path)
            tables.append(
                {
                    "path": str(path),
                    "source": meta.get("source"),
                    "bytes": path.stat().st_size,
                    "curves": bool(meta.get("curves")),
                }
            )
        except NB201TableError as exc:
            tables.append({"path": str(path), "error": str(exc)})
    return {
        "formats": [{"what": w, "where": src, "command": cmd} for w, src, cmd in FORMATS],
        "imported": tables,
    }


def _print_listing(listing: dict[str, Any]) -> None:
    print("formats seminas data import reads:")
    for f in listing["formats"]:
        print(f"  {f['what']}\n    get it from {f['where']}\n    $ {f['command']}")
    print("imported NAS-Bench-201 tables:" if listing["imported"] else "no imported tables yet")
    for t in listing["imported"]:
        print(f"  {t['path']}: {t.get('source') or t.get('error')}")


def cmd_import(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.errors import SeminasError
    from seminas.importers import import_path

    if args.list:
        listing = _listing()
        if args.json:
            print(json.dumps(listing, indent=2))
        else:
            _print_listing(listing)
        return 0
    if not args.path:
        raise SeminasError(
            "data import needs a FILE or DIR (see `seminas data import --list` for the formats)"
        )
    with progress_for(args.quiet or args.json, transient=True) as progress:
        summary = import_path(args.path, name=args.name, progress=progress)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    return 0
