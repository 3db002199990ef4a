"""``seminas data import``: the official benchmark files people have, turned into seminas tables.

:func:`import_path` recognises the file (or directory) from its content (:mod:`.sniff`), reads
it without running code from it (:mod:`.safe_pickle`, with capped decompression from
:mod:`.streams`), streams its cells into per-cell arrays (:mod:`.readers`, :mod:`.cells`,
:mod:`.arch_results`, :mod:`.naslib`, :mod:`.builder`), and writes a verified NAS-Bench-201
table plus its learning curves into the cache (:mod:`.writer`, :mod:`.curves`), where
:class:`~seminas.benchmarks.nb201.NB201Benchmark` finds it. A NAS-Bench-101 TFRecord is converted
into the cache that :class:`~seminas.benchmarks.nb101.NB101Benchmark` reuses.
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from seminas.errors import SeminasError
from seminas.importers.readers import (
    read_naslib_dir,
    read_nats_dir,
    read_pickle_file,
    read_torch,
)
from seminas.importers.sniff import READS, sniff
from seminas.importers.summary import ImportSummary
from seminas.progress import NO_PROGRESS, Progress

__all__ = ["FORMATS", "ImportSummary", "import_path", "peak_memory_bytes"]

# (what, where to get it, example command): for `seminas data import --list` and the README.
FORMATS: tuple[tuple[str, str, str], ...] = (
    (
        "NAS-Bench-201 v1.1 / v1.0 (.pth)",
        "github.com/D-X-Y/NAS-Bench-201 (NAS-Bench-201-v1_1-096897.pth, v1_0-e61699.pth)",
        "seminas data import NAS-Bench-201-v1_1-096897.pth",
    ),
    (
        "NATS-Bench topology (.pickle.pbz2, -simple/ or -full/ directory)",
        "github.com/D-X-Y/NATS-Bench (NATS-tss-v1_0-3ffb9.pickle.pbz2, -simple.tar unpacked)",
        "seminas data import NATS-tss-v1_0-3ffb9-simple/",
    ),
    (
        "NASLib NAS-Bench-201 (nb201_*_full_training.pickle, or a folder of them)",
        "github.com/automl/NASLib (data README: nb201_cifar10_full_training.pickle ...)",
        "seminas data import nb201_cifar10_full_training.pickle",
    ),
    (
        "NAS-Bench-101 (.tfrecord)",
        "github.com/google-research/nasbench (nasbench_only108.tfrecord, nasbench_full.tfrecord)",
        "seminas data import nasbench_only108.tfrecord",
    ),
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("seminas")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


def peak_memory_bytes() -> int | None:
    """Peak resident memory of this process so far (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def import_path(
    path: str | os.PathLike,
    name: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one official file or directory into the cache and say what it held; reading
    reports to ``progress`` (in bytes or cells), silent by default.

    Raises :class:`SeminasError` (one line naming the file and what is wrong) for anything that
    is not a complete benchmark of a known format; nothing is written to the cache then.
    """
    path = Path(path).expanduser()
    progress = progress or NO_PROGRESS
    if name is not None and not _NAME.match(name):
        raise SeminasError(
            f"--name {name!r}: use letters, digits, '.', '_' or '-' (it names the cache file)"
        )
    started = time.perf_counter()
    kind = sniff(path)
    if kind == "tfrecord":
        return _import_nb101(path, progress, started)
    from seminas.benchmarks.nb201_table import load_embedded
    from seminas.importers.builder import TableBuilder
    from seminas.importers.writer import cache_name, write_import

    builder = TableBuilder(str(path), load_embedded().arch_strings())
    try:
        if kind in ("torch-zip", "torch-legacy"):
            result = read_torch(path, kind, builder, progress)
        elif kind in ("bz2", "pickle"):
            result = read_pickle_file(path, kind, builder, progress)
        elif kind == "nats-dir":
            result = read_nats_dir(path, builder, progress)
        elif kind == "naslib-dir":
            result = read_naslib_dir(path, builder, progress)
        else:  # pragma: no cover - sniff returns only the kinds above
            raise SeminasError(f"cannot import {path}: {READS}")
    finally:
        progress.finish()
    builder.require_complete()
    built = builder.finish()
    stem = name or cache_name(path)
    meta = {
        "source": f"{result.format}: {path.name}",
        "source_files": result.source_files,
        "importer": {
            "format": result.format,
            "seminas_version": _version(),
            "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "seeds": built.seeds,
        "epochs": built.epochs,
        "groups": built.groups,
    }
    _, _, files = write_import(built, stem, meta)
    return ImportSummary(
        path=str(path),
        format=result.format,
        benchmark="nb201",
        cells=len(builder.official),
        groups=built.groups,
        files=files,
        source_files=result.source_files,
        seconds=time.perf_counter() - started,
        peak_memory_bytes=peak_memory_bytes(),
        notes=result.notes,
    )


def _import_nb101(path: Path, progress: Progress, started: float) -> ImportSummary:
    from seminas.benchmarks.nb101 import load_table

    table, cache_path, built = load_table(path, progress=progress)
    groups = []
    for epochs in table.epochs:
        present = ~np.isnan(table.val[epochs])
        per_cell = present.sum(axis=1)
        groups.append(
            {
                "fidelity": int(epochs),
                "dataset": "cifar10",
                "epochs": int(epochs),
                "seeds": [],
                "runs": int(per_cell.sum()),
                "cells": int((per_cell > 0).sum()),
                "runs_per_cell": {
                    str(k): int(v)
                    for k, v in zip(*np.unique(per_cell, return_counts=True), strict=True)
                },
                "metrics": ["valid_acc", "test_acc", "train_time"],
                "curves": [],
            }
        )
    size = path.stat().st_size
    return ImportSummary(
        path=str(path),
        format="NAS-Bench-101 TFRecord",
        benchmark="nb101",
        cells=len(table),
        groups=groups,
        files={"table": str(cache_path), "table_bytes": cache_path.stat().st_size},
        source_files=[{"name": path.name, "bytes": size}],
        seconds=time.perf_counter() - started,
        peak_memory_bytes=peak_memory_bytes(),
        notes=[
            ("converted now" if built else "already converted: the cache was reused")
            + f"; use it with --space nb101 --nb101-file {path}"
        ],
    )
