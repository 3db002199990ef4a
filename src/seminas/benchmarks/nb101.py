"""NAS-Bench-101 as tabular benchmarks: the official table and the shipped 20k-cell subset.

The official file (``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``, brought by the
user) is a TFRecord file whose records are JSON rows
``[module_hash, epochs, adjacency, ops, base64 ModelMetrics]``, three rows (training runs) per cell
and epoch budget. Parsing ~1.27M records takes a while, so it is converted once into a compact
NumPy ``.npz`` cache (no pickles) under :func:`seminas.data.cache_dir`; later loads take seconds.

Query semantics follow the official API: a charged :meth:`NB101Benchmark.query` returns the
validation accuracy of ONE of the three runs, drawn from a seeded generator (repeated queries of a
cell can differ), and the mean test accuracy of the three 108-epoch runs as the report metric.
Inside a search the run is drawn from a generator seeded by (seed, query number), so a query
gives the same answer in any process and after any resume.
:meth:`~NB101Benchmark.lookup` (free, for analysis) averages the three runs instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import zipfile
from array import array
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seminas.benchmarks.base import Record, TabularBenchmark
from seminas.benchmarks.tfrecord import iter_tfrecords
from seminas.data import (
    NB101_OFFICIAL_FILES,
    NB101_OFFICIAL_HINT,
    cache_dir,
    find_file,
    known_file,
    missing_file_error,
    require_file,
)
from seminas.errors import SeminasError, UnknownArchitectureError
from seminas.spaces.nb101 import (
    CONV1X1,
    CONV3X3,
    INPUT,
    MAX_VERTICES,
    MAXPOOL3X3,
    OUTPUT,
    NB101Space,
    NB101Spec,
    make_spec,
    spec_from_labels,
)

RUNS = 3  # training runs per cell and epoch budget in the official table
EPOCH_BUDGETS = (4, 12, 36, 108)  # nasbench_full has all four; nasbench_only108 only 108
REPORT_EPOCHS = 108
OP_LABELS = {INPUT: -1, OUTPUT: -2, CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2}
LABEL_OPS = {v: k for k, v in OP_LABELS.items()}
PAD_LABEL = -3  # op label of the unused vertices of a cell with fewer than 7 vertices
CACHE_FORMAT = 1  # bump when the cache layout changes so old caches are rebuilt
_SAMPLE_BYTES = 1 << 20  # how much of the file's head and tail goes into the cache key
_PROGRESS_MIN_BYTES = 16 << 20  # show a progress bar for files at least this large (auto mode)
_REDOWNLOAD = "the file is not the official NAS-Bench-101 table or is damaged: download it again"


# -- the ModelMetrics protobuf, built at runtime --------------------------------------------------
@lru_cache(maxsize=1)
def model_metrics_classes() -> tuple[type, type]:
    """``(ModelMetrics, EvaluationData)`` message classes, built from a descriptor at runtime so
    the project needs neither protoc nor a generated ``_pb2`` module. Field numbers and types
    match the official ``model_metrics.proto`` (proto2), which is all the wire format depends on.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="seminas/nb101_model_metrics.proto", package="seminas.nb101", syntax="proto2"
    )
    evaluation = proto.message_type.add(name="EvaluationData")
    for number, (name, kind) in enumerate(
        (
            ("current_epoch", field.TYPE_DOUBLE),
            ("training_time", field.TYPE_DOUBLE),
            ("train_accuracy", field.TYPE_DOUBLE),
            ("validation_accuracy", field.TYPE_DOUBLE),
            ("test_accuracy", field.TYPE_DOUBLE),
            ("checkpoint_path", field.TYPE_STRING),
        ),
        start=1,
    ):
        evaluation.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    metrics = proto.message_type.add(name="ModelMetrics")
    metrics.field.add(
        name="evaluation_data",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=".seminas.nb101.EvaluationData",
        label=field.LABEL_REPEATED,
    )
    metrics.field.add(
        name="trainable_parameters", number=2, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL
    )
    metrics.field.add(
        name="total_time", number=3, type=field.TYPE_DOUBLE, label=field.LABEL_OPTIONAL
    )
    # A private pool, so an installed copy of the official proto can never clash with ours.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(proto.SerializeToString())
    classes = []
    for name in ("seminas.nb101.ModelMetrics", "seminas.nb101.EvaluationData"):
        desc = pool.FindMessageTypeByName(name)
        try:
            classes.append(message_factory.GetMessageClass(desc))
        except AttributeError:  # protobuf < 4.24
            classes.append(message_factory.MessageFactory(pool).GetPrototype(desc))
    return classes[0], classes[1]


# -- one JSON row ---------------------------------------------------------------------------------
def encode_row(
    module_hash: str, epochs: int, matrix: Any, ops: list[str] | tuple[str, ...], metrics: Any
) -> bytes:
    """The payload of one official record (used to write fixtures and synthetic tables)."""
    mat = np.asarray(matrix, dtype=np.int64)
    adjacency = "".join(str(int(x)) for x in mat.reshape(-1))
    encoded = base64.b64encode(metrics.SerializeToString()).decode("ascii")
    return json.dumps([module_hash, int(epochs), adjacency, ",".join(ops), encoded]).encode()


def parse_row(payload: bytes) -> tuple[str, int, np.ndarray, list[str], Any]:
    """Decode one record: ``(module_hash, epochs, matrix, ops, ModelMetrics)``.

    Raises ValueError (or a protobuf DecodeError) when the payload is not a NAS-Bench-101 row;
    callers turn that into a one-line :class:`SeminasError` naming the record.
    """
    module_hash, epochs, raw_adjacency, raw_ops, metrics = _split_row(payload)
    flat, labels = _cell(raw_adjacency, raw_ops)
    n = len(labels)
    matrix = np.frombuffer(flat, dtype=np.uint8).reshape(n, n).astype(np.int64)
    return module_hash, epochs, matrix, raw_ops.split(","), metrics


def _split_row(payload: bytes) -> tuple[str, int, str, str, Any]:
    """The row's fields with the metrics decoded; the cell itself is parsed only when new."""
    module_hash, epochs, raw_adjacency, raw_ops, raw_metrics = json.loads(payload.decode())
    if not isinstance(module_hash, str) or len(module_hash) != 32:
        raise ValueError(f"module hash {module_hash!r} is not 32 hex digits")
    model_metrics, _ = model_metrics_classes()
    metrics = model_metrics.FromString(binascii.a2b_base64(raw_metrics))
    if not metrics.evaluation_data:
        raise ValueError("the training run has no evaluation data")
    return module_hash, int(epochs), raw_adjacency, raw_ops, metrics


_HEX32 = re.compile("[0-9a-f]{32}")
_DIGITS = bytes.maketrans(b"01", b"\x00\x01")


def _cell(raw_adjacency: str, raw_ops: str) -> tuple[bytes, list[int]]:
    """The flattened 0/1 matrix as bytes and the op labels, checked for shape."""
    flat = raw_adjacency.encode("ascii").translate(_DIGITS)
    n = int(round(len(flat) ** 0.5))
    if n * n != len(flat) or not 2 <= n <= MAX_VERTICES or flat.strip(b"\x00\x01"):
        raise ValueError(f"adjacency {raw_adjacency!r} is not a flattened 0/1 square matrix")
    ops = raw_ops.split(",")
    if len(ops) != n:
        raise ValueError(f"{n} vertices but {len(ops)} ops")
    try:
        labels = [OP_LABELS[op] for op in ops]
    except KeyError as exc:
        raise ValueError(f"unknown operation {exc.args[0]!r}") from None
    return flat, labels


def _padded(flat: bytes, n: int) -> bytes:
    """An n x n flattened matrix padded to 7 x 7 (zeros right and below)."""
    pad = bytes(MAX_VERTICES - n)
    rows = b"".join(flat[i * n : (i + 1) * n] + pad for i in range(n))
    return rows + bytes(MAX_VERTICES * (MAX_VERTICES - n))


# -- the converted table --------------------------------------------------------------------------
class NB101Table:
    """The official table as arrays, one row per cell, sorted by module hash.

    ``hashes`` is ``S32`` (searchsorted gives O(log n) lookups without building a 423k-entry
    dict); ``adjacency`` is the cell's matrix padded to 7x7 (uint8); ``ops`` its op labels
    (-1 input, -2 output, 0 conv3x3, 1 conv1x1, 2 maxpool, :data:`PAD_LABEL` unused), ``params``
    the trainable parameters; ``val``/``test``/``time`` map an epoch budget to ``[cells, 3]``
    arrays of the final validation and test accuracy (fractions) and training time (s) of each
    run, NaN where a run is absent.
    """

    def __init__(
        self,
        hashes: np.ndarray,
        adjacency: np.ndarray,
        ops: np.ndarray,
        params: np.ndarray,
        val: dict[int, np.ndarray],
        test: dict[int, np.ndarray],
        time: dict[int, np.ndarray],
    ) -> None:
        self.hashes = hashes
        self.adjacency = adjacency
        self.ops = ops
        self.params = params
        self.val = val
        self.test = test
        self.time = time

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(sorted(self.val))

    def __len__(self) -> int:
        return len(self.hashes)

    def row_of(self, module_hash: str) -> int | None:
        """Row of a module hash, or None when the table does not have it."""
        try:
            key = module_hash.strip().lower().encode("ascii")
        except (AttributeError, UnicodeEncodeError):
            return None
        i = int(np.searchsorted(self.hashes, key))
        if i < len(self.hashes) and self.hashes[i] == key:
            return i
        return None

    def hash_at(self, row: int) -> str:
        return self.hashes[row].decode("ascii")

    def spec_at(self, row: int) -> NB101Spec:
        labels = self.ops[row]
        n = int(np.count_nonzero(labels != PAD_LABEL))
        return make_spec(
            self.adjacency[row, :n, :n], [LABEL_OPS[int(x)] for x in labels[:n]]
        )

    # -- cache file --------------------------------------------------------------------------
    def save(self, path: Path, source: str) -> None:
        """Write the cache atomically (temporary file, then rename) so that an interrupted
        conversion never leaves a half-written cache behind."""
        arrays: dict[str, np.ndarray] = {
            "format": np.asarray(CACHE_FORMAT),
            "source": np.asarray(source),
            "hashes": self.hashes,
            "adjacency": self.adjacency,
            "ops": self.ops,
            "params": self.params,
            "epochs": np.asarray(self.epochs, dtype=np.int64),
        }
        for e in self.epochs:
            arrays[f"val_{e}"] = self.val[e]
            arrays[f"test_{e}"] = self.test[e]
            arrays[f"time_{e}"] = self.time[e]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> NB101Table:
        """Read a cache written by :meth:`save`; raises ValueError/OSError if it is unusable."""
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != CACHE_FORMAT:
                raise ValueError("old cache format")
            epochs = [int(e) for e in z["epochs"]]
            return cls(
                hashes=z["hashes"],
                adjacency=z["adjacency"],
                ops=z["ops"],
                params=z["params"],
                val={e: z[f"val_{e}"] for e in epochs},
                test={e: z[f"test_{e}"] for e in epochs},
                time={e: z[f"time_{e}"] for e in epochs},
            )

    @classmethod
    def from_tfrecord(cls, path: Path, progress: bool | None = None) -> NB101Table:
        """Parse the official file (every record, checksums verified)."""
        size = path.stat().st_size
        show = size >= _PROGRESS_MIN_BYTES if progress is None else progress
        if not show:
            return _convert(path, None)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(f"converting {path.name} (once)", total=size)
            return _convert(path, lambda n: bar.update(task, advance=n))


def _convert(path: Path, advance) -> NB101Table:
    """Stream the records into flat per-record arrays, then scatter them into per-cell arrays
    (far less memory than per-cell Python objects for 1.27M records)."""
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
        if pending >= _SAMPLE_BYTES:
            advance(pending)
            pending = 0

    for k, payload in enumerate(iter_tfrecords(path, on_bytes if advance else None)):
        try:
            module_hash, epochs, raw_adjacency, raw_ops, metrics = _split_row(payload)
            row = index.get(module_hash)
            if row is None:
                if not _HEX32.fullmatch(module_hash):
                    raise ValueError(f"module hash {module_hash!r} is not 32 hex digits")
                flat, labels = _cell(raw_adjacency, raw_ops)
                n = len(labels)
                row = len(hashes)
                index[module_hash] = row
                hashes.append(module_hash.lower())
                adjacency += _padded(flat, n)
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
    if advance is not None and pending:
        advance(pending)
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


def cache_key(path: str | os.PathLike) -> str:
    """Identity of the file's content: size plus its first and last MiB. Cheap even for 500 MB,
    survives copies and ``touch``, and changes when a download is truncated or replaced."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(f"nb101-cache-v{CACHE_FORMAT}:{size}:".encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_SAMPLE_BYTES))
        if size > _SAMPLE_BYTES:
            handle.seek(max(_SAMPLE_BYTES, size - _SAMPLE_BYTES))
            digest.update(handle.read())
    return digest.hexdigest()


def cache_path_for(path: str | os.PathLike) -> Path:
    """Where the converted cache of ``path`` lives."""
    path = Path(path)
    return cache_dir() / "nb101" / f"{path.stem}-{cache_key(path)[:24]}.npz"


def load_table(
    path: str | os.PathLike, progress: bool | None = None
) -> tuple[NB101Table, Path, bool]:
    """The table of ``path``: from its cache when one exists, else converted and cached.

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
    table = NB101Table.from_tfrecord(path, progress)
    try:
        table.save(target, source=str(path))
    except OSError as exc:
        raise SeminasError(
            f"cannot write the NAS-Bench-101 cache {target}: {exc.strerror or exc}; "
            f"set $SEMINAS_CACHE to a writable directory"
        ) from exc
    return table, target, True


def resolve_official_file(
    path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
) -> Path:
    """The official table to use: ``path`` if given, else whichever of the two official files
    is in the data directory (only108 preferred: same 108-epoch numbers, a quarter the size)."""
    what = "the official NAS-Bench-101 table (TFRecord)"
    if path is not None:
        given = Path(path).expanduser()
        if given.is_dir():  # not "missing": the name is taken by a directory
            raise SeminasError(
                f"--nb101-file {given} is a directory: give the official table file itself "
                f"({' or '.join(Path(r).name for r in NB101_OFFICIAL_FILES)})"
            )
        return require_file(given, what, NB101_OFFICIAL_HINT)
    for rel in NB101_OFFICIAL_FILES:  # each data directory in search order (data.search_dirs)
        found = find_file(rel, data_dir)
        if found is not None:
            return require_file(found, what, NB101_OFFICIAL_HINT)
    raise missing_file_error(NB101_OFFICIAL_FILES[0], what, NB101_OFFICIAL_HINT, data_dir)


def _check_hash(module_hash: Any) -> str:
    if not isinstance(module_hash, str):
        raise SeminasError(f"a NAS-Bench-101 module hash is a string, got {module_hash!r}")
    key = module_hash.strip().lower()
    if len(key) != 32 or any(c not in "0123456789abcdef" for c in key):
        raise SeminasError(
            f"{module_hash!r} is not a NAS-Bench-101 module hash (32 hexadecimal digits)"
        )
    return key


def _row_means(runs: np.ndarray) -> np.ndarray:
    """Mean over the available runs of each row (NaN where a row has none), without warnings."""
    present = ~np.isnan(runs)
    count = present.sum(axis=1)
    total = np.where(present, runs, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# -- the official benchmark -----------------------------------------------------------------------
class NB101Benchmark(TabularBenchmark):
    """The official NAS-Bench-101 table (423,624 cells), queried like the official API."""

    search_metric_name = "validation accuracy (%), one of three runs at random"
    report_metric_name = "test accuracy (%), mean of three runs at 108 epochs"

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        epochs: int = 108,
        seed: int = 0,
        space: NB101Space | None = None,
        data_dir: str | os.PathLike | None = None,
        progress: bool | None = None,
    ) -> None:
        super().__init__()
        self.space = space if space is not None else NB101Space()
        self.path = resolve_official_file(path, data_dir)
        self.table, self.cache_path, self.cache_built = load_table(self.path, progress)
        available = self.table.epochs
        try:
            epochs = int(epochs)
        except (TypeError, ValueError):
            epochs = -1
        if epochs not in available:
            raise SeminasError(
                f"{self.path.name} has no results for {epochs} epochs: available epoch budgets "
                f"are {', '.join(map(str, available))} (nasbench_full.tfrecord has 4/12/36/108, "
                f"nasbench_only108.tfrecord only 108)"
            )
        self.epochs = epochs
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._val = self.table.val[epochs] * 100.0
        self._test = self.table.test[epochs] * 100.0
        self._time = self.table.time[epochs]
        self._mean_val = _row_means(self._val)
        self._mean_time = _row_means(self._time)
        if REPORT_EPOCHS in available:
            self._report: np.ndarray | None = _row_means(self.table.test[REPORT_EPOCHS] * 100.0)
        else:
            self._report = None
        self.search_metric_name = (
            f"validation accuracy (%), one of three runs at random, {epochs} epochs"
        )

    def reseed(self, seed: int) -> None:
        """Restart the run-choosing generator (e.g. between independent searches)."""
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    # -- hashes ----------------------------------------------------------------------------
    def _row(self, module_hash: str) -> int:
        key = _check_hash(module_hash)
        row = self.table.row_of(key)
        if row is None or np.isnan(self._mean_val[row]):
            raise UnknownArchitectureError(
                f"NAS-Bench-101 cell {key} is not in {self.path} at {self.epochs} epochs "
                f"({len(self.table):,} cells)"
            )
        return row

    def query_hash(self, module_hash: str) -> Record:
        """Charged query by module hash (as :meth:`query`)."""
        record = self._sampled(self._row(module_hash))
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record

    def lookup_hash(self, module_hash: str) -> Record:
        """Free lookup by module hash (as :meth:`lookup`)."""
        return self._mean_record(self._row(module_hash))

    def spec_of(self, module_hash: str) -> NB101Spec:
        """The cell a module hash stands for, as stored in the table."""
        return self.table.spec_at(self._row(module_hash))

    # -- records -----------------------------------------------------------------------------
    def _common(self, row: int) -> tuple[str, float | None, int]:
        report = None if self._report is None else float(self._report[row])
        return self.table.hash_at(row), report, int(self.table.params[row])

    def _sampled(self, row: int, rng: np.random.Generator | None = None) -> Record:
        runs = np.flatnonzero(~np.isnan(self._val[row]))
        run = int(runs[int((rng or self.rng).integers(len(runs)))])
        arch_id, report, params = self._common(row)
        return Record(
            arch_id=arch_id,
            search_metric=float(self._val[row, run]),
            report_metric=report,
            cost_seconds=float(self._time[row, run]),
            params=params,
            extra={
                "epochs": self.epochs,
                "run": run,
                "run_test_accuracy": float(self._test[row, run]),
            },
        )

    def _mean_record(self, row: int) -> Record:
        arch_id, report, params = self._common(row)
        return Record(
            arch_id=arch_id,
            search_metric=float(self._mean_val[row]),
            report_metric=report,
            cost_seconds=float(self._mean_time[row]),
            params=params,
            extra={"epochs": self.epochs, "runs": int(np.count_nonzero(~np.isnan(self._val[row])))},
        )

    # -- TabularBenchmark ------------------------------------------------------------------
    def _evaluate(self, arch: NB101Spec) -> Record:
        return self._sampled(self._row(self.space.arch_id(arch)))

    def _evaluate_at(self, arch: NB101Spec, query: int) -> Record:
        """The run is drawn from a generator seeded by (seed, query number): the same run
        wherever and whenever the query is evaluated (a resumed study, another worker)."""
        rng = np.random.default_rng([int(self.seed), int(query)])
        return self._sampled(self._row(self.space.arch_id(arch)), rng)

    def lookup(self, arch: Any) -> Record:
        """Mean of the three runs, without charging a query."""
        spec = self.space.validate(arch)
        return self._mean_record(self._row(self.space.arch_id(spec)))

    def __len__(self) -> int:
        return len(self.table)

    def records(self) -> Iterator[Record]:
        for row in np.flatnonzero(~np.isnan(self._mean_val)).tolist():
            yield self._mean_record(row)

    def best_by_search(self) -> Record:
        """The cell with the best mean validation accuracy (the analysis optimum)."""
        return self._mean_record(int(np.nanargmax(self._mean_val)))

    def best_by_report(self) -> Record | None:
        """The cell with the best mean 108-epoch test accuracy (None without 108-epoch data)."""
        if self._report is None:
            return None
        return self._mean_record(int(np.nanargmax(self._report)))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "file": str(self.path),
            "epochs": self.epochs,
            "seed": self.seed,
            "cells": len(self),
        }


# -- the shipped 20k subset -----------------------------------------------------------------------
SUBSET_FILE = "nasbench101/subset-20k.csv"
SPECS_FILE = "nasbench101/specs-1k.json"
SUBSET_ROWS = 20_001
_SUBSET_COLUMNS = ("hash", "params", "train_seconds_108ep") + tuple(
    f"val_acc_{e}ep" for e in EPOCH_BUDGETS
)


class NB101SubsetBenchmark(TabularBenchmark):
    """20,001 real NAS-Bench-101 cells with ONE run's validation accuracy each (no test data).

    The search metric is deterministic (a single run, no random choice). The report metric is
    always ``None``: the subset has no test accuracies, so nothing is made up. Training time is
    known only at 108 epochs, so ``cost_seconds`` is ``None`` at other budgets. Only the 1,000
    cells of :meth:`specs` have matrices; the others can be queried by hash.
    """

    report_metric_name = "test accuracy (%): not in the NAS-Bench-101 subset (missing)"

    def __init__(
        self,
        epochs: int = 108,
        data_dir: str | os.PathLike | None = None,
        space: NB101Space | None = None,
    ) -> None:
        super().__init__()
        if epochs not in EPOCH_BUDGETS:
            raise SeminasError(
                f"the NAS-Bench-101 subset has no results for {epochs!r} epochs: available epoch "
                f"budgets are {', '.join(map(str, EPOCH_BUDGETS))}"
            )
        self.space = space if space is not None else NB101Space()
        self.epochs = int(epochs)
        self._data_dir = data_dir
        self.path = known_file(SUBSET_FILE, data_dir)
        frame = _read_csv(self.path, _SUBSET_COLUMNS)
        self.hashes: list[str] = [h.strip().lower() for h in frame["hash"].astype(str)]
        self._index = {h: i for i, h in enumerate(self.hashes)}
        if len(self._index) != len(self.hashes):
            raise SeminasError(
                f"{self.path} has duplicate hashes; restore it (`seminas data check`)"
            )
        self._search = frame[f"val_acc_{self.epochs}ep"].to_numpy(float) * 100.0
        self._cost = (
            frame["train_seconds_108ep"].to_numpy(float) if self.epochs == REPORT_EPOCHS else None
        )
        self._params = frame["params"].to_numpy(np.int64)
        self.search_metric_name = f"validation accuracy (%), single run, {self.epochs} epochs"
        self._specs: list[NB101Spec] | None = None

    def specs(self) -> list[NB101Spec]:
        """The 1,000 cells of ``specs-1k.json`` (the only ones with matrices), in file order."""
        if self._specs is None:
            path = known_file(SPECS_FILE, self._data_dir)
            try:
                entries = json.loads(path.read_text())
                self._specs = [spec_from_labels(e["matrix"], e["labels"]) for e in entries]
            except (ValueError, KeyError, TypeError) as exc:
                raise SeminasError(
                    f"cannot parse {path}: {type(exc).__name__}; the file is corrupt, restore it "
                    f"(`seminas data check` compares checksums)"
                ) from exc
        return list(self._specs)

    def _row(self, module_hash: str) -> int:
        key = _check_hash(module_hash)
        row = self._index.get(key)
        if row is None:
            raise UnknownArchitectureError(
                f"NAS-Bench-101 cell {key} is not among the {len(self):,} cells of the subset "
                f"{self.path.name}; the full table needs the official file ({NB101_OFFICIAL_HINT})"
            )
        return row

    def _record(self, row: int) -> Record:
        return Record(
            arch_id=self.hashes[row],
            search_metric=float(self._search[row]),
            report_metric=None,
            cost_seconds=None if self._cost is None else float(self._cost[row]),
            params=int(self._params[row]),
            extra={"epochs": self.epochs},
        )

    def query_hash(self, module_hash: str) -> Record:
        """Charged query by module hash."""
        record = self._record(self._row(module_hash))
        self.num_queries += 1
        self._queried_ids.add(record.arch_id)
        return record

    def lookup_hash(self, module_hash: str) -> Record:
        """Free lookup by module hash."""
        return self._record(self._row(module_hash))

    def lookup(self, arch: Any) -> Record:
        spec = self.space.validate(arch)
        return self._record(self._row(self.space.arch_id(spec)))

    def __len__(self) -> int:
        return len(self.hashes)

    def records(self) -> Iterator[Record]:
        for row in range(len(self)):
            yield self._record(row)

    def best_by_search(self) -> Record:
        return self._record(int(np.argmax(self._search)))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "file": str(self.path), "epochs": self.epochs}


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The subset's table, checked for its columns, its 20,001 rows and numeric metrics."""
    from seminas.benchmarks.csvcheck import read_checked_csv

    return read_checked_csv(
        path,
        columns,
        rows=SUBSET_ROWS,
        numeric=[c for c in columns if c != "hash"],
        dtype={"hash": str},
        what="the NAS-Bench-101 subset",
    )
