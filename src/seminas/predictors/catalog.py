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
from typing import Any

import numpy as np

from seminas.predictors.encoding import (
    nb101_enumeration_features,
    nb101_enumeration_tokens,
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
_ENCODED: weakref.WeakKeyDictionary[SearchSpace, dict[str, Any]] = weakref.WeakKeyDictionary()


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


def _encode_all(space: SearchSpace, catalog: Catalog, encoding: str) -> Any:
    if encoding == "flat":
        return catalog.features
    if isinstance(space, NB201Space):
        codes = np.arange(space.size)
        if encoding == "graph":
            from seminas.predictors.graphs import nb201_code_graphs

            return nb201_code_graphs(codes)
        return space.encode_many([space.from_code(int(c)) for c in codes])
    if isinstance(space, NB101Space) and space.enumeration is not None:
        enum = space.enumeration
        if isinstance(enum, SpecPool):
            specs = [enum.spec(i) for i in range(len(enum))]
            if encoding == "graph":
                from seminas.predictors.graphs import nb101_graphs

                return nb101_graphs(specs)
            return space.encode_many(specs)
        if encoding == "graph":
            from seminas.predictors.graphs import nb101_enumeration_graphs

            return nb101_enumeration_graphs(enum)
        return nb101_enumeration_tokens(enum)
    archs = [catalog.arch(i) for i in range(len(catalog))]
    from seminas.predictors.encoding import encode_for

    return encode_for(_Declared(encoding), space, archs)


class _Declared:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding


def encode_catalog(predictor: Any, space: SearchSpace) -> Any | None:
    """Every cell of the space's catalog (:func:`catalog_for`) in the encoding ``predictor``
    reads (a predictor, its class or a registered name; see
    :func:`seminas.predictors.encoding.encode_for`), row ``i`` being catalog cell ``i``; cached
    while the space lives. ``None`` when the space cannot list its cells."""
    from seminas.predictors.base import encoding_of

    if isinstance(predictor, str):
        from seminas.registry import predictors

        predictor = predictors.get(predictor)
    encoding = encoding_of(predictor)
    catalog = catalog_for(space)
    if catalog is None:
        return None
    try:
        cache = _ENCODED.setdefault(space, {})
    except TypeError:  # an unhashable space: no caching
        cache = {}
    if encoding not in cache:
        cache[encoding] = _encode_all(space, catalog, encoding)
    return cache[encoding]


_FREE: weakref.WeakKeyDictionary[SearchSpace, np.ndarray] = weakref.WeakKeyDictionary()


def catalog_free_labels(space: SearchSpace) -> np.ndarray | None:
    """Free labels (:func:`seminas.predictors.free_labels.free_labels`) of every cell of the
    space's catalog, row ``i`` being catalog cell ``i`` (vectorised for NAS-Bench-201); cached
    while the space lives. ``None`` when the space cannot list its cells."""
    from seminas.predictors.free_labels import free_labels, nb201_code_free_labels

    catalog = catalog_for(space)
    if catalog is None:
        return None
    try:
        return _FREE[space]
    except (KeyError, TypeError):
        pass
    if isinstance(space, NB201Space):
        out = nb201_code_free_labels(np.arange(space.size))
    else:
        out = free_labels(space, [catalog.arch(i) for i in range(len(catalog))])
    try:
        _FREE[space] = out
    except TypeError:
        pass
    return out
