"""Reading a benchmark's CSV file with the checks that turn a damaged file into one line.

A data file that is truncated, edited, or replaced by another file must not surface as a pandas
``KeyError`` or a ``ValueError`` deep inside a search: :func:`read_checked_csv` checks that the
file parses, has the columns and the number of rows it must have, and that the columns meant to
hold numbers do, and says which file to restore.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from seminas.errors import SeminasError

RESTORE = "restore it (`seminas data check` compares checksums)"


class DataFileError(SeminasError):
    """A data file that exists but is not the file it should be (one line: which, and why)."""


def read_checked_csv(
    path: str | os.PathLike,
    columns: Iterable[str],
    *,
    rows: int | None = None,
    numeric: Iterable[str] = (),
    dtype: Mapping[str, Any] | None = None,
    what: str = "",
) -> pd.DataFrame:
    """``path`` as a DataFrame, refused in one line unless it parses, has every column of
    ``columns``, exactly ``rows`` rows (when given, else at least one) and numbers (NaN allowed)
    in every column of ``numeric``. ``what`` names the file's content in the messages."""
    path = Path(path)
    label = f"{path}" + (f" ({what})" if what else "")
    try:
        frame = pd.read_csv(path, dtype=dict(dtype or {}), low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFileError(
            f"cannot parse {label}: {type(exc).__name__}; the file is corrupt, {RESTORE}"
        ) from None
    except (ValueError, TypeError) as exc:  # a dtype that does not fit the column
        raise DataFileError(f"cannot read {label}: {exc}; {RESTORE}") from None
    except OSError as exc:
        raise DataFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{label} lacks column(s) {', '.join(missing)}: it is not the expected file; {RESTORE}"
        )
    if rows is not None and len(frame) != rows:
        raise DataFileError(f"{label} has {len(frame):,} rows, expected {rows:,}; {RESTORE}")
    if len(frame) == 0:
        raise DataFileError(f"{label} has no rows; {RESTORE}")
    for name in numeric:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            bad = pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()
            row = int(bad.to_numpy().argmax()) if bad.any() else 0
            raise DataFileError(
                f"{label}: column {name} must hold numbers, row {row + 1} has "
                f"{frame[name].iloc[row]!r}; {RESTORE}"
            )
    return frame


def missing_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Those of ``paths`` that are not readable files, in order (to report them together)."""
    return [Path(p) for p in paths if not Path(p).is_file() or not os.access(p, os.R_OK)]


__all__ = ["DataFileError", "RESTORE", "missing_files", "read_checked_csv"]
