"""Converting the official NAS-Bench-101 file once: ~1.27M TFRecord rows (three training runs
per cell and epoch budget) into the compact table cached under :func:`seminas.data.cache_dir`,
so that later loads take seconds. An unreadable or outdated cache is rebuilt, never trusted."""

from __future__ import annotations

import os
import zipfile
from array import array
from pathlib import Path

import numpy as np

from seminas.benchmarks.nb101.schema import HEX32, PAD_LABEL, RUNS, cell_of, padded, split_row
from seminas.benchmarks.nb101.table import NB101Table, cache_path_for
from seminas.benchmarks.tfrecord import iter_tfrecords
from seminas.errors import SeminasError
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.nb101 import MAX_VERTICES

_REPORT_BYTES = 1 << 20  # progress is reported about once per MiB read
_REDOWNLOAD = "the file is not the official NAS-Bench-101 table or is damaged: download it again"


def convert_tfrecord(path: str | os.PathLike, progress: Progress | None = None) -> NB101Table:
    """Parse the official file (every record, checksums verified), reporting the bytes read to
    ``progress``: the records stream into flat per-record arrays, then scatter into per-cell
    arrays (far less memory than per-cell Python objects for 1.27M records)."""
    path = Path(path)
    progress = progress or NO_PROGRESS
    progress.start(f"converting {path.name} (once)", path.stat().st_size, "bytes")
    try:
        return _convert(path, progress)
    finally:
        progress.finish()


def _convert(path: Path, progress: Progress) -> NB101Table:
    index: dict[str, int] = {}
    hashes: list[str] = []
    adjacency = bytearray()
    ops = array("b")
    params = array("q")
    rec_row, rec_epoch = array("l"), array("l")
    rec_val, rec_test, rec_time = array("d"), array("d"), array("d")
    pending = 0

    def on_bytes(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= _REPORT_BYTES:
            progress.advance(pending)
            pending = 0

    for k, payload in enumerate(iter_tfrecords(path, on_bytes)):
        try:
            module_hash, epochs, raw_adjacency, raw_ops, metrics = split_row(payload)
            row = index.get(module_hash)
            if row is None:
                if not HEX32.fullmatch(module_hash):
                    raise ValueError(f"module hash {module_hash!r} is not 32 hex digits")
                flat, labels = cell_of(raw_adjacency, raw_ops)
                n = len(labels)
                row = len(hashes)
                index[module_hash] = row
                hashes.append(module_hash.lower())
                adjacency += padded(flat, n)
                ops.extend(labels + [PAD_LABEL] * (MAX_VERTICES - n))
                params.append(int(metrics.trainable_parameters))
            final = metrics.evaluation_data[-1]
        except Exception as exc:  # JSON, base64, protobuf and shape errors alike
            detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise SeminasError(
                f"cannot parse record {k} of {path} as a NAS-Bench-101 row ({detail}); "
                f"{_REDOWNLOAD}"
            ) from exc
        rec_row.append(row)
        rec_epoch.append(epochs)
        rec_val.append(final.validation_accuracy)
        rec_test.append(final.test_accuracy)
        rec_time.append(final.training_time)
    if pending:
        progress.advance(pending)
    if not hashes:
        raise SeminasError(f"{path} holds no records; {_REDOWNLOAD}")

    names = np.asarray(hashes, dtype="S32")
    order = np.argsort(names, kind="stable")
    n_cells = len(names)
    new_row = np.empty(n_cells, dtype=np.int64)
    new_row[order] = np.arange(n_cells)
    rows = new_row[np.frombuffer(rec_row, dtype=rec_row.typecode)]
    epochs_arr = np.frombuffer(rec_epoch, dtype=rec_epoch.typecode)
    columns = {
        "val": np.frombuffer(rec_val, dtype=np.float64),
        "test": np.frombuffer(rec_test, dtype=np.float64),
        "time": np.frombuffer(rec_time, dtype=np.float64),
    }
    per_epoch: dict[str, dict[int, np.ndarray]] = {"val": {}, "test": {}, "time": {}}
    for e in np.unique(epochs_arr).tolist():
        picked = np.flatnonzero(epochs_arr == e)
        sorter = np.argsort(rows[picked], kind="stable")  # keeps the file's run order
        which = picked[sorter]
        r = rows[which]
        slot = np.arange(len(r)) - np.searchsorted(r, r, side="left")
        if slot.max() >= RUNS:
            bad = names[order][r[int(np.argmax(slot))]].decode()
            raise SeminasError(
                f"{path} has more than {RUNS} runs of cell {bad} at {e} epochs; {_REDOWNLOAD}"
            )
        for key, values in columns.items():
            table = np.full((n_cells, RUNS), np.nan)
            table[r, slot] = values[which]
            per_epoch[key][int(e)] = table
    return NB101Table(
        hashes=names[order],
        adjacency=np.frombuffer(bytes(adjacency), dtype=np.uint8)
        .reshape(n_cells, MAX_VERTICES, MAX_VERTICES)[order],
        ops=np.frombuffer(ops, dtype=np.int8).reshape(n_cells, MAX_VERTICES)[order],
        params=np.frombuffer(params, dtype=np.int64)[order],
        val=per_epoch["val"],
        test=per_epoch["test"],
        time=per_epoch["time"],
    )


def load_table(
    path: str | os.PathLike, progress: Progress | None = None
) -> tuple[NB101Table, Path, bool]:
    """The table of ``path``: from its cache when one exists, else converted (reporting to
    ``progress``) and cached.

    Returns ``(table, cache_path, built)``, ``built`` telling whether the file was parsed now.
    An unreadable or outdated cache is rebuilt rather than trusted.
    """
    path = Path(path)
    target = cache_path_for(path)
    if target.is_file():
        try:
            return NB101Table.load(target), target, False
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # damaged or from an older version: rebuild below
    table = convert_tfrecord(path, progress)
    try:
        table.save(target, source=str(path))
    except OSError as exc:
        raise SeminasError(
            f"cannot write the NAS-Bench-101 cache {target}: {exc.strerror or exc}; "
            f"set $SEMINAS_CACHE to a writable directory"
        ) from exc
    return table, target, True
