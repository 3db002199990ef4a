"""Writing an import into the cache: both files appear complete, or not at all.

The table (``<cache>/nb201/<name>.npz``, the :class:`NB201Table` format) and its learning curves
(``<name>.curves``) are written under temporary names and renamed into place only when both are
complete, curves first, so an interrupted or failed import leaves nothing behind (and never a
table whose curves are missing).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from seminas.benchmarks.nb201_table import NB201Table, imported_dir, load_embedded
from seminas.errors import SeminasError
from seminas.importers.builder import Built
from seminas.importers.curves import CURVES_SUFFIX, write_curves

_SUFFIXES = (".pickle.pbz2", ".pbz2", ".pickle", ".pth", ".pkl")


def cache_name(source: Path) -> str:
    """A file-name stem for the import of ``source``: its name without the format suffix."""
    name = source.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "nb201-import"
    return name


def _temp(directory: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    os.close(fd)
    return Path(tmp)


def write_import(built: Built, name: str, meta: dict[str, Any]) -> tuple[Path, Path | None, dict]:
    """Write the table (and its curves file, if any) into the cache; returns
    ``(table path, curves path or None, file info)``."""
    directory = imported_dir()
    table_path = directory / f"{name}.npz"
    curves_path = directory / f"{name}{CURVES_SUFFIX}" if built.curves else None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeminasError(
            f"cannot create the cache directory {directory}: {exc.strerror or exc}; set "
            f"$SEMINAS_CACHE to a writable directory"
        ) from None
    meta = dict(meta)
    temps: list[Path] = []
    try:
        if curves_path is not None:
            tmp_curves = _temp(directory, curves_path.name)
            temps.append(tmp_curves)
            size = write_curves(
                tmp_curves, built.curves, {"table": table_path.name, "seeds": built.seeds}
            )
            meta["curves"] = {
                "file": curves_path.name,
                "size": size,
                "arrays": {
                    k: [list(v.shape), v.dtype.str] for k, v in sorted(built.curves.items())
                },
            }
        else:
            meta["curves"] = None
        data = NB201Table(load_embedded().ops, built.arrays, meta).to_bytes()
        tmp_table = _temp(directory, table_path.name)
        temps.append(tmp_table)
        with open(tmp_table, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # Both files are complete: rename them into place, curves first, so that a table never
        # points at curves that are not there yet.
        for tmp in temps:
            os.chmod(tmp, 0o644)
        if curves_path is not None:
            os.replace(temps[0], curves_path)
        os.replace(tmp_table, table_path)
        temps.clear()
    except OSError as exc:
        raise SeminasError(
            f"cannot write the imported table to {directory}: {exc.strerror or exc}; set "
            f"$SEMINAS_CACHE to a writable directory with enough space"
        ) from None
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    info = {
        "table": str(table_path),
        "table_bytes": table_path.stat().st_size,
        "table_sha256": hashlib.sha256(data).hexdigest(),
        "curves": None if curves_path is None else str(curves_path),
        "curves_bytes": None if curves_path is None else curves_path.stat().st_size,
    }
    return table_path, curves_path, info
