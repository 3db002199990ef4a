"""Every architecture of a finite space with its features, built once per space.

GBDT-NAS and WeakNAS rank the *whole* search space with their predictor each round (both papers
do so on NAS-Bench-101 and -201). A :class:`Catalog` makes that cheap: the features of all cells
are computed once (vectorised where the space allows) and an architecture object is built only
for the few cells that are picked. Spaces that cannot list their cells get no catalog; strategies
then rank a fresh random sample instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from seminas.predictors.encoding import (
    nb101_enumeration_features,
    nb101_features,
    nb201_code_features,
)
from seminas.spaces.base import SearchSpace
from seminas.spaces.nb101 import NB101Space, SpecPool
from seminas.spaces.nb201 import NB201Space


class Catalog:
    """``features[i]`` is cell ``i``'s flat encoding; :meth:`arch` builds cell ``i``."""

    def __init__(
        self,
        features: np.ndarray,
        arch: Callable[[int], Any],
        indices_of: Callable[[list[str]], np.ndarray],
    ) -> None:
        self.features = features
        self._arch = arch
        self._indices_of = indices_of

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def arch(self, i: int) -> Any:
        return self._arch(int(i))

    def indices(self, ids: Iterable[str]) -> np.ndarray:
        """Positions of the given architecture ids (ids outside the catalog are dropped)."""
        found = self._indices_of(list(ids))
        return found[found >= 0]

    def mask(self, ids: Iterable[str]) -> np.ndarray:
        """Boolean mask over the catalog: True for the given ids."""
        out = np.zeros(len(self), dtype=bool)
        out[self.indices(ids)] = True
        return out


def _dict_lookup(index: dict[str, int]) -> Callable[[list[str]], np.ndarray]:
    def lookup(ids: list[str]) -> np.ndarray:
        return np.asarray([index.get(i, -1) for i in ids], dtype=np.int64)

    return lookup


def _nb201_catalog(space: NB201Space) -> Catalog:
    codes = np.arange(space.size)
    archs = [space.from_code(int(c)) for c in codes]
    index = {space.arch_id(a): i for i, a in enumerate(archs)}
    return Catalog(nb201_code_features(codes), archs.__getitem__, _dict_lookup(index))


def _nb101_catalog(space: NB101Space) -> Catalog | None:
    enum = space.enumeration
    if enum is None:
        return None
    if isinstance(enum, SpecPool):
        index = {h: i for i, h in enumerate(enum.hashes)}
        return Catalog(nb101_features(enum.specs), enum.spec, _dict_lookup(index))
    return Catalog(nb101_enumeration_features(enum), enum.spec, enum.indices_of)


_CACHE: weakref.WeakKeyDictionary[SearchSpace, Catalog | None] = weakref.WeakKeyDictionary()


def catalog_for(space: SearchSpace) -> Catalog | None:
    """The space's catalog (cached while the space lives), or ``None`` if it cannot list cells."""
    try:
        return _CACHE[space]
    except (KeyError, TypeError):
        pass
    if isinstance(space, NB201Space):
        catalog: Catalog | None = _nb201_catalog(space)
    elif isinstance(space, NB101Space):
        catalog = _nb101_catalog(space)
    else:
        catalog = None
    try:
        _CACHE[space] = catalog
    except TypeError:  # an unhashable space: no caching
        pass
    return catalog
