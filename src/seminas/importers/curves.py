"""The learning-curves file that sits beside an imported NAS-Bench-201 table.

Per-epoch, per-seed curves of all 15,625 cells are hundreds of MB (the official v1.1 file: about
230 MB of float32), far too much to load with the table on every search. They go to
``<table>.curves``: a zip of *uncompressed* ``.npy`` members (readable with ``np.load``), so a
reader can memory-map one array and touch only the rows it is asked for. The table's metadata
records the file's name, size and member list; each member's CRC-32 is verified the first time
it is opened, so a damaged file is caught before a curve is returned.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError

FORMAT_VERSION = 1
CURVES_SUFFIX = ".curves"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header, 30 bytes


class CurvesFileError(SeminasError):
    """A curves file that is missing, damaged or does not match its table."""


def write_curves(path: Path, curves: dict[str, np.ndarray], meta: dict[str, Any]) -> int:
    """Write ``curves`` to ``path`` (the caller renames it into place); returns its size."""
    header = {**meta, "format_version": FORMAT_VERSION, "arrays": {}}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(curves):
            arr = np.ascontiguousarray(curves[name])
            header["arrays"][name] = [list(arr.shape), arr.dtype.str]
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, arr, allow_pickle=False)
        info = zipfile.ZipInfo("meta.json", date_time=_FIXED_TIME)
        zf.writestr(info, json.dumps(header, sort_keys=True))
    return path.stat().st_size


class CurvesFile:
    """Read access to one curves file: ``get(name)`` is a read-only memory map."""

    def __init__(self, path: str | os.PathLike, expected_size: int | None = None) -> None:
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise CurvesFileError(
                f"the learning curves of this table are missing ({self.path}): import the "
                f"official file again (`seminas data import FILE`)"
            ) from None
        if expected_size is not None and size != expected_size:
            raise CurvesFileError(
                f"{self.path} has {size} bytes, its table expects {expected_size}: the file is "
                f"damaged or from another import; import the official file again"
            )
        try:
            with zipfile.ZipFile(self.path) as zf:
                self._infos = {
                    i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")
                }
                self.meta = json.loads(zf.read("meta.json"))
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise CurvesFileError(
                f"{self.path} is unreadable ({exc.__class__.__name__}): import "
                f"the official file again"
            ) from None
        self._maps: dict[str, np.ndarray] = {}

    def names(self) -> list[str]:
        return sorted(self._infos)

    def get(self, name: str) -> np.ndarray:
        """The array ``name`` (``(cells, seeds, epochs)``), memory-mapped and CRC-checked."""
        if name in self._maps:
            return self._maps[name]
        info = self._infos.get(name)
        if info is None:
            raise CurvesFileError(
                f"{self.path} has no curve {name!r}; it has {', '.join(self.names())}"
            )
        if info.compress_type != zipfile.ZIP_STORED:
            raise CurvesFileError(f"{self.path}: curve {name} is compressed; import again")
        with open(self.path, "rb") as handle:
            handle.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
            if fields[0] != b"PK\x03\x04":
                raise CurvesFileError(f"{self.path}: bad zip entry for {name}; import again")
            start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
            handle.seek(start)
            crc = 0
            left = info.file_size
            while left > 0:
                block = handle.read(min(left, 1 << 22))
                if not block:
                    break
                crc = zlib.crc32(block, crc)
                left -= len(block)
            if left or crc != info.CRC:
                raise CurvesFileError(
                    f"{self.path}: curve {name} fails its checksum: the file is damaged; import "
                    f"the official file again"
                )
            handle.seek(start)
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise CurvesFileError(f"{self.path}: curve {name} has .npy version {version}")
            offset = handle.tell()
        if dtype.hasobject:
            raise CurvesFileError(f"{self.path}: curve {name} is not numeric")
        arr = np.memmap(
            self.path,
            dtype=dtype,
            mode="r",
            offset=offset,
            shape=shape,
            order="F" if fortran else "C",
        )
        self._maps[name] = arr
        return arr
