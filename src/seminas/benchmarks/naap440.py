"""NAAP-440 (Hakim, 2022): 440 plain convolutional networks trained on CIFAR-10 for 90 epochs.

A small tabular benchmark of its own: one row per network with its architecture summary, its
best test accuracy (``MaxAccuracy``) and its per-epoch curves (``e{i}Accuracy``,
``e{i}LossMean``, ``e{i}LossMedian``), plus ``generated_schemes.json`` listing each network's
convolution layers. The dataset ships its own 400/40 train/test split (``IsTest``); studies use
it as is so their numbers compare with the paper's.

The reader checks what later code relies on (columns present, 440 rows, one scheme per row that
agrees with the row's layer count, widths and skip connections) and says in one line what is
wrong, because a silently misaligned scheme would corrupt every derived feature.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seminas.data import find_file, pointing_hint, search_dirs
from seminas.errors import DataNotFoundError, SeminasError

CSV_FILE = "naap440/naap440v2.csv"
SCHEMES_FILE = "naap440/generated_schemes.json"
N_ROWS = 440
N_TEST = 40
N_EPOCHS = 90
TARGET = "MaxAccuracy"
ARCH_COLUMNS = (
    "NumParams",
    "NumMACs",
    "NumLayers",
    "NumStages",
    "FirstLayerWidth",
    "LastLayerWidth",
    "NumSkipConnections",
    "NumPartialRFLayers",
)
# Derived from the layer lists. The number of stride-2 layers equals NumStages in every row (the
# reader checks it), so it is not repeated; every network's largest kernel is 3x3, so the share
# of 1x1 layers carries the kernel information instead.
DERIVED_COLUMNS = ("MeanKernelSize", "Num1x1Layers", "TotalWidth", "MaxWidth", "MeanWidth")
REQUIRED_COLUMNS = ("ModelId", "IsTest", *ARCH_COLUMNS, TARGET) + tuple(
    f"e{i}{kind}" for i in range(1, N_EPOCHS + 1)
    for kind in ("Accuracy", "LossMean", "LossMedian")
)
# The paper's baseline (Hakim 2022, the dataset repo's run_experiments.py): six scheme columns
# with NumParams and NumMACs on a log scale; with no epochs only log NumParams and NumStages
# (its ablation found that best); per epoch the mean loss, median loss and accuracy.
PAPER_SCHEME_COLUMNS = ARCH_COLUMNS[:6]
PAPER_LIMITED_COLUMNS = ("NumParams", "NumStages")
PAPER_EPOCH_KINDS = ("LossMean", "LossMedian", "Accuracy")
_LOG_COLUMNS = ("NumParams", "NumMACs")
LAYER_KEYS = ("kernel_size", "width", "stride", "residual")


def _locate(relpath: str, data_dir: str | os.PathLike | None) -> Path:
    found = find_file(relpath, data_dir)
    if found is not None:
        return found
    first = search_dirs(data_dir)[0].path / relpath
    if data_dir is not None:
        hint = f"pass a --data-dir that has {relpath} (see the data README, section naap440)"
    else:
        hint = pointing_hint(relpath)
    raise DataNotFoundError(f"missing NAAP-440 file {first}: {hint}")


def _scheme_features(scheme: list[dict[str, Any]]) -> dict[str, float]:
    kernels = np.array([layer["kernel_size"] for layer in scheme], dtype=np.float64)
    widths = np.array([layer["width"] for layer in scheme], dtype=np.float64)
    return {
        "MeanKernelSize": float(kernels.mean()),
        "Num1x1Layers": float((kernels == 1).sum()),
        "TotalWidth": float(widths.sum()),
        "MaxWidth": float(widths.max()),
        "MeanWidth": float(widths.mean()),
    }


def _check_schemes(schemes: Any, frame: pd.DataFrame, path: Path) -> None:
    """One scheme per row, in ModelId order, agreeing with the row's own summary columns."""
    if not isinstance(schemes, list) or len(schemes) != len(frame):
        got = len(schemes) if isinstance(schemes, list) else type(schemes).__name__
        raise SeminasError(
            f"{path} holds {got} architectures, expected {len(frame)} (one per row of the CSV): "
            f"use the dataset's own generated_schemes.json"
        )
    for model_id, scheme, row in zip(frame["ModelId"], schemes, frame.itertuples(), strict=True):
        ok = (
            isinstance(scheme, list)
            and len(scheme) > 0
            and all(isinstance(x, dict) and all(k in x for k in LAYER_KEYS) for x in scheme)
        )
        if ok:
            ok = (
                len(scheme) == row.NumLayers
                and scheme[0]["width"] == row.FirstLayerWidth
                and scheme[-1]["width"] == row.LastLayerWidth
                and sum(bool(x["residual"]) for x in scheme) == row.NumSkipConnections
                and sum(x["stride"] == 2 for x in scheme) == row.NumStages
            )
        if not ok:
            raise SeminasError(
                f"{path}: architecture {model_id} does not match its CSV row (layers, widths, "
                f"skips or strides): the schemes file and the CSV are not from the same release"
            )


@dataclass(frozen=True)
class NAAP440:
    """The NAAP-440 table, its architectures and the dataset's own train/test split."""

    frame: pd.DataFrame
    schemes: list[list[dict[str, Any]]]
    derived: pd.DataFrame = field(repr=False)

    @property
    def train(self) -> np.ndarray:
        """Row indices of the 400 training networks (``IsTest`` = 0)."""
        return np.flatnonzero(self.frame["IsTest"].to_numpy() == 0)

    @property
    def test(self) -> np.ndarray:
        """Row indices of the 40 test networks (``IsTest`` = 1)."""
        return np.flatnonzero(self.frame["IsTest"].to_numpy() == 1)

    @property
    def target(self) -> np.ndarray:
        """Best CIFAR-10 test accuracy over 90 epochs (a fraction), one per row."""
        return self.frame[TARGET].to_numpy(dtype=np.float64)

    def arch_columns(self) -> list[str]:
        return [*ARCH_COLUMNS, *DERIVED_COLUMNS]

    def arch_features(self) -> np.ndarray:
        """The CSV's architecture columns and the scheme-derived ones, ``[440, 13]``."""
        csv = self.frame[list(ARCH_COLUMNS)].to_numpy(dtype=np.float64)
        return np.hstack([csv, self.derived[list(DERIVED_COLUMNS)].to_numpy(dtype=np.float64)])

    def curve_columns(self, epochs: int) -> list[str]:
        if not 0 <= int(epochs) <= N_EPOCHS:
            raise SeminasError(f"epochs {epochs} is out of range: give 0..{N_EPOCHS}")
        kinds = ("Accuracy", "LossMean")
        return [f"e{i}{kind}" for i in range(1, int(epochs) + 1) for kind in kinds]

    def curve_features(self, epochs: int) -> np.ndarray:
        """Test accuracy and mean training loss of epochs 1..``epochs``, ``[440, 2 * epochs]``."""
        cols = self.curve_columns(epochs)
        return self.frame[cols].to_numpy(dtype=np.float64).reshape(len(self.frame), len(cols))

    def paper_columns(self, epochs: int) -> list[str]:
        """Columns of the paper's feature set with ``epochs`` epochs (0: its limited scheme)."""
        self.curve_columns(epochs)  # range check
        if not epochs:
            return list(PAPER_LIMITED_COLUMNS)
        per_epoch = [f"e{i}{k}" for i in range(1, int(epochs) + 1) for k in PAPER_EPOCH_KINDS]
        return [*PAPER_SCHEME_COLUMNS, *per_epoch]

    def paper_features(self, epochs: int) -> np.ndarray:
        """The paper's features (log NumParams/NumMACs): ``[440, 2]`` or ``[440, 6 + 3E]``."""
        cols = self.paper_columns(epochs)
        out = self.frame[cols].to_numpy(dtype=np.float64).copy()
        for j, col in enumerate(cols):
            if col in _LOG_COLUMNS:
                out[:, j] = np.log(out[:, j])
        return out

    def features(self, arch: bool, epochs: int) -> np.ndarray:
        """Architecture features (if ``arch``) beside the first ``epochs`` epochs' curves."""
        parts = ([self.arch_features()] if arch else []) + (
            [self.curve_features(epochs)] if epochs else []
        )
        if not parts:
            raise SeminasError("a feature set needs the architecture, some epochs, or both")
        return np.hstack(parts)


def load_naap440(data_dir: str | os.PathLike | None = None) -> NAAP440:
    """Read and check ``naap440v2.csv`` and ``generated_schemes.json`` (see :mod:`seminas.data`
    for where they are looked for)."""
    csv_path = _locate(CSV_FILE, data_dir)
    schemes_path = _locate(SCHEMES_FILE, data_dir)
    try:
        frame = pd.read_csv(csv_path)
    except (ValueError, OSError) as exc:
        raise SeminasError(f"cannot read {csv_path} as CSV ({exc}): restore the file") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SeminasError(
            f"{csv_path} lacks column {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ": use the dataset's own naap440v2.csv"
        )
    if len(frame) != N_ROWS:
        raise SeminasError(
            f"{csv_path} has {len(frame)} rows, expected {N_ROWS}: use the full naap440v2.csv"
        )
    if frame[list(REQUIRED_COLUMNS)].isna().any().any():
        raise SeminasError(f"{csv_path} has empty cells: use the dataset's own naap440v2.csv")
    frame = frame.sort_values("ModelId", kind="stable").reset_index(drop=True)
    if frame["ModelId"].tolist() != list(range(1, N_ROWS + 1)):
        raise SeminasError(f"{csv_path}: ModelId should run 1..{N_ROWS} once each")
    if int((frame["IsTest"] == 1).sum()) != N_TEST or not frame["IsTest"].isin([0, 1]).all():
        raise SeminasError(
            f"{csv_path}: IsTest should be 0 or 1 with {N_TEST} test rows: use the dataset's own "
            f"split"
        )
    try:
        schemes = json.loads(schemes_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise SeminasError(
            f"cannot read {schemes_path} as JSON ({exc}): restore the file"
        ) from None
    _check_schemes(schemes, frame, schemes_path)
    derived = pd.DataFrame([_scheme_features(s) for s in schemes])
    return NAAP440(frame=frame, schemes=schemes, derived=derived)
