"""Every unique NAS-Bench-101 cell, enumerated once and cached on disk.

Uniform sampling over the 423,624 unique cells (the published count) needs the whole list: a
random matrix-and-ops draw over-represents cells with many isomorphic copies. Building the list
by brute force (2^21 matrices times 3^5 labelings) is far too slow in Python, so the builder works
up to isomorphism:

1. for n = 2..7 vertices, enumerate every upper-triangular edge set with at most 9 edges in which
   each vertex lies on an input-to-output path (the pruned form; NumPy bitmasks, vectorised);
2. group those graphs into classes under permutations of the inner vertices (input stays first,
   output last) and keep one representative per class, together with its automorphisms;
3. for each representative, keep the labelings (inner ops) that are lexicographically minimal in
   their orbit under the automorphism group: one per isomorphism class of labeled cells;
4. compute the official md5 module hash only for those, and check that the hashes are unique and
   that there are exactly 423,624 of them.

The result is cached as a NumPy ``.npz`` (no pickles), sorted by hash so that lookups are a binary
search. A corrupt or foreign cache file is refused on load and rebuilt by :func:`load_or_build`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from seminas.data import cache_dir
from seminas.errors import SeminasError
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.nb101 import (
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    NB101Spec,
    graph_hash,
)

NB101_SIZE = 423_624  # unique cells in the official benchmark (Ying et al., 2019)
CACHE_NAME = "nb101-enumeration-v1.npz"
FORMAT_VERSION = 1
HASH_DTYPE = np.dtype("S32")
NUM_INNER = MAX_VERTICES - 2
NO_OP = -1  # padding in ``ops`` after a cell's inner vertices

# Bit k of a stored adjacency mask is the edge _PAIRS[k] of the 7x7 upper triangle (row-major).
# A cell with n < 7 vertices is stored top-left, so its output vertex has index n - 1.
_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (u, v) for u in range(MAX_VERTICES) for v in range(u + 1, MAX_VERTICES)
)
_BIT_OF_PAIR = {pair: k for k, pair in enumerate(_PAIRS)}
# Bits allowed for a cell of n vertices.
_ALLOWED_BITS = np.array(
    [sum(1 << k for k, (u, v) in enumerate(_PAIRS) if v < n) for n in range(MAX_VERTICES + 1)],
    dtype=np.uint32,
)
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_CHUNK_BITS = 7  # the permutation lookup tables map 7 edge bits at a time
_SPOT_CHECKS = 16  # cells whose hash is recomputed when a cache file is loaded
_BATCH_CELLS = 4000  # cells per unit of work handed to a worker process

try:  # CPython's built-in md5 is about twice as fast as OpenSSL's on these short messages
    from _md5 import md5 as _fast_md5
except ImportError:  # pragma: no cover - builds without it
    _fast_md5 = hashlib.md5


class EnumerationCacheError(SeminasError):
    """A cache file that is not a valid enumeration (corrupt, truncated or foreign)."""


def default_cache_path() -> Path:
    """Where :func:`load_or_build` keeps the enumeration unless told otherwise."""
    return cache_dir() / CACHE_NAME


def _popcount(codes: np.ndarray) -> np.ndarray:
    """Set bits of each uint32 (portable: ``np.bitwise_count`` needs NumPy 2)."""
    codes = codes.astype(np.uint32, copy=False)
    total = np.zeros(codes.shape, dtype=np.uint8)
    for shift in (0, 8, 16, 24):
        total += _POPCOUNT8[(codes >> np.uint32(shift)) & np.uint32(0xFF)]
    return total


# -- the enumerated space -------------------------------------------------------------------------
class NB101Enumeration:
    """All unique cells of a NAS-Bench-101-style space, sorted by official module hash.

    Arrays (one row per cell): ``hashes`` (``S32`` hex), ``masks`` (uint32 edge bitmask, see
    ``_PAIRS``), ``num_vertices`` (uint8) and ``ops`` (int8, ``[N, 5]``: 0 conv3x3, 1 conv1x1,
    2 maxpool for inner vertices, -1 after them). Each cell's matrix is upper triangular.
    """

    def __init__(
        self,
        hashes: np.ndarray,
        masks: np.ndarray,
        num_vertices: np.ndarray,
        ops: np.ndarray,
        *,
        max_vertices: int = MAX_VERTICES,
        max_edges: int = MAX_EDGES,
        path: Path | None = None,
    ) -> None:
        self._hashes = np.asarray(hashes, dtype=HASH_DTYPE)
        self._masks = np.asarray(masks, dtype=np.uint32)
        self._num_vertices = np.asarray(num_vertices, dtype=np.uint8)
        self._ops = np.asarray(ops, dtype=np.int8)
        for arr in (self._hashes, self._masks, self._num_vertices, self._ops):
            arr.flags.writeable = False
        self.max_vertices = int(max_vertices)
        self.max_edges = int(max_edges)
        self.path = path
        self._matrices: dict[int, tuple[tuple[int, ...], ...]] = {}

    # -- read-only views ------------------------------------------------------------------
    @property
    def hashes(self) -> np.ndarray:
        return self._hashes

    @property
    def masks(self) -> np.ndarray:
        return self._masks

    @property
    def num_vertices(self) -> np.ndarray:
        return self._num_vertices

    @property
    def ops(self) -> np.ndarray:
        return self._ops

    @property
    def is_full(self) -> bool:
        """True for the whole NAS-Bench-101 space (7 vertices, 9 edges)."""
        return self.max_vertices == MAX_VERTICES and self.max_edges == MAX_EDGES

    def __len__(self) -> int:
        return int(self._hashes.shape[0])

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"NB101Enumeration({len(self)} cells, max_vertices={self.max_vertices}, "
            f"max_edges={self.max_edges}{where})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NB101Enumeration):
            return NotImplemented
        return (
            self.max_vertices == other.max_vertices
            and self.max_edges == other.max_edges
            and np.array_equal(self._hashes, other._hashes)
            and np.array_equal(self._masks, other._masks)
            and np.array_equal(self._num_vertices, other._num_vertices)
            and np.array_equal(self._ops, other._ops)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: compare, don't hash

    # -- lookups --------------------------------------------------------------------------
    def _check_index(self, i: int) -> int:
        i = int(i)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"cell index {i} out of range for {n} cells")
        return i

    def hash(self, i: int) -> str:
        """Official module hash of cell ``i`` (the space's ``arch_id``)."""
        return self._hashes[self._check_index(i)].decode("ascii")

    def _matrix(self, mask: int, n: int) -> tuple[tuple[int, ...], ...]:
        key = mask | (n << 24)
        cached = self._matrices.get(key)
        if cached is None:
            rows = [[0] * n for _ in range(n)]
            bits = mask
            while bits:
                low = bits & -bits
                u, v = _PAIRS[low.bit_length() - 1]
                rows[u][v] = 1
                bits ^= low
            cached = self._matrices[key] = tuple(tuple(row) for row in rows)
        return cached

    def spec(self, i: int) -> NB101Spec:
        """Cell ``i`` as a pruned, upper-triangular spec."""
        i = self._check_index(i)
        n = int(self._num_vertices[i])
        inner = self._ops[i, : n - 2].tolist()
        ops = (INPUT, *(OPS[o] for o in inner), OUTPUT)
        return NB101Spec(self._matrix(int(self._masks[i]), n), ops)

    def specs(self, indices: Iterable[int]) -> list[NB101Spec]:
        return [self.spec(int(i)) for i in indices]

    def indices_of(self, hashes: Iterable[object]) -> np.ndarray:
        """Positions of the given hashes, -1 for those not in the space (vectorised)."""
        items = list(hashes)
        keys = np.zeros(len(items), dtype=HASH_DTYPE)
        ok = np.zeros(len(items), dtype=bool)
        for j, h in enumerate(items):
            if isinstance(h, str) and len(h) == HASH_DTYPE.itemsize and h.isascii():
                keys[j] = h.encode("ascii")
                ok[j] = True
        out = np.full(len(items), -1, dtype=np.int64)
        if len(self) == 0 or not ok.any():
            return out
        pos = np.searchsorted(self._hashes, keys)
        pos_clipped = np.minimum(pos, len(self) - 1)
        found = ok & (pos < len(self)) & (self._hashes[pos_clipped] == keys)
        out[found] = pos[found]
        return out

    def index_of(self, module_hash: object) -> int | None:
        """Position of a hash, or ``None`` when the cell is not in the space."""
        if not (
            isinstance(module_hash, str)
            and len(module_hash) == HASH_DTYPE.itemsize
            and module_hash.isascii()
        ):
            return None
        key = module_hash.encode("ascii")
        pos = int(np.searchsorted(self._hashes, key))
        if pos < len(self) and self._hashes[pos] == key:
            return pos
        return None

    def __contains__(self, module_hash: object) -> bool:
        return self.index_of(module_hash) is not None

    # -- sampling -------------------------------------------------------------------------
    def sample_indices(
        self, n: int, rng: np.random.Generator, exclude: Iterable[object] = ()
    ) -> np.ndarray:
        """``n`` distinct cell positions drawn uniformly, none of whose hash is in ``exclude``."""
        n = int(n)
        if n < 0:
            raise ValueError(f"cannot draw a negative number of cells ({n})")
        excluded = self.indices_of(exclude)
        excluded = np.unique(excluded[excluded >= 0])
        available = len(self) - len(excluded)
        if n > available:
            raise SeminasError(
                f"only {available} unseen cells are left in this space of {len(self)}, "
                f"{n} were asked for: lower the number of architectures"
            )
        if len(excluded) == 0:
            return rng.choice(len(self), size=n, replace=False)
        pool = np.delete(np.arange(len(self)), excluded)
        return pool[rng.choice(len(pool), size=n, replace=False)]

    def sample(
        self, n: int, rng: np.random.Generator, exclude: Iterable[object] = ()
    ) -> list[NB101Spec]:
        """``n`` distinct cells uniformly without replacement, skipping hashes in ``exclude``."""
        return self.specs(self.sample_indices(n, rng, exclude))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the arrays to ``path`` atomically (no pickles), so a crash leaves no torn file."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    format=np.array(FORMAT_VERSION, dtype=np.int64),
                    max_vertices=np.array(self.max_vertices, dtype=np.int64),
                    max_edges=np.array(self.max_edges, dtype=np.int64),
                    hashes=self._hashes,
                    masks=self._masks,
                    num_vertices=self._num_vertices,
                    ops=self._ops,
                )
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is fine to share
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.path = path
        return path


# -- loading and validation ------------------------------------------------------------------
def _validate(
    hashes: np.ndarray,
    masks: np.ndarray,
    num_vertices: np.ndarray,
    ops: np.ndarray,
    max_vertices: int,
    max_edges: int,
) -> str | None:
    """Why these arrays are not a valid enumeration, or ``None`` when they are."""
    if not 2 <= max_vertices <= MAX_VERTICES or not 0 <= max_edges <= MAX_EDGES:
        return f"limits out of range (max_vertices={max_vertices}, max_edges={max_edges})"
    if hashes.dtype != HASH_DTYPE or hashes.ndim != 1:
        return f"'hashes' must be a 1-D {HASH_DTYPE} array, got {hashes.dtype} {hashes.shape}"
    count = hashes.shape[0]
    if masks.dtype != np.uint32 or masks.shape != (count,):
        return f"'masks' must be uint32 of shape ({count},), got {masks.dtype} {masks.shape}"
    if num_vertices.dtype != np.uint8 or num_vertices.shape != (count,):
        return f"'num_vertices' must be uint8 of shape ({count},), got {num_vertices.shape}"
    if ops.dtype != np.int8 or ops.shape != (count, NUM_INNER):
        return f"'ops' must be int8 of shape ({count}, {NUM_INNER}), got {ops.dtype} {ops.shape}"
    if max_vertices == MAX_VERTICES and max_edges == MAX_EDGES and count != NB101_SIZE:
        return f"it holds {count} cells, the full space has {NB101_SIZE}"
    if count == 0:
        return "it holds no cells"
    if not np.all(hashes[1:] > hashes[:-1]):
        return "hashes are not sorted and unique"
    if num_vertices.min() < 2 or num_vertices.max() > max_vertices:
        return f"vertex counts outside 2..{max_vertices}"
    if np.any(masks & ~_ALLOWED_BITS[num_vertices]):
        return "edges that point past a cell's output vertex"
    if _popcount(masks).max() > max_edges:
        return f"cells with more than {max_edges} edges"
    inner = np.arange(NUM_INNER)[None, :] < (num_vertices[:, None].astype(np.int64) - 2)
    if np.any(inner & ((ops < 0) | (ops >= len(OPS)))) or np.any(~inner & (ops != NO_OP)):
        return "op labels out of range"
    enum = NB101Enumeration(hashes, masks, num_vertices, ops)
    for i in np.linspace(0, count - 1, num=min(_SPOT_CHECKS, count)).astype(int):
        spec = enum.spec(int(i))
        if graph_hash(spec.matrix, spec.labels()) != enum.hash(int(i)):
            return f"cell {int(i)} does not hash to its stored hash"
    return None


def load(path: str | os.PathLike) -> NB101Enumeration:
    """Read and validate a cache file; raise :class:`EnumerationCacheError` saying what is wrong."""
    path = Path(path).expanduser()
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in ("format", "max_vertices", "max_edges", "hashes", "masks",
                        "num_vertices", "ops"):
                if key not in data.files:
                    raise EnumerationCacheError(
                        f"{path} is not a NAS-Bench-101 enumeration cache (no array {key!r})"
                    )
                arrays[key] = data[key]
    except EnumerationCacheError:
        raise
    except FileNotFoundError:
        raise EnumerationCacheError(f"no enumeration cache at {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise EnumerationCacheError(
            f"{path} is not a readable NAS-Bench-101 enumeration cache "
            f"({exc.__class__.__name__}: {exc})"
        ) from None
    try:
        version = int(arrays["format"])
        max_vertices = int(arrays["max_vertices"])
        max_edges = int(arrays["max_edges"])
    except (TypeError, ValueError):
        raise EnumerationCacheError(f"{path} has a malformed header") from None
    if version != FORMAT_VERSION:
        raise EnumerationCacheError(
            f"{path} has format version {version}, this seminas reads version {FORMAT_VERSION}"
        )
    reason = _validate(
        arrays["hashes"], arrays["masks"], arrays["num_vertices"], arrays["ops"],
        max_vertices, max_edges,
    )
    if reason is not None:
        raise EnumerationCacheError(f"{path} is not a valid NAS-Bench-101 enumeration: {reason}")
    return NB101Enumeration(
        arrays["hashes"], arrays["masks"], arrays["num_vertices"], arrays["ops"],
        max_vertices=max_vertices, max_edges=max_edges, path=path,
    )


def _replaceable(path: Path) -> bool:
    """Whether a cache file that failed to load may be rebuilt in place: it bears the cache's
    own name, or it is an enumeration cache (an npz with its arrays) that is damaged, partial or
    of another version -- never some other file that a ``--cache`` argument happened to name."""
    if path.name == CACHE_NAME:
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return {"format.npy", "hashes.npy"} <= names


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` so parallel processes build the cache only once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the atomic write still keeps the file whole
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.with_name(path.name + ".lock"), "a+b")  # noqa: SIM115
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_or_build(
    path: str | os.PathLike | None = None, progress: Progress | None = None
) -> NB101Enumeration:
    """The full enumeration from the cache, building (and caching) it the first time (a few
    minutes, reported to ``progress``; silent by default).

    A cache file that fails validation is reported with a warning and rebuilt.
    """
    target = Path(path).expanduser() if path is not None else default_cache_path()

    def try_load() -> NB101Enumeration | None:
        if not target.exists():
            return None
        if target.is_dir():
            raise EnumerationCacheError(
                f"the enumeration cache {target} is a directory: give a file name"
            )
        try:
            enum = load(target)
        except EnumerationCacheError as exc:
            if not _replaceable(target):  # never overwrite a file that is not ours
                raise EnumerationCacheError(
                    f"{exc}: refusing to overwrite it; give a new file name (or remove the file "
                    f"if it is an old cache)"
                ) from None
            warnings.warn(f"{exc}; rebuilding it", stacklevel=3)
            return None
        if not enum.is_full:
            warnings.warn(
                f"{target} holds a partial enumeration (max_vertices={enum.max_vertices}, "
                f"max_edges={enum.max_edges}); rebuilding the full one",
                stacklevel=3,
            )
            return None
        return enum

    enum = try_load()
    if enum is not None:
        return enum
    with _build_lock(target):
        # Another process may have built it while we waited for the lock.
        if target.exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                enum = try_load()
            if enum is not None:
                return enum
        enum = build(progress=progress)
        try:
            enum.save(target)
        except OSError as exc:
            warnings.warn(
                f"could not write the enumeration cache {target} ({exc}); it will be rebuilt "
                f"next time (set SEMINAS_CACHE or pass another path to cache it)",
                stacklevel=2,
            )
    return enum


# -- building --------------------------------------------------------------------------------
def _pruned_graphs(n: int, max_edges: int) -> np.ndarray:
    """Edge codes (bit k = k-th pair of the n-vertex upper triangle) of every upper-triangular
    graph on n vertices with at most ``max_edges`` edges in which every vertex lies on an
    input-to-output path, i.e. every graph that is its own pruned form."""
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    codes = np.arange(1 << len(pairs), dtype=np.uint32)
    codes = codes[_popcount(codes) <= max_edges]
    edge = {pair: ((codes >> np.uint32(k)) & np.uint32(1)).astype(bool)
            for k, pair in enumerate(pairs)}
    forward = [np.ones(codes.shape, dtype=bool)]
    for v in range(1, n):
        reach = np.zeros(codes.shape, dtype=bool)
        for u in range(v):
            reach |= forward[u] & edge[(u, v)]
        forward.append(reach)
    backward: list[np.ndarray] = [np.zeros(0, dtype=bool)] * n
    backward[n - 1] = np.ones(codes.shape, dtype=bool)
    for u in range(n - 2, -1, -1):
        reach = np.zeros(codes.shape, dtype=bool)
        for v in range(u + 1, n):
            reach |= edge[(u, v)] & backward[v]
        backward[u] = reach
    keep = np.ones(codes.shape, dtype=bool)
    for v in range(n):
        keep &= forward[v] & backward[v]
    return codes[keep]


def _relabel_tables(n: int, perms: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Lookup tables ``[perm, chunk, value]``: the n*n-bit code (bit ``s(u)*n + s(v)``) of the
    graph whose edge code has ``value`` in 7-bit chunk ``chunk``, after relabeling by ``s``."""
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    chunks = max(1, -(-len(pairs) // _CHUNK_BITS))
    values = np.arange(1 << _CHUNK_BITS, dtype=np.uint64)
    tables = np.zeros((len(perms), chunks, 1 << _CHUNK_BITS), dtype=np.uint64)
    for p, perm in enumerate(perms):
        sigma = (0, *perm, n - 1)
        for k, (u, v) in enumerate(pairs):
            chunk, bit = divmod(k, _CHUNK_BITS)
            target = np.uint64(1 << (sigma[u] * n + sigma[v]))
            has = ((values >> np.uint64(bit)) & np.uint64(1)).astype(bool)
            tables[p, chunk, has] |= target
    return tables


def _relabel(codes: np.ndarray, tables: np.ndarray, p: int) -> np.ndarray:
    out = np.zeros(codes.shape, dtype=np.uint64)
    low = np.uint32((1 << _CHUNK_BITS) - 1)
    for chunk in range(tables.shape[1]):
        out |= tables[p, chunk][(codes >> np.uint32(chunk * _CHUNK_BITS)) & low]
    return out


def _classes(n: int, max_edges: int) -> list[tuple[tuple[tuple[int, int], ...], np.ndarray]]:
    """One (edges, labelings) pair per isomorphism class of labeled n-vertex cells: the edge list
    of a representative graph and the inner-op labelings (rows) that are lexicographically
    minimal in their orbit under the graph's automorphisms."""
    codes = _pruned_graphs(n, max_edges)
    if len(codes) == 0:
        return []
    k = n - 2
    perms = list(itertools.permutations(range(1, n - 1)))  # the first one is the identity
    tables = _relabel_tables(n, perms)
    canon = _relabel(codes, tables, 0)
    for p in range(1, len(perms)):
        np.minimum(canon, _relabel(codes, tables, p), out=canon)
    _, first = np.unique(canon, return_index=True)
    reps = codes[np.sort(first)]  # the smallest edge code of each class
    relabeled = np.stack([_relabel(reps, tables, p) for p in range(len(perms))], axis=1)
    is_aut = relabeled == relabeled[:, :1]

    rows = list(itertools.product(range(len(OPS)), repeat=k))
    labelings = np.array(rows, dtype=np.int8).reshape(len(rows), k)
    weights = len(OPS) ** np.arange(k - 1, -1, -1, dtype=np.int64)
    # Under automorphism s the label of inner vertex i moves to s(i): index of the moved labeling.
    moved = np.stack(
        [labelings.astype(np.int64) @ weights[np.asarray(perm, dtype=np.int64) - 1]
         for perm in perms]
    )
    own = np.arange(len(labelings))
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    out = []
    for r, code in enumerate(reps.tolist()):
        orbit_min = moved[is_aut[r]].min(axis=0)
        edges = tuple(pair for b, pair in enumerate(pairs) if code >> b & 1)
        out.append((edges, labelings[own <= orbit_min]))
    return out


def _sorted_join(names: Sequence[str]) -> str:
    """Source of an expression: the named hex strings, sorted and concatenated."""
    if not names:
        return '""'
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        a, b = names
        return f"({a} + {b} if {a} < {b} else {b} + {a})"
    return f'"".join(sorted(({", ".join(names)},)))'


def _hasher(n: int, edges: Sequence[tuple[int, int]]) -> Callable[[list[list[int]]], list[str]]:
    """The official module hash (see :func:`seminas.spaces.nb101.graph_hash`) specialised to one
    graph: a function from inner-op labelings to hashes.

    Hashing is nearly all of the build time, and about half of it is interpreter overhead on
    loops over neighbour lists; unrolling those loops into generated source (vertex hashes held in
    locals) halves it. The source is built only from integers, and the tests compare its output
    with ``graph_hash``.
    """
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        succs[u].append(v)
        preds[v].append(u)
    md5 = _fast_md5
    namespace: dict[str, object] = {"md5": md5}
    start = []
    for v in range(n):
        degrees = (len(succs[v]), len(preds[v]))
        if v == 0 or v == n - 1:
            label = -1 if v == 0 else -2
            start.append(repr(md5(str((*degrees, label)).encode()).hexdigest()))
        else:
            namespace[f"s{v}"] = tuple(
                md5(str((*degrees, label)).encode()).hexdigest() for label in range(len(OPS))
            )
            start.append(f"s{v}[r[{v - 1}]]")
    names = [f"h{v}" for v in range(n)]
    update = [
        f'md5(({_sorted_join([names[w] for w in preds[v]])} + "|" + '
        f'{_sorted_join([names[w] for w in succs[v]])} + "|" + h{v}).encode()).hexdigest()'
        for v in range(n)
    ]
    source = "\n".join(
        [
            "def hash_labelings(labelings):",
            "    out = []",
            "    for r in labelings:",
            f"        {', '.join(names)}, = {', '.join(start)},",
            f"        for _ in range({n}):",
            f"            {', '.join(names)}, = {', '.join(update)},",
            f"        out.append(md5(str(sorted([{', '.join(names)}])).encode()).hexdigest())",
            "    return out",
        ]
    )
    exec(compile(source, f"<nb101 hasher {n} {list(edges)}>", "exec"), namespace)
    return namespace["hash_labelings"]  # type: ignore[return-value]


def _hash_class(n: int, edges: Sequence[tuple[int, int]], labelings: np.ndarray) -> list[str]:
    """Official module hashes of one graph under each row of ``labelings`` (inner ops)."""
    return _hasher(n, edges)(labelings.tolist())


def _hash_batch(
    batch: Sequence[tuple[int, tuple[tuple[int, int], ...], np.ndarray]],
) -> list[list[str]]:
    return [_hash_class(n, edges, labs) for n, edges, labs in batch]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes that do not inherit this one's threads (the progress bar's)."""
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    from seminas.lifecycle import die_with_process

    return ProcessPoolExecutor(  # workers end with this process: no orphan after a kill -9
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=die_with_process,
        initargs=(os.getpid(),),
    )


def _batches(tasks: list, size: int) -> list[list]:
    """Consecutive tasks grouped into batches of about ``size`` cells (for workers and progress)."""
    out, current, cells = [], [], 0
    for task in tasks:
        current.append(task)
        cells += len(task[2])
        if cells >= size:
            out.append(current)
            current, cells = [], 0
    if current:
        out.append(current)
    return out


def build(
    max_vertices: int = MAX_VERTICES,
    max_edges: int = MAX_EDGES,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> NB101Enumeration:
    """Enumerate every unique cell with at most ``max_vertices`` vertices and ``max_edges`` edges.

    Smaller limits give a part of the space (used to test the builder quickly). ``workers``
    processes hash the cells (default: up to 2, by CPU count; 1 hashes in this process). Its two
    phases (graph classes, hashing) report to ``progress``; silent by default.
    """
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices must be in 2..{MAX_VERTICES}, got {max_vertices}")
    if not 0 <= max_edges <= MAX_EDGES:
        raise ValueError(f"max_edges must be in 0..{MAX_EDGES}, got {max_edges}")
    if workers is None:
        workers = min(2, _cpu_count())

    # a caller still passing the old bool gets silence, not an AttributeError
    report = progress if isinstance(progress, Progress) else NO_PROGRESS
    tasks: list[tuple[int, tuple[tuple[int, int], ...], np.ndarray]] = []
    try:
        sizes = range(2, max_vertices + 1)
        report.start("NAS-Bench-101: graph classes", len(sizes), "vertex counts")
        for n in sizes:
            tasks.extend((n, edges, labs) for edges, labs in _classes(n, max_edges))
            report.advance()
        report.finish()
        total = sum(len(t[2]) for t in tasks)
        report.start("NAS-Bench-101: hashing cells", total, "cells")
        batches = _batches(tasks, size=_BATCH_CELLS)
        results: list[list[list[str]]] = []
        if workers > 1 and len(batches) > 1:
            with _pool(workers) as pool:
                for batch, hashed in zip(batches, pool.map(_hash_batch, batches), strict=True):
                    results.append(hashed)
                    report.advance(sum(len(t[2]) for t in batch))
        else:
            for batch in batches:
                results.append(_hash_batch(batch))
                report.advance(sum(len(t[2]) for t in batch))
    finally:
        report.finish()

    masks = np.zeros(total, dtype=np.uint32)
    num_vertices = np.zeros(total, dtype=np.uint8)
    ops = np.full((total, NUM_INNER), NO_OP, dtype=np.int8)
    hashes = np.zeros(total, dtype=HASH_DTYPE)
    row = 0
    flat = (hashed for batch_result in results for hashed in batch_result)
    for (n, edges, labs), hashed in zip(tasks, flat, strict=True):
        count = len(labs)
        masks[row : row + count] = sum(1 << _BIT_OF_PAIR[pair] for pair in edges)
        num_vertices[row : row + count] = n
        ops[row : row + count, : n - 2] = labs
        hashes[row : row + count] = hashed
        row += count
    order = np.argsort(hashes, kind="stable")
    hashes, masks, num_vertices, ops = hashes[order], masks[order], num_vertices[order], ops[order]
    if np.any(hashes[1:] == hashes[:-1]):
        dup = int(np.count_nonzero(hashes[1:] == hashes[:-1]))
        raise RuntimeError(f"{dup} module hashes are shared by non-isomorphic cells (a bug)")
    if max_vertices == MAX_VERTICES and max_edges == MAX_EDGES and total != NB101_SIZE:
        raise RuntimeError(f"enumerated {total} unique cells, expected {NB101_SIZE} (a bug)")
    return NB101Enumeration(
        hashes, masks, num_vertices, ops, max_vertices=max_vertices, max_edges=max_edges
    )
