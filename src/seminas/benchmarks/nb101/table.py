"""The converted NAS-Bench-101 table: one row per cell in NumPy arrays, and its cache file (a
compact ``.npz``, no pickles) keyed by the identity of the official file's content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from seminas.benchmarks.nb101.schema import LABEL_OPS, PAD_LABEL
from seminas.data import cache_dir
from seminas.spaces.nb101 import NB101Spec, make_spec

CACHE_FORMAT = 1  # bump when the cache layout changes so old caches are rebuilt
_SAMPLE_BYTES = 1 << 20  # how much of the file's head and tail goes into the cache key


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
