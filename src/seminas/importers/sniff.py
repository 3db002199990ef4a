"""What kind of file the user gave: decided from its first bytes, never from its name alone.

A wrong file (an image, a CSV, a tarball not yet unpacked) gets one line saying what it is and
what ``seminas data import`` reads instead.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from seminas.errors import SeminasError

# torch.save's legacy (pre-1.6) format begins with a protocol-2 pickle of this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
NATS_META = "meta.pickle.pbz2"

READS = (
    "seminas data import reads: NAS-Bench-201 .pth (v1.0, v1.1), NATS-Bench topology "
    ".pickle.pbz2 files and -simple/ or -full/ directories, NASLib nb201_*.pickle files, "
    "NAS-Bench-101 .tfrecord"
)


class WrongKind(SeminasError):
    """A file that is no benchmark file seminas can import."""


def _looks_like_tfrecord(head: bytes) -> bool:
    if len(head) < 12:
        return False
    from seminas.benchmarks.tfrecord import masked_crc32c

    (crc,) = struct.unpack_from("<I", head, 8)
    return masked_crc32c(head[:8]) == crc


def _describe_other(head: bytes, path: Path) -> str:
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip file (unpack it first, e.g. `tar xzf`)"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive (unpack it first: `tar xf FILE`, then import the directory)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file of unknown kind"
    first = text.splitlines()[0] if text.strip() else ""
    if "," in first or "\t" in first:
        return (
            "a text table (CSV), not an official benchmark file (the NAS-Bench-201 CSVs are read "
            "from a data directory: --data-dir)"
        )
    if text.lstrip().startswith(("{", "[")):
        return "a JSON/text file"
    return "a text file"


def sniff(path: Path) -> str:
    """One of ``torch-zip``, ``torch-legacy``, ``bz2``, ``pickle``, ``tfrecord``, ``nats-dir``,
    ``naslib-dir``; :class:`WrongKind` (one line, naming the file) for anything else."""
    if path.is_dir():
        if (path / NATS_META).is_file():
            return "nats-dir"
        if any(p.suffix == ".pickle" for p in path.iterdir() if p.is_file()):
            return "naslib-dir"
        raise WrongKind(
            f"cannot import {path}: the directory is not a NATS-Bench archive (it has no "
            f"{NATS_META}) and holds no NASLib .pickle files; {READS}"
        )
    if not path.exists():
        raise WrongKind(f"cannot import {path}: no such file or directory")
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise WrongKind(f"cannot import {path}: {exc.strerror or exc}") from None
    if not head:
        raise WrongKind(f"cannot import {path}: the file is empty; download it again")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            raise WrongKind(
                f"cannot import {path}: a damaged or truncated zip archive (a torch .pth?); "
                f"download it again"
            ) from None
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            return "torch-zip"
        if "meta.npy" in names and "ops.npy" in names:
            raise WrongKind(
                f"cannot import {path}: it is already a seminas NAS-Bench-201 table, which needs "
                f"no import (imported tables live in the cache directory's nb201/ folder)"
            )
        raise WrongKind(f"cannot import {path}: a zip archive that is not a torch .pth; {READS}")
    if head.startswith(TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if head.startswith(b"BZh"):
        return "bz2"
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    if _looks_like_tfrecord(head):
        return "tfrecord"
    raise WrongKind(f"cannot import {path}: it is {_describe_other(head, path)}; {READS}")
