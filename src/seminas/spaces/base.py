"""The one abstraction every search space implements.

A strategy only talks to this interface: it samples, validates, identifies, encodes, decodes and
mutates architectures without knowing which space it is in. Architectures are immutable, hashable
Python objects owned by their space; ``arch_id`` is the canonical identity (isomorphic cells share
it), so deduplication and query accounting never depend on a representation detail.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from seminas.errors import InvalidArchitectureError, SeminasError

A = TypeVar("A")

PAD_TOKEN = 0  # start-of-sequence for the decoder and padding for shorter encodings


def sample_by_permutation(
    space: Any, size: int, n: int, rng: np.random.Generator, excluded: set[str]
) -> list[Any]:
    """Up to ``n`` architectures of a listable space whose ids are not in ``excluded``, in the
    order of one random permutation of its ``size`` codes (``space.from_code``): for a dense
    request, where drawing and rejecting would mostly meet repeats."""
    out = []
    for code in rng.permutation(size):
        arch = space.from_code(int(code))
        if space.arch_id(arch) not in excluded:
            out.append(arch)
            if len(out) == n:
                break
    return out


class SearchSpace(ABC, Generic[A]):
    """A set of architectures with a fixed-length token encoding.

    Tokens are integers in ``[0, vocab_size)``; token 0 is reserved as the decoder's start token
    (and padding where an encoding is shorter than ``seq_len``).
    """

    name: str = "space"
    seq_len: int
    vocab_size: int

    # -- identity and validity -------------------------------------------------------------
    @abstractmethod
    def validate(self, arch: Any) -> A:
        """Return the canonical form of ``arch``, or raise :class:`InvalidArchitectureError`."""

    @abstractmethod
    def arch_id(self, arch: A) -> str:
        """Canonical id: equal for architectures that are the same network."""

    # -- token encoding --------------------------------------------------------------------
    @abstractmethod
    def encode(self, arch: A) -> list[int]:
        """Token sequence of length ``seq_len``."""

    @abstractmethod
    def decode(self, tokens: Sequence[int]) -> A:
        """Inverse of :meth:`encode`; raises :class:`InvalidArchitectureError` with the reason."""

    @abstractmethod
    def token_mask(self) -> np.ndarray:
        """Boolean array ``[seq_len, vocab_size]``: which tokens may stand at each position."""

    def allowed_tokens(self, position: int) -> list[int]:
        return [int(t) for t in np.flatnonzero(self.token_mask()[position])]

    def position_labels(self) -> list[tuple[str, dict[int, Any]]]:
        """A readable name for each token position and what each token allowed there stands
        for, so that an architecture can be shown as named choices (one Optuna parameter per
        position, see :mod:`seminas.integrations.optuna_export`). Names are distinct, and so
        are the labels of one position. By default ``token_i`` and the token numbers."""
        mask = self.token_mask()
        return [
            (f"token_{i}", {int(t): int(t) for t in np.flatnonzero(mask[i])})
            for i in range(self.seq_len)
        ]

    def encode_many(self, archs: Iterable[A]) -> np.ndarray:
        return np.asarray([self.encode(a) for a in archs], dtype=np.int64).reshape(
            -1, self.seq_len
        )

    def try_validate(self, arch: Any) -> A | None:
        try:
            return self.validate(arch)
        except InvalidArchitectureError:
            return None

    def try_decode(self, tokens: Sequence[int]) -> A | None:
        try:
            return self.decode(tokens)
        except InvalidArchitectureError:
            return None

    # -- sampling and neighbourhoods ------------------------------------------------------
    @abstractmethod
    def sample_one(self, rng: np.random.Generator) -> A:
        """One architecture drawn (as uniformly over unique cells as the space allows)."""

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        exclude: Iterable[str] = (),
        max_attempts_factor: int = 50,
    ) -> list[A]:
        """``n`` architectures with distinct ids, none of whose id is in ``exclude``."""
        seen = set(exclude)
        out: list[A] = []
        attempts = 0
        limit = max(1000, max_attempts_factor * n)
        while len(out) < n:
            if attempts >= limit:
                raise SeminasError(
                    f"could only draw {len(out)} of {n} unique architectures from space "
                    f"{self.name!r} after {attempts} attempts: ask for fewer"
                )
            attempts += 1
            arch = self.sample_one(rng)
            key = self.arch_id(arch)
            if key not in seen:
                seen.add(key)
                out.append(arch)
        return out

    @abstractmethod
    def neighbours(self, arch: A) -> list[A]:
        """All architectures one edit away (distinct ids, excluding ``arch`` itself)."""

    def mutate(self, arch: A, rng: np.random.Generator) -> A:
        """A random neighbour; spaces may override with a published mutation operator."""
        options = self.neighbours(arch)
        return options[int(rng.integers(len(options)))]

    # -- native notation -----------------------------------------------------------------
    @abstractmethod
    def to_native(self, arch: A) -> Any:
        """JSON-serialisable form in the space's usual notation."""

    @abstractmethod
    def from_native(self, obj: Any) -> A:
        """Parse the space's usual notation (validated)."""

    @property
    def size(self) -> int | None:
        """Number of unique architectures, where known."""
        return None

    def available(self, wanted: int, exclude: Iterable[str] = ()) -> int:
        """How many of ``wanted`` new architectures the space can still offer when the ids in
        ``exclude`` are taken (all ``wanted`` when its size is unknown), so that a search near
        exhaustion draws what remains instead of failing."""
        size = self.size
        if size is None:
            return max(0, int(wanted))
        taken = len(exclude) if isinstance(exclude, (set, frozenset, dict)) else len(set(exclude))
        return max(0, min(int(wanted), size - taken))

    def check_budget(self, budget: int) -> None:
        """Refuse, before any work, a budget above the number of architectures in the space."""
        size = self.size
        if size is not None and budget > size:
            raise SeminasError(
                f"budget {budget:,} is more than the {size:,} architectures of space "
                f"{self.name!r}: every query is a distinct architecture, so ask for at most "
                f"{size:,}"
            )
