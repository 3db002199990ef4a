"""One results store for every experiment: append-only, fsynced, versioned, resumable.

A bench, a predictor study and the MobileNet pipeline all run many independent units of work
(a run, a grid cell, a stage) and must never lose a finished one. They share this store:

- **Append-only, durable.** :meth:`ResultsStore.append` writes one JSON line and fsyncs it before
  returning, so a unit that has been appended survives a ``kill -9`` or a power cut.
- **Versioned.** A new file starts with a header line ``{"seminas_results": VERSION, "kind":
  KIND}``; a file of another kind or a newer version is refused in one line. Files written before
  the header existed (no header) are read as version 1 of the kind asked for.
- **Resumable.** :meth:`ResultsStore.read` returns the finished records, first one per key; a
  broken *last* line (a write cut short) is dropped and, with ``repair``, removed from the file
  so later appends stay well-formed. A broken line elsewhere means the file was edited: an error.
- **Atomic rewrites only.** :meth:`ResultsStore.rewrite` writes a temporary file, fsyncs it and
  renames it over the old one, so a kill at any moment leaves either the old or the new file.
- **One writer.** :meth:`ResultsStore.exclusive` holds an advisory lock for a whole run.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError

FORMAT_VERSION = 1
HEADER_KEY = "seminas_results"


class StoreWarning(UserWarning):
    """Something in a results file was repaired (a truncated last line)."""


def json_default(obj: Any) -> Any:
    """JSON for the NumPy scalars and arrays that results carry."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        value = float(obj)
        return None if math.isnan(value) else value
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in a results file")


def json_line(record: Mapping[str, Any]) -> str:
    """One record as one compact JSON line."""
    return json.dumps(record, separators=(",", ":"), default=json_default) + "\n"


def fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (best effort where directories cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically: readers see the old file or the new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_directory(path.parent)
    return path


class ResultsStore:
    """A JSON-lines file of finished records of one ``kind``, keyed by ``key(record)``.

    ``valid(record)`` says whether a parsed line is a record of this kind (it may raise
    ``KeyError``/``TypeError``/``ValueError``, read as "no").
    """

    def __init__(
        self,
        path: str | os.PathLike,
        kind: str,
        key: Callable[[Mapping[str, Any]], Hashable],
        valid: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        self._key = key
        self._valid = valid

    # -- reading ------------------------------------------------------------------------------
    def _is_record(self, line: Any) -> bool:
        if not isinstance(line, dict):
            return False
        try:
            self._key(line)
            return True if self._valid is None else bool(self._valid(line))
        except (KeyError, TypeError, ValueError):
            return False

    def _check_header(self, header: Mapping[str, Any]) -> None:
        version = header.get(HEADER_KEY)
        kind = header.get("kind")
        if kind != self.kind:
            raise SeminasError(
                f"{self.path} holds {kind!r} results, not {self.kind!r}: use another output path"
            )
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise SeminasError(
                f"{self.path} is results format {version!r}, newer than this seminas reads "
                f"({FORMAT_VERSION}): upgrade seminas"
            )

    def read(self, repair: bool = False) -> list[dict[str, Any]]:
        """The finished records, first one per key (see the module docstring)."""
        if not self.path.exists():
            return []
        if not self.path.is_file():
            raise SeminasError(
                f"{self.path} is not a file: it should be a results file; move it away or use "
                f"another output path"
            )
        raw = self.path.read_bytes()
        chunks = raw.split(b"\n")
        if chunks and chunks[-1] == b"":
            chunks.pop()
        records: list[dict[str, Any]] = []
        seen: set[Hashable] = set()
        header: dict[str, Any] | None = None
        needs_rewrite = bool(raw) and not raw.endswith(b"\n")
        for number, chunk in enumerate(chunks, start=1):
            if not chunk.strip():
                needs_rewrite = True
                continue
            try:
                line = json.loads(chunk.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                line = None
            if number == 1 and isinstance(line, dict) and HEADER_KEY in line:
                self._check_header(line)
                header = line
                continue
            if not self._is_record(line):
                if number == len(chunks):
                    warnings.warn(
                        f"{self.path}: ignoring the truncated last line {number} (a run was "
                        f"probably interrupted while writing it); that unit will be redone",
                        StoreWarning,
                        stacklevel=2,
                    )
                    needs_rewrite = True
                    continue
                raise SeminasError(
                    f"{self.path}: line {number} is not a {self.kind} result; fix or remove it"
                )
            key = self._key(line)
            if key in seen:
                continue
            seen.add(key)
            records.append(line)
        if repair and needs_rewrite:
            self.rewrite(records, header=header is not None or not records)
        return records

    def keys(self) -> set[Hashable]:
        return {self._key(r) for r in self.read()}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.read())

    # -- writing ------------------------------------------------------------------------------
    def header_line(self) -> str:
        return json_line({HEADER_KEY: FORMAT_VERSION, "kind": self.kind})

    def check_writable(self) -> None:
        """One clear error, before any work starts, when the file cannot be written."""
        parent = self.path.parent
        if not parent.is_dir():
            raise SeminasError(f"cannot write {self.path}: directory {parent} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise SeminasError(
                f"{self.path} is not a file: it should be a results file; move it away or use "
                f"another output path"
            )
        if not os.access(parent, os.W_OK) or (
            self.path.exists() and not os.access(self.path, os.W_OK)
        ):
            raise SeminasError(f"cannot write {self.path}: permission denied")

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record durably (a new file gets the header first)."""
        if not self._is_record(dict(record)):
            raise SeminasError(f"not a {self.kind} record: {sorted(record)}")
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", encoding="utf-8") as handle:
            if new:
                handle.write(self.header_line())
            handle.write(json_line(record))
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            fsync_directory(self.path.parent)

    def rewrite(self, records: Iterable[Mapping[str, Any]], header: bool = True) -> None:
        """Replace the whole file atomically with ``records``."""
        text = (self.header_line() if header else "") + "".join(json_line(r) for r in records)
        atomic_write_text(self.path, text)

    @contextmanager
    def exclusive(self, what: str = "run") -> Iterator[None]:
        """Refuse a second writer of the same file at the same time (POSIX advisory lock)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                raise SeminasError(
                    f"another {what} is writing to {self.path}; wait for it or use another output"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
