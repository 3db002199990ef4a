"""TFRecord files without TensorFlow.

The official NAS-Bench-101 table is a TFRecord file; depending on TensorFlow just to read it would
be a heavy, fragile dependency, and the framing is simple. Each record is::

    uint64 little-endian  payload length
    uint32 little-endian  masked CRC32C of the 8 length bytes
    payload bytes
    uint32 little-endian  masked CRC32C of the payload

where ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` modulo 2**32. Every checksum is
verified so that a truncated or corrupt download fails loudly (one line, naming the file, the
record and the byte offset) instead of silently producing a wrong table.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import google_crc32c

from seminas.errors import SeminasError

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")
HEADER_BYTES = _LEN.size + _CRC.size  # 12
FOOTER_BYTES = _CRC.size  # 4
_READ_BUFFER = 1 << 20

_FIX = "the file is incomplete or damaged: download it again"


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32C of ``data``, masked as TFRecord stores it (so CRCs of CRCs stay well-spread)."""
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


def encode_record(payload: bytes) -> bytes:
    """One framed record: header, payload, footer."""
    length = _LEN.pack(len(payload))
    return (
        length
        + _CRC.pack(masked_crc32c(length))
        + payload
        + _CRC.pack(masked_crc32c(payload))
    )


def write_tfrecords(path: str | os.PathLike, payloads: Iterable[bytes]) -> int:
    """Write ``payloads`` as a TFRecord file (for fixtures and synthetic tables); returns the
    number of records. The file is written to a temporary name first so a crash never leaves a
    half-written file under the final name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    count = 0
    with open(tmp, "wb") as handle:
        for payload in payloads:
            handle.write(encode_record(bytes(payload)))
            count += 1
    os.replace(tmp, path)
    return count


def iter_tfrecords(
    path: str | os.PathLike,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """Yield each record's payload, verifying both checksums.

    ``on_bytes`` (optional) is called with the number of bytes consumed after each record, so a
    caller can drive a progress bar. Raises :class:`SeminasError` on truncation or a bad CRC.
    """
    path = Path(path)
    try:
        handle = open(path, "rb", buffering=_READ_BUFFER)
    except OSError as exc:
        raise SeminasError(f"cannot open TFRecord file {path}: {exc.strerror or exc}") from exc
    with handle:
        offset = 0
        index = 0
        while True:
            header = handle.read(HEADER_BYTES)
            if not header:
                return
            if len(header) < HEADER_BYTES:
                raise _truncated(path, index, offset, HEADER_BYTES, len(header), "header")
            length_bytes = header[: _LEN.size]
            (length_crc,) = _CRC.unpack_from(header, _LEN.size)
            if masked_crc32c(length_bytes) != length_crc:
                raise SeminasError(
                    f"corrupt TFRecord file {path}: record {index} at byte offset {offset} has a "
                    f"bad length checksum; {_FIX}"
                )
            (length,) = _LEN.unpack(length_bytes)
            body = handle.read(length + FOOTER_BYTES)
            if len(body) < length + FOOTER_BYTES:
                raise _truncated(
                    path, index, offset, HEADER_BYTES + length + FOOTER_BYTES,
                    HEADER_BYTES + len(body), "payload",
                )
            payload = body[:length]
            (data_crc,) = _CRC.unpack_from(body, length)
            if masked_crc32c(payload) != data_crc:
                raise SeminasError(
                    f"corrupt TFRecord file {path}: record {index} at byte offset {offset} has a "
                    f"bad payload checksum; {_FIX}"
                )
            consumed = HEADER_BYTES + length + FOOTER_BYTES
            offset += consumed
            index += 1
            if on_bytes is not None:
                on_bytes(consumed)
            yield payload


def count_tfrecords(path: str | os.PathLike) -> int:
    """Number of records in a file (verifying it)."""
    return sum(1 for _ in iter_tfrecords(path))


def _truncated(path: Path, index: int, offset: int, need: int, have: int, part: str):
    return SeminasError(
        f"truncated TFRecord file {path}: record {index} at byte offset {offset} needs {need} "
        f"bytes for its {part} but the file ends after {have}; {_FIX}"
    )
