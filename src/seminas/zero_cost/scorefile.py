"""The per-cell score file a search can load as a filter or as weak labels.

``scores.npz``, read with ``np.load(path, allow_pickle=False)``:

- ``index``: int64, the NAS-Bench-201 indices (0..15624) of the scored cells, one per row;
- one float64 array per score name (``das``, ``naswot``, ``synflow``, ...), aligned with
  ``index``; larger is better for every score; ``-inf`` where a score is degenerate (NASWOT and
  DAS when two images share an activation code);
- ``meta``: a 0-d unicode array holding JSON: ``format`` (1), ``space`` ("nb201"), ``scores``
  (the names), ``descriptions``, and how they were computed (``seed``, ``batch_size``,
  ``network`` settings, ``data``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError

FORMAT = 1


def save_scores(
    path: str | os.PathLike,
    index: Sequence[int],
    scores: Mapping[str, Sequence[float]],
    meta: Mapping[str, Any],
) -> Path:
    """Write the score file atomically (a temporary file renamed over ``path``)."""
    path = Path(path)
    idx = np.asarray(index, dtype=np.int64)
    arrays: dict[str, np.ndarray] = {"index": idx}
    for name, values in scores.items():
        if name in ("index", "meta"):
            raise ValueError(f"score name {name!r} is reserved")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != idx.shape:
            raise ValueError(f"score {name!r} has {arr.size} values for {idx.size} cells")
        arrays[name] = arr
    info = {"format": FORMAT, "scores": list(scores), **dict(meta)}
    arrays["meta"] = np.array(json.dumps(info, sort_keys=True))
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_scores(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """``(index, {score name: values}, meta)`` of a score file, or one clear error."""
    path = Path(path)
    if not path.is_file():
        raise SeminasError(f"score file {path} does not exist: run `seminas zero-cost study`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            index = npz["index"].astype(np.int64)
            names = [str(n) for n in meta["scores"]]
            scores = {n: npz[n].astype(np.float64) for n in names}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SeminasError(f"{path} is not a zero-cost score file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise SeminasError(f"{path} is score-file format {meta.get('format')!r}, not {FORMAT}")
    return index, scores, meta
