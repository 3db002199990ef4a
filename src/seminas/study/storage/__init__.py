"""Where a study lives: the :class:`Storage` interface and its implementations.

- :mod:`._base`: the contract (claims of pending queries, leases and heartbeats, resume, the
  format version) and the rows it hands out; nothing in it knows SQL;
- :mod:`._sqlite`: :class:`SQLiteStorage`, one file, the default;
- :mod:`._sql`: :class:`~._sql.SQLStorage`, studies in a PostgreSQL database through SQLAlchemy,
  for workers on several machines (imported only for a ``postgresql://`` location);
- :mod:`._heartbeat`: :class:`LeaseKeeper`, which keeps claims alive (retrying and reporting
  storage errors) for any implementation;
- :mod:`._codec`: how values and checkpoints are encoded, shared by implementations.

:func:`open_storage` picks the implementation from the location the user gave, so a server
database can be added without touching the search or the CLI.
"""

from __future__ import annotations

from pathlib import Path

from seminas.study.storage._base import (
    FORMAT_VERSION,
    STATUSES,
    TRIAL_FIELDS,
    Checkpoint,
    SessionRow,
    Storage,
    StudyDiverged,
    StudyError,
    StudyNotReady,
    StudyWarning,
    TrialRow,
)
from seminas.study.storage._heartbeat import LeaseKeeper
from seminas.study.storage._sqlite import (
    APPLICATION_ID,
    MIGRATIONS,
    SQLiteStorage,
)

_SQLITE_PREFIX = "sqlite:///"


def open_storage(
    location: str | Path,
    *,
    create: bool = False,
    read_only: bool = False,
    journal: str = "wal",
    busy_timeout: float = 60.0,
) -> Storage:
    """The storage at ``location``: a file path or ``sqlite:///PATH`` (SQLite), or a
    ``postgresql://USER@HOST:PORT/DATABASE?study=NAME`` URL (``journal`` and ``busy_timeout``
    are SQLite's); other URL schemes are refused in one line."""
    text = str(location)
    if text.startswith(_SQLITE_PREFIX):
        text = text[len(_SQLITE_PREFIX) :]
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        if scheme.split("+", 1)[0].lower() in ("postgresql", "postgres"):
            try:
                from seminas.study.storage._sql import SQLStorage
            except ImportError as exc:
                raise StudyError(
                    f"studies on PostgreSQL need SQLAlchemy and a driver ({exc}): "
                    f"pip install 'seminas[postgres]'"
                ) from None
            return SQLStorage(text, create=create, read_only=read_only)
        raise StudyError(
            f"no study storage for {scheme}:// locations: give a file path (SQLite) or a "
            f"postgresql:// URL"
        )
    return SQLiteStorage(
        text, create=create, read_only=read_only, journal=journal, busy_timeout=busy_timeout
    )


__all__ = [
    "APPLICATION_ID",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "STATUSES",
    "TRIAL_FIELDS",
    "Checkpoint",
    "LeaseKeeper",
    "SQLiteStorage",
    "SessionRow",
    "Storage",
    "StudyDiverged",
    "StudyError",
    "StudyNotReady",
    "StudyWarning",
    "TrialRow",
    "open_storage",
]
