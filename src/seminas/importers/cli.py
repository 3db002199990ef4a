"""``seminas data import``: the command line of :func:`seminas.importers.import_path`."""

from __future__ import annotations

import argparse
import json
import sys
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


def _progress(quiet: bool):
    """A rich progress bar on stderr when it is a terminal, else none (so that scripts and
    pipes see only the summary, and errors stay one line)."""
    from contextlib import nullcontext

    from seminas.importers import Progress

    if quiet or not sys.stderr.isatty():
        return nullcontext(Progress())
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task: list[Any] = []

    def start(what: str, total: float, unit: str) -> None:
        if task:
            bar.remove_task(task.pop())
        task.append(bar.add_task(what, total=total or None))

    def advance(n: float) -> None:
        if task:
            bar.update(task[0], advance=n)

    class _Ctx:
        def __enter__(self) -> Progress:
            bar.start()
            return Progress(start, advance)

        def __exit__(self, *exc: object) -> None:
            bar.stop()

    return _Ctx()


def cmd_import(args: argparse.Namespace) -> int:
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
    with _progress(args.quiet or args.json) as progress:
        summary = import_path(args.path, name=args.name, progress=progress)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    return 0
