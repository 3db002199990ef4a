"""Reading pickles without running code from them.

The official NAS-Bench-201 and NATS-Bench files and NASLib's tables are pickles, and
``pickle.load`` calls whatever function a pickle names (``os.system`` included). Here a pickle can
only *build data*: :func:`resolve_global` answers each global the file asks for from an explicit
allowlist and refuses everything else, before anything is called.

Allowed, and why each is needed:

- ``collections.OrderedDict``, ``builtins.set`` / ``frozenset``: containers of the result dicts.
- ``_codecs.encode`` (Latin-1 only): protocol 2 (``torch.save``) writes ``bytes`` this way, and
  NumPy scalars carry their value as bytes.
- ``numpy.dtype``, ``scalar``, ``_reconstruct``, ``ndarray``, ``_frombuffer`` under both the
  ``numpy.core`` (NumPy 1) and ``numpy._core`` (NumPy 2) names: parameter counts and latencies are
  NumPy scalars. Only numeric and boolean dtypes are built (never ``object``).
- torch's tensor and storage rebuild helpers: the NATS-Bench ``-full`` archive keeps network
  weights. They are *not* rebuilt: each resolves to :func:`_dropped`, which ignores its arguments,
  so the weights are discarded unread and torch is never imported.

Why not ``torch.load(weights_only=True)`` with ``safe_globals``: it also allowlists, but it
builds the whole multi-GB object graph in memory (the 4.7 GB ``.pth`` is then >20 GB of Python
objects) and it needs torch for files that contain no tensors. :class:`StreamingUnpickler` below
converts cell by cell instead.

Two unpicklers share the allowlist: :class:`RestrictedUnpickler` (the C unpickler, fast, for
files of a few MB such as one cell of a NATS-Bench archive) and :class:`StreamingUnpickler` (the
pure-Python unpickler, slower, but it hands each completed cell to a callback and forgets it, so
memory stays flat whatever the file size).
"""

from __future__ import annotations

import collections
import pickle
import re
import struct
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from seminas.errors import SeminasError

__all__ = [
    "DROPPED",
    "RefusedPickle",
    "RestrictedUnpickler",
    "StreamingUnpickler",
    "resolve_global",
]

_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: never object/void/str


class RefusedPickle(SeminasError):
    """A pickle that asks for something no benchmark file needs (possibly a malicious file)."""


class _Dropped:
    """Stands in for network weights that were skipped without being deserialised."""

    _instance: _Dropped | None = None

    def __new__(cls) -> _Dropped:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __setstate__(self, state: Any) -> None:  # BUILD on a dropped object: ignore
        return None

    def __repr__(self) -> str:
        return "<dropped weights>"


DROPPED = _Dropped()


def _dropped(*args: Any, **kwargs: Any) -> _Dropped:
    """Any torch rebuild helper: returns the placeholder and never looks at the data."""
    return DROPPED


def _numeric_dtype(dt: Any) -> np.dtype:
    if not isinstance(dt, np.dtype) or dt.kind not in _NUMERIC_KINDS or dt.fields is not None:
        raise RefusedPickle(f"only numeric NumPy dtypes are allowed, not {dt!r}")
    return dt


def _safe_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    # copy=True always: NumPy's builtin dtypes are shared singletons, and BUILD (setstate) on a
    # shared one would change it for the whole process.
    if not isinstance(spec, str) or len(spec) > 8:
        raise RefusedPickle(f"refused NumPy dtype {spec!r}")
    try:
        dt = np.dtype(spec, align=bool(align), copy=True)
    except TypeError:
        raise RefusedPickle(f"refused NumPy dtype {spec!r}") from None
    return _numeric_dtype(dt)


def _safe_scalar(dtype: Any, data: Any = None) -> Any:
    dt = _numeric_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise RefusedPickle(f"a NumPy {dt} scalar needs {dt.itemsize} bytes of data")
    return np.frombuffer(data, dtype=dt)[0]


class _Marker:
    """A name a pickle may mention but not call (``numpy.ndarray`` as the type argument of
    ``_reconstruct``): calling the real class could allocate an array of any size."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __setstate__(self, state: Any) -> None:
        raise RefusedPickle(f"refused to modify {self.name}")


_NDARRAY = _Marker("numpy.ndarray")


def _safe_reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if subtype is not _NDARRAY:
        raise RefusedPickle(f"refused array type {subtype!r}")
    # An empty array; the BUILD that follows sets shape, (numeric) dtype and data.
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    dt = _numeric_dtype(dtype)
    if not isinstance(buf, (bytes, bytearray)):
        raise RefusedPickle("a NumPy array buffer must be bytes")
    arr = np.frombuffer(bytes(buf), dtype=dt)
    return arr.reshape(tuple(int(s) for s in shape), order="F" if order == "F" else "C")


def _latin1_encode(text: Any, encoding: Any = "latin1", errors: Any = "strict") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle("_codecs.encode is allowed only to turn Latin-1 text into bytes")
    return text.encode("latin1")


def _torch_size(*args: Any) -> tuple:
    return tuple(args[0]) if args else ()


class _Guarded:
    """An allowed function as the pickle sees it: callable, but immune to BUILD (which would
    otherwise let a pickle set attributes such as ``__defaults__`` on our own functions)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __setstate__(self, state: Any) -> None:
        raise RefusedPickle(f"refused to modify {self.fn.__name__}")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _Guarded(_latin1_encode),
    ("numpy", "dtype"): _Guarded(_safe_dtype),
    ("numpy", "ndarray"): _NDARRAY,
    ("torch", "Size"): _Guarded(_torch_size),
}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _Guarded(_safe_scalar)
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _Guarded(_safe_reconstruct)
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _Guarded(_safe_frombuffer)
_DROP = _Guarded(_dropped)
for _name in (
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
):
    _ALLOWED[("torch._utils", _name)] = _DROP
_ALLOWED[("torch._tensor", "_rebuild_from_type_v2")] = _DROP
_ALLOWED[("torch.storage", "_load_from_bytes")] = _DROP
_TORCH_STORAGE = re.compile(
    r"^(Untyped|Typed|Float|Double|Half|BFloat16|Long|Int|Short|Char|Byte|Bool)Storage$"
)


def resolve_global(module: str, name: str, source: str) -> Any:
    """The object an allowed global stands for; :class:`RefusedPickle` for anything else."""
    found = _ALLOWED.get((module, name))
    if found is not None:
        return found
    if module == "torch" and _TORCH_STORAGE.match(name):
        return _DROP
    raise RefusedPickle(
        f"refused to load {source}: it asks to call {module}.{name}, which no benchmark file "
        f"needs (nothing was run; the file is damaged, of another kind, or malicious)"
    )


def _persistent(pid: Any, source: str) -> Any:
    # torch's zip format refers to tensor storages by persistent id ('storage', type, key, ...).
    if isinstance(pid, tuple) and pid and pid[0] == "storage":
        return DROPPED
    raise RefusedPickle(f"refused to load {source}: unknown persistent reference {pid!r:.60}")


class RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler limited to the allowlist (for files of a few MB)."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        return resolve_global(module, name, self._source)

    def persistent_load(self, pid: Any) -> Any:
        return _persistent(pid, self._source)


# -- streaming ----------------------------------------------------------------------------------
# Memo entries that are released when a cell has been consumed: its containers, and the
# per-epoch key strings ("x-valid@17"), which the files create afresh for every run.
_EPOCH_KEY = re.compile(r"^[\w.-]+@\d+$")
_RELEASABLE = (dict, list, set, frozenset, tuple, bytes, bytearray, np.ndarray)
_F8 = struct.Struct(">d").unpack
_U4 = struct.Struct("<I").unpack

ItemsHook = Callable[["StreamingUnpickler", Any, list], bool]


class StreamingUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """The pure-Python unpickler with the allowlist and a hook on dict items.

    ``on_items(unpickler, target, items)`` is called whenever a dict is about to receive
    ``items`` (a flat ``[key, value, key, value...]`` list); when it returns True the items are
    *not* stored (the hook has consumed them, typically one complete cell) and the memo entries
    created since the previous consumption are released, so the cell's objects can be freed. A
    later reference to a released entry fails loudly instead of reading wrong data.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: IO[bytes], source: str, on_items: ItemsHook) -> None:
        super().__init__(file)
        self._stream = file
        self._source = source
        self._on_items = on_items
        self.memo: dict[int, Any] = {}
        self._memo_next = 0
        self._released_to = 0
        self._strings: dict[str, str] = {}

    def find_class(self, module: str, name: str) -> Any:
        return resolve_global(module, name, self._source)

    def persistent_load(self, pid: Any) -> Any:
        return _persistent(pid, self._source)

    def key_below(self) -> Any:
        """The key under which the dict now receiving items will itself be stored (the element
        below it on the stack), or None at the top level."""
        return self.stack[-2] if len(self.stack) >= 2 else None

    # -- the loop ------------------------------------------------------------------------------
    def load(self) -> Any:
        """Unpickle; a pickle of protocol 2 or 3 (``torch.save`` writes 2) cannot hold frames,
        so its opcodes are read straight from the buffered file instead of through the framing
        layer, about a quarter faster."""
        peek = getattr(self._stream, "peek", None)
        head = peek(2)[:2] if peek is not None else b""
        if not (len(head) == 2 and head[0] == 0x80 and head[1] in (2, 3)):
            return super().load()
        self.read = self._stream.read
        self.readline = self._stream.readline
        self.readinto = self._stream.readinto
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read = self.read
        dispatch = self.dispatch
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError("pickle data was truncated")
                dispatch[key[0]](self)
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value

    # -- the most frequent opcodes, with fewer calls per opcode ---------------------------------
    def load_binfloat(self) -> None:
        self.append(_F8(self.read(8))[0])

    def load_binint1(self) -> None:
        self.append(self.read(1)[0])

    def load_binunicode(self) -> None:
        (n,) = _U4(self.read(4))
        data = self.read(n)
        if len(data) != n:
            raise EOFError("pickle data was truncated")
        self.append(str(data, "utf-8", "surrogatepass"))

    def load_short_binunicode(self) -> None:
        n = self.read(1)[0]
        data = self.read(n)
        if len(data) != n:
            raise EOFError("pickle data was truncated")
        self.append(str(data, "utf-8", "surrogatepass"))

    # -- memo ---------------------------------------------------------------------------------
    def _put(self, i: int) -> None:
        self.memo[i] = self.stack[-1]
        if i >= self._memo_next:
            self._memo_next = i + 1

    def _missing(self, i: int) -> None:
        if i < self._released_to:
            raise SeminasError(
                f"{self._source}: the pickle refers back to data of a cell already converted "
                f"(memo {i}), a layout seminas does not expect from this format"
            )
        raise pickle.UnpicklingError(f"memo entry {i} was never set")

    def _release(self) -> None:
        memo, strings = self.memo, self._strings
        for i in range(self._released_to, self._memo_next):
            obj = memo.get(i)
            if obj is None:
                continue
            if isinstance(obj, _RELEASABLE) or (isinstance(obj, str) and _EPOCH_KEY.match(obj)):
                del memo[i]
            elif isinstance(obj, str):
                memo[i] = strings.setdefault(obj, obj)
        self._released_to = self._memo_next

    def load_memoize(self) -> None:
        self._put(self._memo_next)

    def load_put(self) -> None:
        self._put(int(self.readline()[:-1].decode("ascii")))

    def load_binput(self) -> None:
        i = self.read(1)[0]
        self.memo[i] = self.stack[-1]
        if i >= self._memo_next:
            self._memo_next = i + 1

    def load_long_binput(self) -> None:
        (i,) = _U4(self.read(4))
        self.memo[i] = self.stack[-1]
        if i >= self._memo_next:
            self._memo_next = i + 1

    def load_get(self) -> None:
        i = int(self.readline()[:-1].decode("ascii"))
        if i not in self.memo:
            self._missing(i)
        self.append(self.memo[i])

    def load_binget(self) -> None:
        i = self.read(1)[0]
        try:
            self.append(self.memo[i])
        except KeyError:
            self._missing(i)

    def load_long_binget(self) -> None:
        (i,) = _U4(self.read(4))
        try:
            self.append(self.memo[i])
        except KeyError:
            self._missing(i)

    # -- dict items ---------------------------------------------------------------------------
    def load_setitem(self) -> None:
        stack = self.stack
        value = stack.pop()
        key = stack.pop()
        target = stack[-1]
        if self._on_items(self, target, [key, value]):
            self._release()
            return
        target[key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if self._on_items(self, target, items):
            self._release()
            return
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    dispatch[pickle.BINFLOAT[0]] = load_binfloat
    dispatch[pickle.BININT1[0]] = load_binint1
    dispatch[pickle.BINUNICODE[0]] = load_binunicode
    dispatch[pickle.SHORT_BINUNICODE[0]] = load_short_binunicode
    dispatch[pickle.MEMOIZE[0]] = load_memoize
    dispatch[pickle.PUT[0]] = load_put
    dispatch[pickle.BINPUT[0]] = load_binput
    dispatch[pickle.LONG_BINPUT[0]] = load_long_binput
    dispatch[pickle.GET[0]] = load_get
    dispatch[pickle.BINGET[0]] = load_binget
    dispatch[pickle.LONG_BINGET[0]] = load_long_binget
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
