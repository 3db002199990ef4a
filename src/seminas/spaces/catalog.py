"""A finite space's architectures listed with their features, so a predictor can rank them all.

The listing belongs to the space (it knows its cells); the features it holds are whatever the
predictors use. :mod:`seminas.predictors.catalog` builds catalogs for the built-in spaces, and a
space may build its own (``SearchSpace.catalog()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


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
