"""One reader per official layout; each streams its cells into a :class:`TableBuilder`.

- ``.pth`` (NAS-Bench-201 v1.0/v1.1): torch's zip format (``*/data.pkl``) or its legacy format
  (pickled magic number, protocol version and system info, then the data, then tensor storages,
  which these files do not have);
- ``.pickle.pbz2`` (NATS-Bench): one bz2-compressed pickle; ``.pickle`` (NASLib, or an
  uncompressed NATS-Bench file): a plain pickle;
- a NATS-Bench archive directory: ``meta.pickle.pbz2`` and one ``<index>.pickle.pbz2`` per cell;
- a directory of NASLib pickles, merged into one table.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from seminas.data import sha256_of
from seminas.errors import SeminasError
from seminas.importers import arch_results
from seminas.importers.builder import TableBuilder
from seminas.importers.cells import NASLIB, CellCollector, check_meta
from seminas.importers.safe_pickle import RestrictedUnpickler, StreamingUnpickler
from seminas.importers.sniff import NATS_META, WrongKind
from seminas.importers.streams import (
    CappedBZ2Reader,
    CountingReader,
    DecompressionLimit,
    TruncatedFile,
    buffered,
    expansion_limit,
    human_bytes,
)
from seminas.progress import Progress

TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_PROTOCOL = 1001
_CELL_FILE = re.compile(r"^(\d{1,6})\.pickle\.pbz2$")
_PARSE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    RecursionError,
)


@dataclass
class ReadResult:
    format: str
    source_files: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _damaged(source: str, exc: BaseException) -> SeminasError:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, EOFError) or "truncated" in text or "Ran out of input" in text:
        return TruncatedFile(
            f"{source} is truncated: its pickle data ends early; download it again"
        )
    return SeminasError(f"{source} is damaged or not a benchmark pickle ({text[:120]})")


def stream_cells(stream: IO[bytes], source: str, builder: TableBuilder) -> tuple[str, Any]:
    """Unpickle ``stream`` cell by cell into ``builder``; returns ``(layout, declared cells)``."""
    collector = CellCollector(builder, source)
    try:
        top = StreamingUnpickler(stream, source, collector).load()
    except SeminasError:
        raise
    except _PARSE_ERRORS as exc:
        raise _damaged(source, exc) from None
    except MemoryError:
        raise SeminasError(f"{source}: out of memory while reading it") from None
    declared = collector.check_top(top)
    assert collector.layout is not None
    return collector.layout, declared


def _load_small(stream: IO[bytes], source: str) -> Any:
    try:
        return RestrictedUnpickler(stream, source).load()
    except SeminasError:
        raise
    except _PARSE_ERRORS as exc:
        raise _damaged(source, exc) from None
    except MemoryError:
        raise SeminasError(f"{source}: out of memory while reading it") from None


# -- .pth ----------------------------------------------------------------------------------------
def read_torch(path: Path, kind: str, builder: TableBuilder, progress: Progress) -> ReadResult:
    source = str(path)
    size = path.stat().st_size
    progress.start(f"reading {path.name}", size, "bytes")
    builder.start_part(source)
    if kind == "torch-zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SeminasError(
                f"{source} is a damaged zip archive ({exc}); download it again"
            ) from None
        with zf:
            members = [i for i in zf.infolist() if i.filename.endswith("data.pkl")]
            if len(members) != 1:
                raise WrongKind(f"{source}: a zip archive without exactly one data.pkl")
            info = members[0]
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > expansion_limit(
                info.compress_size
            ):
                raise DecompressionLimit(
                    f"{source}: data.pkl claims {human_bytes(info.file_size)} from "
                    f"{human_bytes(info.compress_size)}: not a benchmark file"
                )
            try:
                with zf.open(info) as member:
                    counted = CountingReader(member, progress.advance)
                    layout, declared = stream_cells(buffered(counted), source, builder)
            except (zipfile.BadZipFile, OSError) as exc:
                raise TruncatedFile(
                    f"{source} is truncated or damaged ({exc}); download it again"
                ) from None
        sha = sha256_of(path)
        container = "torch zip format"
    else:
        with open(path, "rb") as raw:
            counted = CountingReader(raw, progress.advance)
            stream = buffered(counted)
            magic = _load_small(stream, source)
            version = _load_small(stream, source)
            _load_small(stream, source)  # system info (endianness, type sizes)
            if magic != TORCH_MAGIC or version != TORCH_PROTOCOL:
                raise WrongKind(f"{source}: not a torch.save file (bad magic number or version)")
            layout, declared = stream_cells(stream, source, builder)
            keys = _load_small(stream, source)  # names of tensor storages that follow
            if not isinstance(keys, list):
                raise SeminasError(f"{source}: damaged after its data (no storage list)")
            sha = counted.sha256()
        container = "torch legacy format"
    if layout == NASLIB:
        raise WrongKind(f"{source}: a .pth holding a NASLib table, which seminas does not expect")
    builder.end_part(declared)
    version_label = _nb201_version(path.name)
    return ReadResult(
        f"NAS-Bench-201 .pth{version_label} ({container})",
        [{"name": path.name, "bytes": size, "sha256": sha}],
    )


def _nb201_version(name: str) -> str:
    if "e61699" in name:
        return " v1.0"
    if "096897" in name:
        return " v1.1"
    return ""


# -- single pickles -------------------------------------------------------------------------------
def read_pickle_file(
    path: Path, kind: str, builder: TableBuilder, progress: Progress
) -> ReadResult:
    """A ``.pickle.pbz2`` (bz2) or plain ``.pickle`` file: NATS-Bench or NASLib."""
    source = str(path)
    size = path.stat().st_size
    progress.start(f"reading {path.name}", size, "bytes")
    builder.start_part(source)
    with open(path, "rb") as raw:
        counted = CountingReader(raw, progress.advance)
        inner: io.RawIOBase = counted
        if kind == "bz2":
            inner = CappedBZ2Reader(counted, source, expansion_limit(size))
        layout, declared = stream_cells(buffered(inner), source, builder)
        sha = counted.sha256()
    builder.end_part(declared)
    if layout == NASLIB:
        fmt = "NASLib NAS-Bench-201 pickle"
    else:
        fmt = "NATS-Bench topology (tss) archive" if kind == "bz2" else "NAS-Bench-201 pickle"
    return ReadResult(fmt, [{"name": path.name, "bytes": size, "sha256": sha}])


# -- NATS-Bench directory ------------------------------------------------------------------------
def _read_bz2_small(path: Path) -> tuple[Any, str, int]:
    source = str(path)
    data = path.read_bytes()
    counted = CountingReader(io.BytesIO(data))
    obj = _load_small(
        buffered(CappedBZ2Reader(counted, source, expansion_limit(len(data)))), source
    )
    return obj, counted.sha256(), len(data)


def read_nats_dir(path: Path, builder: TableBuilder, progress: Progress) -> ReadResult:
    """``NATS-tss-v1_0-3ffb9-simple/`` (or ``-full/``): ``meta.pickle.pbz2`` plus one file per
    cell, ``000123.pickle.pbz2`` (or ``123.pickle.pbz2``)."""
    meta_path = path / NATS_META
    meta, meta_sha, meta_size = _read_bz2_small(meta_path)
    if not isinstance(meta, dict):
        raise SeminasError(f"{meta_path}: not a NATS-Bench meta file (no dict)")
    check_meta(meta, builder, str(meta_path))
    cells: dict[int, Path] = {}
    for entry in path.iterdir():
        m = _CELL_FILE.match(entry.name)
        if m and entry.is_file():
            index = int(m.group(1))
            if index in cells:
                raise SeminasError(f"{path}: cell {index} has two files")
            cells[index] = entry
    builder.start_part(str(path))
    progress.start(f"reading {path.name}", len(cells), "cells")
    listing = [(NATS_META, meta_size, meta_sha)]
    total = meta_size
    for index in sorted(cells):
        file = cells[index]
        obj, sha, size = _read_bz2_small(file)
        where = str(file)
        if not isinstance(obj, dict):
            raise SeminasError(f"{where}: not a NATS-Bench cell file (no dict)")
        got_index, arch, runs = arch_results.cell_of(obj, where)
        if got_index != index:
            raise SeminasError(f"{where}: the file is named for cell {index} but holds {got_index}")
        builder.add_cell(builder.check_index(index, arch, where), runs, where)
        listing.append((file.name, size, sha))
        total += size
        progress.advance(1)
    if not cells:
        raise SeminasError(f"{path} has {NATS_META} but no <index>.pickle.pbz2 cell files")
    builder.end_part()
    digest = hashlib.sha256()
    for name, size, sha in sorted(listing):
        digest.update(f"{name}\0{size}\0{sha}\n".encode())
    return ReadResult(
        "NATS-Bench topology (tss) archive directory",
        [
            {
                "name": path.name + "/",
                "files": len(listing),
                "bytes": total,
                "sha256": digest.hexdigest(),
            }
        ],
        [f"listing digest: sha256 over (name, size, sha256) of its {len(listing)} files"],
    )


def read_naslib_dir(path: Path, builder: TableBuilder, progress: Progress) -> ReadResult:
    """Every NASLib ``*.pickle`` in ``path``, merged (one file per dataset)."""
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".pickle")
    result = ReadResult("NASLib NAS-Bench-201 pickles (merged)")
    for file in files:
        part = read_pickle_file(file, "pickle", builder, progress)
        if not part.format.startswith("NASLib"):
            raise SeminasError(f"{file}: not a NASLib table; import it on its own")
        result.source_files.extend(part.source_files)
    return result
