"""``seminas data where`` and ``seminas data check``: what data seminas can see, and from where.

``where`` prints the search order of :mod:`seminas.data` with this machine's paths. ``check``
lists every source it knows: the NAS-Bench-201 table shipped with seminas (verified against its
manifest), tables under the cache directory (NAS-Bench-201 imports are verified, other caches are
named), the known files of the data directories (sha256 against the data README's), and official
benchmark files lying in a data directory. It ends with one line per benchmark: where it comes
from, or what to get and the command to run. Exit status 2 when a file fails its checksum (one
line on stderr naming it), else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seminas.cli.input import Parser
from seminas.data import (
    ENV_VAR,
    KNOWN_FILES,
    NB101_OFFICIAL_FILES,
    available_benchmarks,
    cache_dir,
    check_files,
    checkout_root,
    search_dirs,
    sha256_of,
)

# Official NAS-Bench-201 files users may have (names as published); `seminas data import` reads
# them. Listed by `data check` when they lie in a data directory.
NB201_OFFICIAL_PATTERNS = (
    "NAS-Bench-201-v1_*.pth",
    "NATS-tss-v1_0-3ffb9*.pickle.pbz2",
    "NATS-tss-v1_0-3ffb9*-simple",
    "nb201_*_full_training.pickle",
)
NB201_RICHER_HINT = (
    "for per-seed values and learning curves get NAS-Bench-201-v1_1-096897.pth (or NATS-Bench's "
    "NATS-tss-v1_0-3ffb9-simple) and run `seminas data import FILE`"
)
NB101_MISSING_HINT = (
    "get nasbench_only108.tfrecord from github.com/google-research/nasbench and run "
    "`seminas data import FILE`, or put it in {dir}/nasbench101/ (or pass --nb101-file FILE)"
)
_MAX_CACHE_FILES = 200


@dataclass(frozen=True)
class Source:
    """One row of ``seminas data check``."""

    kind: str  # "embedded", "cache", "file", "official"
    name: str  # file name or relative path
    path: Path | None
    holds: str
    status: str  # "ok", "missing", "checksum mismatch", "unreadable", "found", ...
    sha256: str | None = None
    where: str = ""  # which search directory

    @property
    def bad(self) -> bool:
        return self.status in ("checksum mismatch", "corrupt")


def order_lines(explicit: str | os.PathLike | None = None) -> list[str]:
    """The search order, one line per place, with this machine's paths."""
    from seminas.benchmarks.nb201_table import embedded_table_path, imported_dir

    def state(path: Path) -> str:
        return "present" if path.exists() else "absent"

    lines = []
    dirs = search_dirs(explicit)
    n = 0

    def add(label: str, path: Path | str, note: str) -> None:
        nonlocal n
        n += 1
        lines.append(f"{n}. {label:<16} {path}  {note}")

    if explicit is not None:
        given = dirs[0].path
        add("--data-dir", given, f"[{state(given)}] given: the only place read")
        for label in (f"${ENV_VAR}", "user data dir", "imported tables", "source checkout"):
            add(label, "-", "(skipped: --data-dir given)")
        add("embedded table", "-", "(skipped: --data-dir given)")
        return lines
    add("--data-dir", "-", "(not given)")
    env = os.environ.get(ENV_VAR)
    if env:
        add(f"${ENV_VAR}", dirs[0].path, f"[{state(dirs[0].path)}]")
    else:
        add(f"${ENV_VAR}", "-", "(not set)")
    user = next(d for d in dirs if d.origin == "user data dir")
    add("user data dir", user.path, f"[{state(user.path)}]")
    imp = imported_dir()
    add("imported tables", imp, f"[{state(imp)}] NAS-Bench-201 tables from `seminas data import`")
    checkout = next((d for d in dirs if d.origin == "source checkout"), None)
    if checkout is not None:
        add("source checkout", checkout.path, "[present] development convenience")
    elif checkout_root() is not None:
        add("source checkout", checkout_root() / ".." / "shared" / "data", "[absent]")
    else:
        add("source checkout", "-", "(not running from a source checkout)")
    emb = embedded_table_path()
    add("embedded table", emb, f"[{state(emb)}] NAS-Bench-201 only, shipped with seminas")
    return lines


def cmd_where(args: argparse.Namespace) -> int:
    print("Data is looked for in this order; the first place that has a benchmark's files wins:")
    for line in order_lines(args.data_dir):
        print(line)
    print(f"cache directory: {cache_dir()}  ($SEMINAS_CACHE moves it)")
    return 0


# -- inventory ----------------------------------------------------------------------------------
def embedded_source() -> Source:
    """The shipped table, checked against ``_data/MANIFEST.json``."""
    from seminas.benchmarks.nb201_table import (
        NB201Table,
        NB201TableError,
        describe_keys,
        embedded_manifest,
        embedded_table_path,
    )

    path = embedded_table_path()
    if not path.is_file():
        return Source("embedded", path.name, path, "NAS-Bench-201 table", "missing")
    digest = sha256_of(path)
    expected = embedded_manifest().get(path.name, {}).get("sha256")
    holds = "NAS-Bench-201 table shipped with seminas"
    if expected is not None and digest != expected:
        return Source("embedded", path.name, path, holds, "checksum mismatch", digest)
    try:
        table = NB201Table.load(path)
    except NB201TableError:
        return Source("embedded", path.name, path, holds, "corrupt", digest)
    holds = f"{holds}, {len(table.ops):,} cells; {describe_keys(table.keys())}"
    return Source("embedded", path.name, path, holds, "ok", digest)


def cache_sources() -> list[Source]:
    """Every ``.npz`` under the cache directory: NAS-Bench-201 tables verified, others named."""
    from seminas.benchmarks.nb201_table import (
        NB201Table,
        NB201TableError,
        describe_keys,
        imported_dir,
        read_meta,
    )

    root = cache_dir()
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.rglob("*.npz"))[:_MAX_CACHE_FILES]:
        rel = str(path.relative_to(root))
        try:
            meta = read_meta(path)
        except NB201TableError as exc:
            if path.parent == imported_dir():  # where tables must be usable: a problem
                holds = f"{exc}; re-run `seminas data import` on the original file, or delete it"
                out.append(Source("cache", rel, path, holds, "corrupt"))
            else:
                status = "listed" if zipfile.is_zipfile(path) else "unreadable"
                out.append(Source("cache", rel, path, _other_cache(path), status))
            continue
        digest = sha256_of(path)
        origin = meta.get("source", "unknown source")
        try:
            table = NB201Table.load(path)
        except NB201TableError as exc:
            status = "checksum mismatch" if "checksum mismatch" in str(exc) else "corrupt"
            out.append(Source("cache", rel, path, f"NAS-Bench-201 table from {origin}", status))
            continue
        holds = f"NAS-Bench-201 table from {origin}: {describe_keys(table.keys())}"
        out.append(Source("cache", rel, path, holds, "ok", digest))
    return out


def _other_cache(path: Path) -> str:
    if path.parent.name == "nb101":
        return "NAS-Bench-101 official table, converted (rebuilt from its .tfrecord when needed)"
    if path.name.startswith("nb101-enumeration"):
        return "NAS-Bench-101 enumeration of all 423,624 cells"
    return "seminas cache file"


def file_sources(explicit: str | os.PathLike | None) -> list[Source]:
    """The known files of the data directories (first copy in the search order)."""
    what = {k.relpath: k.what for k in KNOWN_FILES}
    what.update({rel: "official NAS-Bench-101 table (TFRecord)" for rel in NB101_OFFICIAL_FILES})
    out = []
    for st in check_files(explicit):
        kind = "official" if st.relpath in NB101_OFFICIAL_FILES else "file"
        status = "found" if st.status == "ok (not checksummed)" else st.status
        out.append(
            Source(kind, st.relpath, st.path, what[st.relpath], status, st.sha256, st.origin or "")
        )
    return out


def official_nb201_sources(explicit: str | os.PathLike | None) -> list[Source]:
    """Official NAS-Bench-201 files lying in a data directory (to import)."""
    out = []
    for entry in search_dirs(explicit):
        for base in (entry.path, entry.path / "nasbench201"):
            if not base.is_dir():
                continue
            for pattern in NB201_OFFICIAL_PATTERNS:
                for path in sorted(base.glob(pattern)):
                    holds = "official NAS-Bench-201 / NATS-Bench file: `seminas data import` it"
                    src = Source("official", path.name, path, holds, "found", None, entry.origin)
                    out.append(src)
    return out


def cmd_check(args: argparse.Namespace) -> int:
    from seminas.benchmarks.nb201 import find_source, required_keys

    explicit = args.data_dir
    sources: list[Source] = [embedded_source(), *cache_sources()]
    sources.extend(file_sources(explicit))
    sources.extend(official_nb201_sources(explicit))

    print("Sources (search order: `seminas data where`)")
    for src in sources:
        where = f"  [{src.where}]" if src.where else ""
        location = src.path if src.path is not None else src.name
        print(f"{src.kind:<9} {src.status:<18} {location}{where}")
        print(f"{'':<28}{src.holds}")
        if src.sha256 is not None:
            print(f"{'':<28}sha256 {src.sha256}")

    print()
    print("Benchmarks")
    files = check_files(explicit)
    avail = available_benchmarks(files)
    first_dir = search_dirs(explicit)[0].path
    for name, fidelity in (("nb201", 200), ("nb201-12ep", 12)):
        try:
            src = find_source(explicit, required_keys("cifar10", fidelity))
            line = f"available: {src.describe()}"
            if src.kind != "imported" and name == "nb201":
                line += f"; {NB201_RICHER_HINT}"
        except Exception as exc:  # noqa: BLE001 - reported, not raised: check goes on
            line = f"not usable: {exc}"
        print(f"{name:<13} {line}")
    for name in ("nb101", "nb101-subset", "cifar10-10k"):
        if avail.get(name):
            found = [st for st in files if st.benchmark == name and st.path is not None]
            print(f"{name:<13} available: {found[0].path.parent if found else ''}")
        elif name == "nb101":
            print(f"{name:<13} not available: {NB101_MISSING_HINT.format(dir=first_dir)}")
        else:
            missing = [st.relpath for st in files if st.benchmark == name and st.status != "ok"]
            print(
                f"{name:<13} not available: {', '.join(missing)} missing or damaged; get them "
                f"(see the data README) into {first_dir}, or point --data-dir / ${ENV_VAR} at them"
            )

    bad = [src for src in sources if src.bad]
    if bad:
        names = ", ".join(str(src.path or src.name) for src in bad)
        print(
            f"error: checksum mismatch in {names}: restore the file(s) (reinstall seminas for the "
            f"embedded table, re-run `seminas data import` for an imported one)",
            file=sys.stderr,
        )
        return 2
    return 0


# -- parser -------------------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    """Register ``data`` and its commands (check, where, import) on the main parser's
    subparsers."""
    from seminas.cli import data_import

    data = sub.add_parser("data", help="check the benchmark data files")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    check = data_sub.add_parser(
        "check", help="every data source, its checksum, and what to do for a missing benchmark"
    )
    check.set_defaults(func=cmd_check)
    where = data_sub.add_parser("where", help="the places data is looked for, in search order")
    where.set_defaults(func=cmd_where)
    data_import.add_parser(data_sub)  # `seminas data import FILE-or-DIR`
