"""A generic search space: a product of categorical and integer parameters.

Any search over named discrete choices -- an Optuna objective's ``suggest_categorical`` and
``suggest_int`` calls, a hyper-parameter grid, a cell written out as one operation per edge --
is an architecture of this space, so every seminas strategy runs on it unchanged:

- An architecture is :class:`CategoricalArch`, the index of each parameter's value; its id is
  those indices joined by ``-`` and its native notation the ``{name: value}`` mapping.
- Tokens: 0 is the decoder's start token. Parameters with the same list of values share one
  block of tokens (value ``i`` of the list is the block's token ``i + 1``), so a cell whose six
  edges all choose from the same five operations has six tokens over a vocabulary of six, as
  the NAS-Bench-201 space itself; :meth:`CategoricalSpace.token_mask` allows at each position
  only the block of its parameter, so the controller decodes valid architectures only.
- Predictor features (:meth:`CategoricalSpace.predictor_features`): the one-hot of each
  categorical parameter's value, and for an integer parameter its value scaled to ``[0, 1]``
  (on a log scale where the parameter is log-scaled), which keeps its order for trees and MLPs.
- A space of at most :data:`CATALOG_LIMIT` architectures lists them all
  (:meth:`CategoricalSpace.catalog`), so GBDT-NAS and WeakNAS rank the whole space each round,
  as they do on NAS-Bench-201.
- A neighbour changes one parameter to any other of its values (integers included: no step
  size is assumed to be meaningful); a mutation is a uniformly drawn neighbour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.base import SearchSpace, sample_by_permutation

if TYPE_CHECKING:
    from seminas.spaces.catalog import Catalog

CATALOG_LIMIT = 200_000  # largest space whose every architecture is listed for ranking
KINDS = ("categorical", "int")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True`` is not ``1``; ``1.0`` is not ``1``)."""
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN equals NaN here


@dataclass(frozen=True)
class Parameter:
    """One named choice: a categorical parameter's values, or an integer range (as values)."""

    name: str
    choices: tuple[Any, ...]
    kind: str = "categorical"
    log: bool = False  # an integer parameter whose features are on a log scale

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SeminasError(f"a parameter needs a non-empty name, got {self.name!r}")
        if self.kind not in KINDS:
            raise SeminasError(
                f"parameter {self.name!r}: kind must be one of {', '.join(KINDS)}, got "
                f"{self.kind!r}"
            )
        choices = tuple(self.choices)
        object.__setattr__(self, "choices", choices)
        if not choices:
            raise SeminasError(f"parameter {self.name!r} has no values")
        for i, value in enumerate(choices):
            if any(_same(value, other) for other in choices[:i]):
                raise SeminasError(f"parameter {self.name!r} lists the value {value!r} twice")
        if self.kind == "int":
            if not all(type(v) is int for v in choices):
                raise SeminasError(f"integer parameter {self.name!r} has non-integer values")
            if list(choices) != sorted(choices):
                raise SeminasError(f"integer parameter {self.name!r}: values must increase")
            if self.log and choices[0] < 1:
                raise SeminasError(
                    f"integer parameter {self.name!r} is log-scaled: values must be >= 1"
                )

    @classmethod
    def integer(cls, name: str, low: int, high: int, step: int = 1, log: bool = False) -> Parameter:
        """The integers ``low, low + step, ..., <= high`` (Optuna's ``suggest_int`` range)."""
        if step < 1 or high < low:
            raise SeminasError(
                f"integer parameter {name!r}: need low <= high and step >= 1, got "
                f"low={low}, high={high}, step={step}"
            )
        return cls(name, tuple(range(int(low), int(high) + 1, int(step))), "int", bool(log))

    def __len__(self) -> int:
        return len(self.choices)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (same type required), else an
        :class:`InvalidArchitectureError` naming the allowed values."""
        for i, choice in enumerate(self.choices):
            if _same(choice, value):
                return i
        if (
            self.kind == "int"
            and isinstance(value, (int, np.integer))
            and not isinstance(value, bool)
        ):
            for i, choice in enumerate(self.choices):
                if choice == int(value):
                    return i
        shown = ", ".join(repr(c) for c in self.choices[:10])
        more = ", ..." if len(self.choices) > 10 else ""
        raise InvalidArchitectureError(
            f"{value!r} is not a value of parameter {self.name!r} (allowed: {shown}{more})"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "choices": list(self.choices),
            "log": self.log,
        }


@dataclass(frozen=True)
class CategoricalArch:
    """The index of each parameter's value, in the space's parameter order."""

    indices: tuple[int, ...]


class CategoricalSpace(SearchSpace[CategoricalArch]):
    """The product of ``parameters`` (see the module docstring)."""

    name = "categorical"

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        params = tuple(parameters)
        if not params:
            raise SeminasError("a categorical space needs at least one parameter")
        names = [p.name for p in params]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise SeminasError(f"parameter name(s) used twice: {', '.join(doubles)}")
        self.parameters = params
        self.names = tuple(names)
        self._position = {n: i for i, n in enumerate(names)}
        self.sizes = np.asarray([len(p) for p in params], dtype=np.int64)
        # one block of tokens per distinct value list, in order of first use
        blocks: dict[tuple, int] = {}
        self._offset: list[int] = []
        next_token = 1
        for p in params:
            key = (p.kind, tuple((type(c).__name__, repr(c)) for c in p.choices))
            if key not in blocks:
                blocks[key] = next_token
                next_token += len(p)
            self._offset.append(blocks[key])
        self.seq_len = len(params)
        self.vocab_size = next_token
        self._size = math.prod(len(p) for p in params)
        # mixed-radix weights: code = sum(index[i] * weight[i]); the first parameter varies fastest
        self._weights = [math.prod(len(p) for p in params[:i]) for i in range(len(params))]

    @classmethod
    def from_choices(cls, choices: Mapping[str, Iterable[Any]]) -> CategoricalSpace:
        """A space from ``{name: values}``; a ``range`` becomes an integer parameter."""
        params = []
        for name, values in choices.items():
            if isinstance(values, range):
                params.append(Parameter(name, tuple(values), "int"))
            else:
                params.append(Parameter(name, tuple(values)))
        return cls(params)

    def describe(self) -> list[dict[str, Any]]:
        """The parameters, JSON-serialisable (what identifies the space)."""
        return [p.describe() for p in self.parameters]

    def __repr__(self) -> str:
        inner = ", ".join(f"{p.name}: {len(p)}" for p in self.parameters)
        return f"CategoricalSpace({inner})"

    # -- identity and validity -------------------------------------------------------------
    def validate(self, arch: Any) -> CategoricalArch:
        """Accepts a :class:`CategoricalArch`, a ``{name: value}`` mapping or the values in
        parameter order."""
        if isinstance(arch, CategoricalArch):
            indices = tuple(int(i) for i in arch.indices)
            if len(indices) != self.seq_len:
                raise InvalidArchitectureError(
                    f"architecture has {len(indices)} indices, the space {self.seq_len} parameters"
                )
            for p, i in zip(self.parameters, indices, strict=True):
                if not 0 <= i < len(p):
                    raise InvalidArchitectureError(
                        f"index {i} is out of range for parameter {p.name!r} (0..{len(p) - 1})"
                    )
            return CategoricalArch(indices)
        if isinstance(arch, Mapping):
            missing = [n for n in self.names if n not in arch]
            unknown = sorted(str(k) for k in arch if k not in self._position)
            if missing or unknown:
                parts = []
                if missing:
                    parts.append(f"missing {', '.join(missing)}")
                if unknown:
                    parts.append(f"unknown {', '.join(unknown)}")
                raise InvalidArchitectureError(
                    f"architecture {dict(arch)!r} does not match the space's parameters "
                    f"({'; '.join(parts)})"
                )
            return CategoricalArch(tuple(p.index(arch[p.name]) for p in self.parameters))
        if isinstance(arch, (list, tuple)):
            if len(arch) != self.seq_len:
                raise InvalidArchitectureError(
                    f"architecture needs {self.seq_len} values (one per parameter: "
                    f"{', '.join(self.names)}), got {len(arch)}"
                )
            return CategoricalArch(
                tuple(p.index(v) for p, v in zip(self.parameters, arch, strict=True))
            )
        raise InvalidArchitectureError(
            f"cannot read {arch!r} as an architecture of {self!r}: give a mapping of "
            f"parameter names to values"
        )

    def arch_id(self, arch: CategoricalArch) -> str:
        return "-".join(str(i) for i in arch.indices)

    def values(self, arch: CategoricalArch) -> dict[str, Any]:
        """``{name: value}`` of ``arch``."""
        return {p.name: p.choices[i] for p, i in zip(self.parameters, arch.indices, strict=True)}

    # -- token encoding --------------------------------------------------------------------
    def encode(self, arch: CategoricalArch) -> list[int]:
        return [off + i for off, i in zip(self._offset, arch.indices, strict=True)]

    def decode(self, tokens: Sequence[int]) -> CategoricalArch:
        tokens = [int(t) for t in tokens]
        if len(tokens) != self.seq_len:
            raise InvalidArchitectureError(
                f"token sequence must have length {self.seq_len}, got {len(tokens)}"
            )
        indices = []
        for pos, (tok, off, p) in enumerate(
            zip(tokens, self._offset, self.parameters, strict=True)
        ):
            if not off <= tok < off + len(p):
                raise InvalidArchitectureError(
                    f"token {tok} at position {pos} is not a value of parameter {p.name!r} "
                    f"(allowed {off}..{off + len(p) - 1})"
                )
            indices.append(tok - off)
        return CategoricalArch(tuple(indices))

    def token_mask(self) -> np.ndarray:
        mask = np.zeros((self.seq_len, self.vocab_size), dtype=bool)
        for pos, (off, p) in enumerate(zip(self._offset, self.parameters, strict=True)):
            mask[pos, off : off + len(p)] = True
        return mask

    def position_labels(self) -> list[tuple[str, dict[int, Any]]]:
        """Each parameter's name with its values, by token."""
        return [
            (p.name, {off + i: value for i, value in enumerate(p.choices)})
            for off, p in zip(self._offset, self.parameters, strict=True)
        ]

    # -- sampling and neighbourhoods ------------------------------------------------------
    def sample_one(self, rng: np.random.Generator) -> CategoricalArch:
        return CategoricalArch(tuple(int(i) for i in rng.integers(self.sizes)))

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        exclude: Iterable[str] = (),
        max_attempts_factor: int = 50,
    ) -> list[CategoricalArch]:
        """As :meth:`SearchSpace.sample`; a dense request (more than a quarter of a listable
        space) walks a random permutation instead of rejecting draws. The same draws as the
        NAS-Bench-201 space's for the same sizes."""
        excluded = set(exclude)
        size = self._size
        if size <= CATALOG_LIMIT and size // 4 < n <= size - len(excluded):
            return sample_by_permutation(self, size, n, rng, excluded)
        return super().sample(n, rng, excluded, max_attempts_factor)

    def neighbours(self, arch: CategoricalArch) -> list[CategoricalArch]:
        out = []
        for k, p in enumerate(self.parameters):
            for i in range(len(p)):
                if i != arch.indices[k]:
                    indices = list(arch.indices)
                    indices[k] = i
                    out.append(CategoricalArch(tuple(indices)))
        return out

    # -- native notation -----------------------------------------------------------------
    def to_native(self, arch: CategoricalArch) -> dict[str, Any]:
        return self.values(arch)

    def from_native(self, obj: Any) -> CategoricalArch:
        return self.validate(obj)

    @property
    def size(self) -> int:
        return self._size

    # -- dense codes (enumeration) -----------------------------------------------------------
    def code(self, arch: CategoricalArch) -> int:
        return sum(i * w for i, w in zip(arch.indices, self._weights, strict=True))

    def from_code(self, code: int) -> CategoricalArch:
        if not 0 <= code < self._size:
            raise InvalidArchitectureError(f"code {code} is out of range (0..{self._size - 1})")
        indices = []
        for p in self.parameters:
            indices.append(code % len(p))
            code //= len(p)
        return CategoricalArch(tuple(indices))

    def _codes_indices(self, codes: np.ndarray) -> np.ndarray:
        """``[len(codes), seq_len]`` value indices of the cells with the given codes."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.empty((len(codes), self.seq_len), dtype=np.int64)
        rest = codes.copy()
        for k, n in enumerate(self.sizes):
            out[:, k] = rest % n
            rest //= n
        return out

    # -- predictor features ----------------------------------------------------------------
    @property
    def num_features(self) -> int:
        return sum(1 if p.kind == "int" else len(p) for p in self.parameters)

    def _features_of_indices(self, indices: np.ndarray) -> np.ndarray:
        rows = indices.shape[0]
        out = np.zeros((rows, self.num_features), dtype=np.float32)
        col = 0
        for k, p in enumerate(self.parameters):
            idx = indices[:, k]
            if p.kind == "int":
                values = np.asarray(p.choices, dtype=np.float64)
                if p.log:
                    values = np.log(values)
                span = values[-1] - values[0]
                scaled = (values - values[0]) / span if span > 0 else np.zeros_like(values)
                out[:, col] = scaled[idx]
                col += 1
            else:
                if rows:
                    out[np.arange(rows), col + idx] = 1.0
                col += len(p)
        return out

    def predictor_features(self, archs: Sequence[CategoricalArch]) -> np.ndarray:
        """The flat encoding predictors read (see the module docstring): float32
        ``[len(archs), num_features]``."""
        indices = np.asarray([a.indices for a in archs], dtype=np.int64).reshape(-1, self.seq_len)
        return self._features_of_indices(indices)

    def catalog(self) -> Catalog | None:
        """Every architecture with its features, for strategies that rank the whole space;
        ``None`` above :data:`CATALOG_LIMIT` architectures."""
        if self._size > CATALOG_LIMIT:
            return None
        from seminas.spaces.catalog import Catalog

        codes = np.arange(self._size, dtype=np.int64)
        feats = self._features_of_indices(self._codes_indices(codes))
        weights = np.asarray(self._weights, dtype=np.int64)
        sizes = self.sizes

        def indices_of(ids: list[str]) -> np.ndarray:
            out = np.full(len(ids), -1, dtype=np.int64)
            for j, key in enumerate(ids):
                parts = key.split("-")
                if len(parts) != self.seq_len or not all(s.isdigit() for s in parts):
                    continue
                idx = np.asarray([int(s) for s in parts], dtype=np.int64)
                if np.all(idx < sizes):
                    out[j] = int(idx @ weights)
            return out

        return Catalog(feats, self.from_code, indices_of)
