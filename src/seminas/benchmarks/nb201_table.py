"""The NAS-Bench-201 table format: one compact, verified, pickle-free ``.npz`` file.

Every NAS-Bench-201 source seminas reads ends up as an :class:`NB201Table`: the table shipped
inside the package (built from the CSVs by ``scripts/build_nb201_table.py``), the CSV files of a
data directory (converted in memory), and the caches ``seminas data import`` writes from the
official files. One format means one code path for queries, whatever the source, so the same
search gives the same trials on every source that holds the same numbers.

API (small on purpose; importers use only this):

- ``NB201Table(ops, arrays, meta)``: ``ops`` is an ``(N_CELLS, 6)`` uint8 array of indices into
  :data:`OPS`, one row per official NAS-Bench-201 index (row i is index i), edges in the order of
  the official string. ``arrays`` maps a key (see below) to a numeric NumPy array whose first
  dimension is ``N_CELLS``. ``meta`` is a JSON-able dict (``source``, ``source_files``, ...).
- ``NB201Table.from_arch_strings(strings, arrays, meta)``: the same, from official strings.
- ``table.arch_strings()``, ``table.get(key)``, ``table.has(key)``, ``table.keys()``.
- ``table.save(path)`` writes atomically (a temporary file, then a rename) and returns the
  file's sha256; ``NB201Table.load(path)`` verifies format version, shapes, cells and the content
  digest, and raises :class:`NB201TableError` (one line, naming the file) on anything wrong.
- ``read_meta(path)``: the metadata alone (cheap; also lists every array's shape and dtype).
- ``metric_key(dataset, metric, epochs)``: the name of a per-cell mean, e.g.
  ``metric_key("cifar10-valid", "valid_acc", 200) == "cifar10-valid.valid_acc.200ep"``.
  Richer arrays use the same stem: ``seeds_key(key)`` (``key + "#seeds"``, shape
  ``(N_CELLS, S)``, NaN where a seed is missing) and ``curve_key(dataset, metric)``
  (``"<dataset>.<metric>.curve"``, shape ``(N_CELLS, epochs)``, per-epoch values).
  Metric names used so far: ``valid_acc``, ``test_acc`` (percent), ``train_time`` (seconds for
  the whole run), ``train_epoch_time`` (seconds per epoch); importers may add others
  (``valid_loss``, ``params``, ``flops``, ``latency``...) under the same scheme.
- ``table_from_csv_dir(directory)``: the table of a data directory's ``nasbench201/`` CSVs.
- ``embedded_table_path()``, ``load_embedded()``: the table shipped with seminas;
  ``imported_dir()``: where imported tables live (``<cache dir>/nb201/*.npz``).

A file is a plain zip of ``.npy`` members (``ops``, one per array, and ``meta``: a 0-d unicode
array holding JSON), so ``np.load(path, allow_pickle=False)`` reads it anywhere. Members are
written in sorted order with a fixed timestamp, so a rebuild of the same data is the same file
(given the same zlib).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError

FORMAT_VERSION = 1
N_CELLS = 15625
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_EDGES = 6
DATASETS_200 = ("cifar10", "cifar100", "ImageNet16-120")
EMBEDDED_NAME = "nb201.npz"
IMPORTED_DIR_NAME = "nb201"

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(#[a-z]+)?$")
_RESERVED = {"ops", "meta"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class NB201TableError(SeminasError):
    """A NAS-Bench-201 table file that cannot be used (corrupt, wrong format, wrong content)."""


def metric_key(dataset: str, metric: str, epochs: int) -> str:
    """Name of a per-cell mean, e.g. ``cifar10-valid.valid_acc.200ep``."""
    return f"{dataset}.{metric}.{int(epochs)}ep"


def seeds_key(key: str) -> str:
    """Name of the per-seed values behind the mean ``key`` (shape ``(N_CELLS, seeds)``)."""
    return f"{key}#seeds"


def curve_key(dataset: str, metric: str) -> str:
    """Name of a per-epoch curve (shape ``(N_CELLS, epochs)``)."""
    return f"{dataset}.{metric}.curve"


_TEMPLATE = "|%s~0|+|%s~0|%s~1|+|%s~0|%s~1|%s~2|"


@lru_cache(maxsize=1)
def _node_strings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5, 25 and 125 possible strings of nodes 1, 2 and 3 (object arrays, for fast joins)."""
    n1 = [f"|{a}~0|" for a in OPS]
    n2 = [f"|{a}~0|{b}~1|" for a in OPS for b in OPS]
    n3 = [f"|{a}~0|{b}~1|{c}~2|" for a in OPS for b in OPS for c in OPS]
    return tuple(np.array(n, dtype=object) for n in (n1, n2, n3))  # type: ignore[return-value]


def arch_string(op_row: Sequence[int]) -> str:
    """The official string of one row of ``ops``."""
    return _TEMPLATE % tuple(OPS[int(k)] for k in op_row)


@lru_cache(maxsize=1)
def _all_cells() -> dict[str, tuple[int, ...]]:
    """Every official string -> its op indices (5 ** 6 entries, built once)."""
    return {
        _TEMPLATE % tuple(OPS[k] for k in row): row for row in product(range(len(OPS)), repeat=6)
    }


def ops_from_strings(strings: Sequence[str], source: str = "table") -> np.ndarray:
    """``(len(strings), 6)`` op indices of official strings; one-line error on a bad string."""
    cells = _all_cells()
    try:
        rows = [cells[text] for text in strings]
    except (KeyError, TypeError):
        bad = next(
            i for i, text in enumerate(strings) if not isinstance(text, str) or text not in cells
        )
        raise NB201TableError(
            f"{source}: row {bad} is not a NAS-Bench-201 architecture string in the official "
            f"form: {strings[bad]!r}"
        ) from None
    return np.array(rows, dtype=np.uint8).reshape(len(rows), NUM_EDGES)


@dataclass(frozen=True)
class NB201Table:
    """All 15,625 cells: their operations, named per-cell arrays and metadata."""

    ops: np.ndarray
    arrays: Mapping[str, np.ndarray]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate("table")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_arch_strings(
        cls,
        strings: Sequence[str],
        arrays: Mapping[str, np.ndarray],
        meta: Mapping[str, Any] | None = None,
    ) -> NB201Table:
        """A table from official strings (row i = official index i)."""
        return cls(ops_from_strings(strings), dict(arrays), dict(meta or {}))

    # -- access --------------------------------------------------------------------------------
    def arch_strings(self) -> list[str]:
        """The official string of every row, in index order."""
        n1, n2, n3 = _node_strings()
        o = self.ops.astype(np.int64)
        k = len(OPS)
        node2 = n2[o[:, 1] * k + o[:, 2]]
        node3 = n3[(o[:, 3] * k + o[:, 4]) * k + o[:, 5]]
        return (n1[o[:, 0]] + "+" + node2 + "+" + node3).tolist()

    def keys(self) -> list[str]:
        return sorted(self.arrays)

    def has(self, key: str) -> bool:
        return key in self.arrays

    def get(self, key: str) -> np.ndarray:
        """The array ``key``; a one-line error naming what the table does hold otherwise."""
        try:
            return self.arrays[key]
        except KeyError:
            raise NB201TableError(
                f"this NAS-Bench-201 table ({self.meta.get('source', 'unknown source')}) has no "
                f"{key!r}; it holds: {', '.join(self.keys())}"
            ) from None

    def content_sha256(self) -> str:
        """Digest of ops and every array (names, dtypes, shapes, bytes); metadata excluded."""
        digest = hashlib.sha256(f"nb201-table-v{FORMAT_VERSION}".encode())
        for name, arr in [("ops", self.ops), *sorted(self.arrays.items())]:
            a = np.ascontiguousarray(arr)
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
            digest.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()

    # -- checks --------------------------------------------------------------------------------
    def validate(self, where: str | os.PathLike) -> None:
        """Shapes, dtypes, op range and the 15,625 distinct cells; one-line error otherwise."""
        ops = self.ops
        if not isinstance(ops, np.ndarray) or ops.shape != (N_CELLS, NUM_EDGES):
            shape = getattr(ops, "shape", None)
            raise NB201TableError(
                f"{where}: ops must have shape ({N_CELLS}, {NUM_EDGES}), got {shape}: the table "
                f"must hold all {N_CELLS} cells"
            )
        if ops.dtype.kind not in "iu" or ops.min() < 0 or ops.max() >= len(OPS):
            raise NB201TableError(f"{where}: ops must be integers 0..{len(OPS) - 1}")
        codes = ops.astype(np.int64) @ (len(OPS) ** np.arange(NUM_EDGES, dtype=np.int64))
        if (np.bincount(codes, minlength=N_CELLS) != 1).any():  # N_CELLS == 5 ** 6
            raise NB201TableError(
                f"{where}: ops repeat a cell, so some of the {N_CELLS} are missing"
            )
        for key, arr in self.arrays.items():
            if key in _RESERVED or not _KEY_RE.match(key):
                raise NB201TableError(f"{where}: {key!r} is not a valid array name")
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub":
                raise NB201TableError(f"{where}: array {key!r} must be numeric")
            if arr.ndim < 1 or arr.shape[0] != N_CELLS:
                raise NB201TableError(
                    f"{where}: array {key!r} has shape {arr.shape}, expected {N_CELLS} rows"
                )

    # -- files ---------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The file's bytes (deterministic for the same data)."""
        meta = dict(self.meta)
        meta.update(
            format_version=FORMAT_VERSION,
            benchmark="nb201",
            cells=N_CELLS,
            op_names=list(OPS),
            content_sha256=self.content_sha256(),
            arrays={k: [list(v.shape), v.dtype.str] for k, v in sorted(self.arrays.items())},
        )
        members = {"ops": np.ascontiguousarray(self.ops, dtype=np.uint8)}
        members.update({k: np.ascontiguousarray(v) for k, v in self.arrays.items()})
        members["meta"] = np.array(json.dumps(meta, sort_keys=True))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name in sorted(members):
                npy = io.BytesIO()
                np.lib.format.write_array(npy, members[name], allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, npy.getvalue(), compresslevel=9)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> str:
        """Write atomically to ``path`` (parents created); returns the file's sha256."""
        path = Path(path)
        data = self.to_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a shipped table unreadable
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: str | os.PathLike, name: str | None = None) -> NB201Table:
        """Read and verify a table file (``name``: how errors call it; default the path)."""
        where = name or str(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "meta" not in z.files or "ops" not in z.files:
                    raise NB201TableError(f"{where} is not a seminas NAS-Bench-201 table")
                meta = _parse_meta(z["meta"], where)
                arrays = {k: z[k] for k in z.files if k not in _RESERVED}
                ops = z["ops"]
        except NB201TableError:
            raise
        except FileNotFoundError:
            raise NB201TableError(f"{where}: no such file") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise NB201TableError(
                f"{where} is unreadable ({exc.__class__.__name__}: {exc}): the file is corrupt "
                f"or not a NAS-Bench-201 table"
            ) from None
        table = cls.__new__(cls)
        object.__setattr__(table, "ops", ops)
        object.__setattr__(table, "arrays", arrays)
        object.__setattr__(table, "meta", meta)
        table.validate(where)
        if table.content_sha256() != meta.get("content_sha256"):
            raise NB201TableError(
                f"{where}: checksum mismatch (content differs from the digest it was written "
                f"with): the file is corrupt; rebuild or re-import it"
            )
        for arr in (ops, *arrays.values()):
            arr.setflags(write=False)
        return table


def _parse_meta(raw: np.ndarray, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(str(raw[()]))
    except (ValueError, TypeError):
        raise NB201TableError(f"{where}: its metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("benchmark") != "nb201":
        raise NB201TableError(f"{where} is not a seminas NAS-Bench-201 table")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise NB201TableError(
            f"{where} has table format {version!r}, this seminas reads format {FORMAT_VERSION}: "
            f"rebuild or re-import it with this version"
        )
    return meta


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a table file without loading its arrays."""
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise NB201TableError(f"{where} is not a seminas NAS-Bench-201 table")
            return _parse_meta(z["meta"], where)
    except NB201TableError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise NB201TableError(f"{where} is unreadable ({exc.__class__.__name__})") from None


def describe_keys(keys: Iterable[str]) -> str:
    """A short human summary of what a table holds, e.g. for ``seminas data check``."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        stem, _, extra = key.partition("#")
        dataset, _, rest = stem.partition(".")
        groups.setdefault(dataset, []).append(rest + (f" ({extra})" if extra else ""))
    return "; ".join(f"{ds}: {', '.join(items)}" for ds, items in groups.items())


# -- the CSV files of a data directory ---------------------------------------------------------
CSV_FILES = ("12ep.csv", "test-200ep.csv", "cifar10-valid-200ep.csv")
# column of each CSV -> table key
CSV_COLUMNS: dict[str, dict[str, str]] = {
    "cifar10-valid-200ep.csv": {
        "valid-accuracy": metric_key("cifar10-valid", "valid_acc", 200),
        "train-all-time": metric_key("cifar10-valid", "train_time", 200),
        "train-per-time": metric_key("cifar10-valid", "train_epoch_time", 200),
    },
    "test-200ep.csv": {
        "CIFAR10TestAccuracy200Epochs": metric_key("cifar10", "test_acc", 200),
        "CIFAR100TestAccuracy200Epochs": metric_key("cifar100", "test_acc", 200),
        "ImageNetTestAccuracy200Epochs": metric_key("ImageNet16-120", "test_acc", 200),
    },
    "12ep.csv": {
        f"{prefix}-{split}": metric_key(ds, f"{'valid' if split == 'val' else 'test'}_acc", 12)
        for prefix, ds in (
            ("cifar10", "cifar10"),
            ("cifar100", "cifar100"),
            ("imagenet", "ImageNet16-120"),
        )
        for split in ("val", "test")
    },
}
CSV_ARCH_COLUMN = {
    "cifar10-valid-200ep.csv": "arch_str",
    "test-200ep.csv": "ArchitectureString",
    "12ep.csv": "arch_str",
}


def table_from_csv_dir(
    directory: str | os.PathLike, files: Sequence[str] = CSV_FILES
) -> NB201Table:
    """The table of ``directory/nasbench201/*.csv`` (``directory``: a data directory).

    Each file is checked for its columns, its 15,625 rows and the row alignment of its
    architecture strings; values are parsed as float64 exactly as written.
    """
    import pandas as pd

    base = Path(directory) / "nasbench201"
    arrays: dict[str, np.ndarray] = {}
    strings: list[str] | None = None
    sources = []
    for name in files:
        path = base / name
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError:
            raise NB201TableError(f"missing file {path}") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise NB201TableError(
                f"cannot parse {path}: {exc.__class__.__name__}; the file is corrupt, restore it "
                f"(`seminas data check` compares checksums)"
            ) from None
        need = [CSV_ARCH_COLUMN[name], *CSV_COLUMNS[name]]
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise NB201TableError(
                f"{path} lacks column(s) {', '.join(missing)}: restore the file "
                f"(`seminas data check` compares checksums)"
            )
        if len(frame) != N_CELLS:
            raise NB201TableError(f"{path} has {len(frame)} rows, expected {N_CELLS}: restore it")
        got = frame[CSV_ARCH_COLUMN[name]].astype(str).tolist()
        if strings is None:
            strings = got
        elif got != strings:
            raise NB201TableError(
                f"{path} is not row-aligned with {base / files[0]}; restore the data files "
                f"(`seminas data check`)"
            )
        for column, key in CSV_COLUMNS[name].items():
            try:
                values = frame[column].to_numpy(dtype=np.float64)
            except (ValueError, TypeError):
                raise NB201TableError(f"{path}: column {column} is not numeric") from None
            if np.isnan(values).any():
                raise NB201TableError(f"{path}: column {column} has empty cells")
            arrays[key] = values
        sources.append({"name": f"nasbench201/{name}", "sha256": _sha256_file(path)})
    assert strings is not None
    meta = {"source": f"CSV files in {base}", "source_files": sources}
    return NB201Table(ops_from_strings(strings, str(base / files[0])), arrays, meta)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# -- the embedded table and imported tables ----------------------------------------------------
def embedded_table_path() -> Path:
    """The table shipped inside the package (``seminas/benchmarks/_data/nb201.npz``)."""
    return Path(str(resources.files("seminas.benchmarks").joinpath("_data", EMBEDDED_NAME)))


def embedded_manifest() -> dict[str, Any]:
    """``_data/MANIFEST.json``: expected sha256 and size of each shipped file."""
    path = embedded_table_path().with_name("MANIFEST.json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def load_embedded() -> NB201Table:
    """The shipped table, loaded once per process (its arrays are read-only)."""
    path = embedded_table_path()
    if not path.is_file():
        raise NB201TableError(
            f"the NAS-Bench-201 table shipped with seminas is missing ({path}): reinstall "
            f"seminas, or point --data-dir / $SEMINAS_DATA at the NAS-Bench-201 CSV files"
        )
    return NB201Table.load(path, name=f"embedded table {path}")


def imported_dir() -> Path:
    """Where ``seminas data import`` writes NAS-Bench-201 tables: ``<cache dir>/nb201``."""
    from seminas.data import cache_dir

    return cache_dir() / IMPORTED_DIR_NAME


def imported_tables() -> list[Path]:
    """Imported table files, newest first (by modification time, then name)."""
    base = imported_dir()
    if not base.is_dir():
        return []
    files = [p for p in base.glob("*.npz") if p.is_file()]
    return sorted(files, key=lambda p: (-p.stat().st_mtime, p.name))
