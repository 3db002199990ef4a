"""Byte streams for importing: capped decompression, hashing while reading, progress.

A ``.pickle.pbz2`` of a few hundred bytes can expand to terabytes (a decompression bomb), so every
decompressed stream is read through :class:`CappedBZ2Reader`, which stops at a limit derived from
the compressed size (:func:`expansion_limit`) before the data can fill memory or disk. A file that
ends inside its compressed stream is reported as truncated instead of as a confusing pickle error.
"""

from __future__ import annotations

import bz2
import hashlib
import io
from collections.abc import Callable
from typing import BinaryIO

from seminas.errors import SeminasError

MiB = 1 << 20
GiB = 1 << 30
# Benchmark pickles compress 3-10x with bz2 (one NATS-Bench cell: 326 KB -> 84 KB). 100x leaves a
# wide margin; the floor keeps tiny files workable and the ceiling bounds the worst case.
MAX_RATIO = 100
MIN_LIMIT = 64 * MiB
MAX_LIMIT = 32 * GiB
_CHUNK = 1 * MiB


class DecompressionLimit(SeminasError):
    """A compressed stream expanded past its limit: not a benchmark file."""


class TruncatedFile(SeminasError):
    """A file that ends before its data does."""


def expansion_limit(compressed_bytes: int) -> int:
    """How many decompressed bytes a compressed file of this size may produce."""
    return int(min(MAX_LIMIT, max(MIN_LIMIT, MAX_RATIO * compressed_bytes)))


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


class CountingReader(io.RawIOBase):
    """Reads ``raw`` sequentially, hashing (sha256) and counting the bytes it passes on, and
    calling ``on_bytes(n)`` every few MB (progress bars)."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.count = 0
        self._pending = 0
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self._digest.update(view)
            self.count += n
            self._pending += n
            if self._on_bytes is not None and self._pending >= 4 * MiB:
                self._on_bytes(self._pending)
                self._pending = 0
        return n or 0

    def sha256(self) -> str:
        """The digest of the whole file: reads (and hashes) whatever was not consumed yet."""
        while block := self._raw.read(_CHUNK):
            self._digest.update(block)
            self.count += len(block)
            self._pending += len(block)
        if self._on_bytes is not None and self._pending:
            self._on_bytes(self._pending)
            self._pending = 0
        return self._digest.hexdigest()


class CappedBZ2Reader(io.RawIOBase):
    """Decompresses a (possibly multi-stream) bz2 file, refusing to produce more than ``limit``
    bytes and reporting a stream cut short as :class:`TruncatedFile`."""

    def __init__(self, raw: BinaryIO, source: str, limit: int) -> None:
        self._raw = raw
        self._source = source
        self._limit = limit
        self._dec = bz2.BZ2Decompressor()
        self._buf = b""
        self._out = 0
        self._started = False

    def readable(self) -> bool:
        return True

    def _fill(self, want: int) -> None:
        while len(self._buf) < want:
            if self._dec.eof:
                rest = self._dec.unused_data
                if not rest:
                    rest = self._raw.read(_CHUNK)
                    if not rest:
                        return  # clean end of the last stream
                self._dec = bz2.BZ2Decompressor()
                data = rest
            elif self._dec.needs_input:
                data = self._raw.read(_CHUNK)
                if not data:
                    if not self._started:
                        return
                    raise TruncatedFile(
                        f"{self._source} is truncated: it ends inside its bz2-compressed data "
                        f"(after {human_bytes(self._out)} decompressed); download it again"
                    )
            else:
                data = b""
            self._started = True
            try:
                chunk = self._dec.decompress(data, max_length=_CHUNK)
            except OSError as exc:
                raise SeminasError(
                    f"{self._source}: its bz2 data is corrupt ({exc}); download it again"
                ) from None
            self._out += len(chunk)
            if self._out > self._limit:
                raise DecompressionLimit(
                    f"{self._source} expands past {human_bytes(self._limit)} "
                    f"(over {MAX_RATIO}x its size): not a benchmark archive (a decompression "
                    f"bomb?); stopped there, nothing was imported"
                )
            self._buf += chunk

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = len(buffer)
        if len(self._buf) < want:
            self._fill(want)
        n = min(want, len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def buffered(raw: io.RawIOBase) -> io.BufferedReader:
    """A buffered reader over ``raw`` (the unpicklers read a few bytes at a time)."""
    return io.BufferedReader(raw, buffer_size=_CHUNK)
