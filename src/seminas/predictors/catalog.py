"""Every architecture of a finite space with its features, built once per space.

GBDT-NAS and WeakNAS rank the *whole* search space with their predictor each round (both papers
do so on NAS-Bench-101 and -201). A :class:`Catalog` makes that cheap: the features of all cells
are computed once (vectorised where the space allows) and an architecture object is built only
for the few cells that are picked. A space's registry entry (:class:`seminas.registry.SpaceEntry`)
names the function that builds its catalog; spaces without one cannot list their cells, and
strategies then rank a fresh random sample instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from seminas.predictors.encoding import (
    nb101_enumeration_features,
    nb101_features,
    nb201_code_features,
)
from seminas.spaces.base import SearchSpace
from seminas.spaces.catalog import Catalog
from seminas.spaces.nb101 import NB101Space, SpecPool
from seminas.spaces.nb201 import NB201Space


def _dict_lookup(index: dict[str, int]) -> Callable[[list[str]], np.ndarray]:
    def lookup(ids: list[str]) -> np.ndarray:
        return np.asarray([index.get(i, -1) for i in ids], dtype=np.int64)

    return lookup


def nb201_catalog(space: NB201Space) -> Catalog:
    """Every NAS-Bench-201 cell, in the order of its dense code."""
    codes = np.arange(space.size)
    archs = [space.from_code(int(c)) for c in codes]
    index = {space.arch_id(a): i for i, a in enumerate(archs)}
    return Catalog(nb201_code_features(codes), archs.__getitem__, _dict_lookup(index))


def nb101_catalog(space: NB101Space) -> Catalog | None:
    """The cells the space samples from: its enumeration, or the pool of a partial table."""
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
    from seminas.registry import resolve, space_entry_for

    entry = space_entry_for(space)  # the registered space's own catalog, if it has one
    catalog: Catalog | None = None
    if entry is not None and entry.catalog is not None:
        catalog = resolve(entry.catalog)(space)
    elif entry is None and callable(getattr(space, "catalog", None)):
        catalog = space.catalog()  # a space built at run time that lists its own cells
    try:
        _CACHE[space] = catalog
    except TypeError:  # an unhashable space: no caching
        pass
    return catalog
