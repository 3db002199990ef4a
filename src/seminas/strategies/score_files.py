"""Per-cell score files that a search reads for free: the weak labels of ``acenas`` and the
training-free filter of the screened searches.

A score file is a ``.npz`` with an ``index`` array (NAS-Bench-201 indices 0..15624, or the
space's architecture ids as strings) and one numeric array per score, aligned with it; larger is
better and ``-inf``/NaN count as the worst score. ``seminas zero-cost study`` and ``seminas
oneshot supernet`` write such files. Reading one asks no evaluator, so it never costs a query.

An option names a file as ``file:PATH`` or ``file:PATH#name`` (``#name`` picks one array; a
file with a single score array needs none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.predictors.catalog import catalog_for
from seminas.strategies.base import SearchContext

FILE_PREFIX = "file:"
FILE_PATTERN = r"file:[^#]+(#.+)?"


def parse_file_spec(spec: str, option: str, alternative: str) -> tuple[Path, str | None] | None:
    """``(path, name or None)`` of ``file:PATH[#name]``, ``None`` for the ``alternative`` word
    (``free``, ``none``); anything else is a one-line error naming ``option``."""
    text = str(spec).strip()
    if text == alternative:
        return None
    if text.startswith(FILE_PREFIX) and len(text) > len(FILE_PREFIX):
        path, _, name = text[len(FILE_PREFIX):].partition("#")
        if path:
            return Path(path).expanduser(), name or None
    raise SeminasError(
        f"{option}={spec!r} is not understood: give {alternative!r} or 'file:PATH' "
        f"(optionally 'file:PATH#name' to pick one score array of the file)"
    )


def read_score_file(path: Path, name: str | None, option: str = "weak_labels",
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(index, score)`` of a score file (non-finite scores become the worst finite one)."""
    if not path.is_file():
        raise SeminasError(f"score file {path} ({option}) does not exist: give an existing "
                           f".npz, e.g. from `seminas zero-cost study`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise SeminasError(f"score file {path} ({option}) is not a readable .npz "
                           f"({exc})") from None
    if "index" not in arrays:
        raise SeminasError(f"score file {path} ({option}) has no 'index' array: it needs "
                           f"'index' and one score array per name")
    index = np.asarray(arrays["index"]).ravel()
    names = sorted(k for k, v in arrays.items() if k not in ("index", "meta")
                   and v.shape == index.shape and np.issubdtype(v.dtype, np.number))
    if name is None:
        if len(names) != 1:
            found = ", ".join(names) or "none"
            raise SeminasError(f"score file {path} holds score arrays {found}: pick one "
                               f"with {option}=file:{path}#NAME")
        name = names[0]
    elif name not in names:
        raise SeminasError(f"score file {path} has no score array {name!r} (it has "
                           f"{', '.join(names) or 'none'}); fix {option}")
    score = np.asarray(arrays[name], dtype=np.float64)
    finite = np.isfinite(score)
    if not finite.any():
        raise SeminasError(f"score array {name!r} of {path} ({option}) has no finite score")
    return index, np.where(finite, score, score[finite].min())


def space_name(space: Any) -> str | None:
    return getattr(space, "name", None)


def catalog_rows(ctx: SearchContext, path: Path, index: np.ndarray,
                 option: str = "weak_labels") -> np.ndarray:
    """Catalog rows of the file's cells, in the file's order (a cell unknown to the space is an
    error naming it)."""
    space = ctx.space
    catalog = catalog_for(space)
    if catalog is None:
        raise SeminasError(f"the score file {path} ({option}) needs a space that lists its "
                           f"cells; {space_name(space)!r} cannot here")
    if np.issubdtype(index.dtype, np.integer):
        if space_name(space) != "nb201":
            raise SeminasError(f"{path} gives integer indices (NAS-Bench-201's), but the space "
                               f"is {space_name(space)!r}: give its architecture ids as 'index'")
        from seminas.benchmarks.nb201_table import load_embedded

        strings = load_embedded().arch_strings()
        bad = index[(index < 0) | (index >= len(strings))]
        if len(bad):
            raise SeminasError(f"{path}: index {int(bad[0])} is not a NAS-Bench-201 index "
                               f"(0..{len(strings) - 1})")
        ids = [space.arch_id(space.validate(strings[int(i)])) for i in index]
    else:
        ids = [str(i) for i in index]
    rows = catalog.indices(ids)  # ids outside the catalog are dropped: find the first one
    if len(rows) != len(ids):
        missing = next(i for i in ids if not len(catalog.indices([i])))
        raise SeminasError(f"{path}: cell {missing!r} is not in the search space "
                           f"{space_name(space)!r}")
    if len(np.unique(rows)) != len(rows):
        raise SeminasError(f"{path} scores some cell more than once: one row per cell")
    return rows


def scored_catalog_rows(ctx: SearchContext, spec: str, option: str,
                        ) -> tuple[Any, np.ndarray, np.ndarray]:
    """``(catalog, rows, score)`` of an option's ``file:PATH[#name]``: the space's catalog, the
    file's cells as catalog rows and their scores (the shared first step of a filter and a
    score column)."""
    parsed = parse_file_spec(spec, option, "none")
    if parsed is None:
        raise SeminasError(f"{option}='none' names no score file")
    path, name = parsed
    index, score = read_score_file(path, name, option)
    rows = catalog_rows(ctx, path, index, option)
    catalog = catalog_for(ctx.space)
    assert catalog is not None  # catalog_rows refused a space without one
    return catalog, rows, score


__all__ = ["FILE_PATTERN", "FILE_PREFIX", "catalog_rows", "parse_file_spec", "read_score_file",
           "scored_catalog_rows", "space_name"]
