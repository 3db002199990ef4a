"""A study in one SQLite file: the embedded implementation of :class:`Storage`.

WAL journal (readers never block the writer), ``synchronous=FULL`` (a committed result
survives power loss), a busy timeout for concurrent writers, the SQLite header's
``application_id`` and a ``meta`` table with the format version, so that a foreign or damaged
file is refused in one line. Checkpoints are BLOBs (see :mod:`._codec`).

Read-only use (``read_only=True``: ``seminas show``, ``export``, ``plot``) opens the file with
``mode=ro``, so it never writes, and works where the file or its folder cannot be written: a
WAL database normally needs its ``-shm`` index file, which a reader cannot create in a
read-only folder, so then the file is opened ``immutable`` (when no write-ahead log with
content exists, no writer can be active) or, if a log with content exists but cannot be read
in place, a private copy of the file and its log is read instead.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from seminas.benchmarks.base import Record
from seminas.study.storage._base import (
    FORMAT_VERSION,
    STATUSES,
    TRIAL_FIELDS,
    Checkpoint,
    SessionRow,
    SessionUpdate,
    Storage,
    StudyError,
    StudyNotReady,
    TrialRow,
)
from seminas.study.storage._codec import (
    as_float,
    dumps,
    from_blob,
    result_values,
    to_blob,
    trial_values,
)

APPLICATION_ID = 0x534D4E53  # "SMNS", stored in the SQLite file header

# Migrations from an older format: {old_version: function(connection)} upgrading it by one.
# Format 1 is the first; an older file can only come from a development build and is refused.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE study (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    info TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    number INTEGER PRIMARY KEY CHECK (number >= 0),
    arch_id TEXT NOT NULL,
    arch TEXT NOT NULL,
    encoding TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    predicted REAL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    worker TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    search_metric REAL,
    report_metric REAL,
    cost_seconds REAL,
    params INTEGER,
    extra TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
CREATE INDEX trials_status ON trials (status, number);
CREATE TABLE checkpoints (
    number INTEGER PRIMARY KEY,
    iteration INTEGER NOT NULL,
    created REAL NOT NULL,
    rng BLOB NOT NULL,
    state BLOB
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    worker TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL,
    evaluated INTEGER NOT NULL DEFAULT 0,
    replayed INTEGER NOT NULL DEFAULT 0,
    replay_seconds REAL
);
CREATE TABLE phase_times (
    session INTEGER NOT NULL REFERENCES sessions (id),
    phase TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (session, phase)
);
"""


def _guarded(method: Callable) -> Callable:
    """Turn any SQLite failure inside a storage method into one clear :class:`StudyError`."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    return wrapper


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _cannot_read_in_place(exc: sqlite3.Error) -> bool:
    """The errors of a ``mode=ro`` open of a WAL file whose ``-shm`` cannot be created."""
    text = str(exc)
    return "unable to open" in text or "readonly" in text


class SQLiteStorage(Storage):
    """A study in one SQLite file (created on first use)."""

    def __init__(
        self,
        path: str | Path,
        create: bool = False,
        busy_timeout: float = 60.0,
        journal: str = "wal",
        read_only: bool = False,
        _checked: bool = False,
    ) -> None:
        """Open (``create``: or create) a study file; ``read_only`` never writes to it.

        ``journal`` applies to a new file: ``wal`` (default) lets readers and the writer work
        at once but needs every process on one host; ``delete`` (SQLite's rollback journal)
        is for a file on a network disk shared by several machines.
        """
        if journal not in ("wal", "delete"):
            raise StudyError(f"unknown journal mode {journal!r}: choose wal or delete")
        if create and read_only:
            raise ValueError("a study cannot be created read-only")
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = float(busy_timeout)
        self.journal = journal
        self.read_only = bool(read_only)
        self._conn: sqlite3.Connection | None = None
        self._snapshot: Path | None = None  # private copy read instead (see the module doc)
        self._check_file(create)
        try:
            self._conn = self._connect()
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._conn.execute("PRAGMA synchronous = FULL")
            if not _checked:  # a second connection (reopen) skips what the first one checked
                self._check_identity(create)
        except sqlite3.Error as exc:
            self.close()
            raise self._explain(exc) from None
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------------
    def _check_file(self, create: bool) -> None:
        p = self.path
        if p.is_dir():
            raise StudyError(f"{p} is a directory, not a study file")
        if not p.exists():
            if not create:
                raise StudyError(
                    f"no study file {p}: start one with `seminas search ... --study {p}`"
                )
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StudyError(f"cannot create the folder of {p}: {exc.strerror}") from None
            return
        # Never open the file itself here (to peek at its header, say): closing any descriptor
        # of a file drops every POSIX lock this process holds on it, also those of a live
        # SQLite connection (a heartbeat opens a second one), and another process may then
        # take itself for the last user and remove the write-ahead log under us. SQLite's own
        # "file is not a database" tells a foreign file instead (see _explain).
        if not os.access(p, os.R_OK):
            raise StudyError(f"cannot read study file {p}: permission denied")

    def _connect(self) -> sqlite3.Connection:
        def connect(target: str | Path, uri: bool = False) -> sqlite3.Connection:
            return sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None, uri=uri)

        if not self.read_only:
            return connect(self.path)
        base = "file:" + quote(str(self.path.resolve()))
        conn = connect(base + "?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA application_id").fetchone()  # opens the WAL index, if any
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if not _cannot_read_in_place(exc):
                raise
        wal = Path(f"{self.path}-wal")
        if not wal.exists() or wal.stat().st_size == 0:
            # no log with content: nobody is writing, the file alone is the whole study
            return connect(base + "?mode=ro&immutable=1", uri=True)
        self._snapshot = Path(tempfile.mkdtemp(prefix="seminas-study-"))
        copy = self._snapshot / self.path.name
        try:
            shutil.copyfile(self.path, copy)
            shutil.copyfile(wal, f"{copy}-wal")
        except OSError as exc:
            raise StudyError(
                f"cannot read study {self.path} in its read-only folder, nor copy it with its "
                f"write-ahead log: {exc.strerror}"
            ) from None
        return connect(copy)

    def _check_identity(self, create: bool) -> None:
        conn = self._db
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StudyError(
                    f"{self.path} is an SQLite database of another program, not a seminas study"
                )
            if not create:
                raise StudyNotReady(
                    f"{self.path} is an empty database, not a seminas study (if a `seminas "
                    f"search --study {self.path}` was interrupted while creating it, run it "
                    f"again to create and continue the study)"
                )
            self._create_schema()
            return
        if app_id != APPLICATION_ID:
            raise StudyError(
                f"{self.path} is an SQLite database of another program, not a seminas study"
            )
        row = conn.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        version = int(row[0]) if row else -1
        if version > FORMAT_VERSION:
            raise StudyError(
                f"{self.path} was written by a newer seminas (study format {version}; this one "
                f"reads format {FORMAT_VERSION}): upgrade seminas to open it"
            )
        if version < FORMAT_VERSION:
            self._migrate(version)
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise self._damaged(problems)

    def _damaged(self, problems: Sequence[str]) -> StudyError:
        """One line for SQLite's integrity report (which spans several lines)."""
        lines = [
            line.strip()
            for p in problems
            for line in str(p).splitlines()
            if line.strip() and not line.strip().startswith("***")
        ] or ["integrity check failed"]
        more = len(lines) - 1
        detail = lines[0] + (f", and {more} more problem{'s' * (more > 1)}" if more else "")
        return StudyError(
            f"study {self.path} is damaged ({detail}): restore it from a copy, or start a new "
            f"study file"
        )

    def _migrate(self, version: int) -> None:
        if version not in MIGRATIONS:
            raise StudyError(
                f"{self.path} was written by an older seminas (study format {version}) that this "
                f"one cannot read (format {FORMAT_VERSION}): open it with the seminas version "
                f"that wrote it, or start a new study"
            )
        if self.read_only:
            raise StudyError(
                f"{self.path} is in study format {version} and must be upgraded to format "
                f"{FORMAT_VERSION} first, which reading it cannot do: run `seminas resume "
                f"{self.path}` once where it can be written"
            )
        with self._transaction() as conn:
            while version < FORMAT_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),))

    def _create_schema(self) -> None:
        conn = self._db
        conn.execute(f"PRAGMA journal_mode = {self.journal.upper()}")
        with self._transaction() as conn:
            # Another process may have created it while we waited for the write lock.
            if conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
                return
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format_version', ?), ('app', 'seminas')",
                (str(FORMAT_VERSION),),
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _explain(self, exc: sqlite3.Error) -> StudyError:
        text = _one_line(str(exc))
        if "locked" in text or "busy" in text:
            return StudyError(
                f"study {self.path} stayed locked by another process for over "
                f"{self.busy_timeout:g} s ({text})"
            )
        if "file is not a database" in text:  # SQLITE_NOTADB: no SQLite header
            return StudyError(f"{self.path} is not a seminas study: it is not an SQLite database")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self._damaged([text])
        if "no such table" in text or "no such column" in text:
            return StudyError(f"{self.path} is not a complete seminas study ({text})")
        if "readonly" in text or ("unable to open" in text and not self._writable()):
            return StudyError(
                f"study {self.path} cannot be written here (a read-only file, folder or file "
                f"system): copy it to a writable place to continue it ({text})"
            )
        return StudyError(f"study {self.path}: {exc.__class__.__name__}: {text}")

    def _writable(self) -> bool:
        """Whether this process may write the file and create its journal next to it."""
        folder = self.path.parent if str(self.path.parent) else Path(".")
        return os.access(folder, os.W_OK) and (
            not self.path.exists() or os.access(self.path, os.W_OK)
        )

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StudyError(f"study {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: take the write lock first, so read-then-write is atomic."""
        if self.read_only:
            raise StudyError(f"study {self.path} was opened read-only")
        conn = self._db
        if conn.in_transaction:
            # a Ctrl-C between an earlier BEGIN and its COMMIT/ROLLBACK left it open; nothing
            # of it was committed, so dropping it loses no finished evaluation
            conn.rollback()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None

    def reopen(self) -> SQLiteStorage:
        """A second connection to the same file (an SQLite connection belongs to one thread)."""
        return SQLiteStorage(
            self.path, busy_timeout=self.busy_timeout, read_only=self.read_only, _checked=True
        )

    @_guarded
    def format_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        return int(row[0])

    # -- the study ---------------------------------------------------------------------------
    @_guarded
    def create(self, config: dict[str, Any], info: dict[str, Any]) -> bool:
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM study").fetchone():
                return False
            conn.execute(
                "INSERT INTO study (id, config, info, created) VALUES (1, ?, ?, ?)",
                (dumps(config), dumps(info), time.time()),
            )
            return True

    def _study_column(self, column: str) -> dict[str, Any]:
        row = self._db.execute(f"SELECT {column} FROM study").fetchone()
        if row is None:
            raise StudyNotReady(
                f"{self.path} holds no study yet: its creation was interrupted; run the same "
                f"`seminas search ... --study {self.path}` again to create and continue it"
            )
        return json.loads(row[0])

    @_guarded
    def config(self) -> dict[str, Any]:
        return self._study_column("config")

    @_guarded
    def info(self) -> dict[str, Any]:
        return self._study_column("info")

    @_guarded
    def exists(self) -> bool:
        return self._db.execute("SELECT 1 FROM study").fetchone() is not None

    @_guarded
    def set_state(self, key: str, value: Any) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, dumps(value)),
            )

    @_guarded
    def get_state(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- trials ------------------------------------------------------------------------------
    @staticmethod
    def _row(values: sqlite3.Row | tuple) -> TrialRow:
        return TrialRow.from_values(values)

    _SELECT = f"SELECT {', '.join(TRIAL_FIELDS)} FROM trials"

    @_guarded
    def propose(
        self,
        rows: Sequence[TrialRow],
        checkpoint: Checkpoint | None = None,
        state: Callable[[], dict[str, Any] | None] | None = None,
    ) -> tuple[list[TrialRow], Checkpoint | None]:
        now = time.time()
        stored: list[TrialRow] = []
        previous: Checkpoint | None = None
        with self._transaction() as conn:
            for row in rows:
                found = conn.execute(self._SELECT + " WHERE number = ?", (row.number,)).fetchone()
                if found is not None:
                    stored.append(self._row(found))
                    continue
                conn.execute(
                    "INSERT INTO trials (number, arch_id, arch, encoding, iteration, predicted, "
                    "status, created) VALUES (:number, :arch_id, :arch, :encoding, :iteration, "
                    ":predicted, 'pending', :created)",
                    {**trial_values(row), "created": now},
                )
                stored.append(
                    TrialRow(
                        number=row.number,
                        arch_id=row.arch_id,
                        arch=row.arch,
                        encoding=list(row.encoding),
                        iteration=row.iteration,
                        predicted=as_float(row.predicted),
                        created=now,
                    )
                )
            if checkpoint is not None:
                found = conn.execute(
                    "SELECT number, iteration, created, rng FROM checkpoints WHERE number = ?",
                    (checkpoint.number,),
                ).fetchone()
                if found is not None:
                    previous = Checkpoint(found[0], found[1], found[2], from_blob(found[3]))
                else:
                    extra = state() if state is not None else None
                    conn.execute(
                        "INSERT INTO checkpoints (number, iteration, created, rng, state) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            checkpoint.number,
                            checkpoint.iteration,
                            checkpoint.created,
                            to_blob(checkpoint.rng),
                            None if extra is None else to_blob(extra),
                        ),
                    )
        return stored, previous

    @_guarded
    def trial(self, number: int) -> TrialRow | None:
        found = self._db.execute(self._SELECT + " WHERE number = ?", (number,)).fetchone()
        return None if found is None else self._row(found)

    @_guarded
    def trials(self, status: str | None = None) -> list[TrialRow]:
        if status is None:
            rows = self._db.execute(self._SELECT + " ORDER BY number").fetchall()
        else:
            rows = self._db.execute(
                self._SELECT + " WHERE status = ? ORDER BY number", (status,)
            ).fetchall()
        return [self._row(r) for r in rows]

    @_guarded
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for status, n in self._db.execute("SELECT status, count(*) FROM trials GROUP BY status"):
            out[status] = n
        return out

    # -- claims and leases -------------------------------------------------------------------
    @_guarded
    def claim(
        self, worker: str, lease_seconds: float, first: int | None = None, last: int | None = None
    ) -> TrialRow | None:
        now = time.time()
        lo = -1 if first is None else int(first)
        hi = 2**62 if last is None else int(last)
        with self._transaction() as conn:
            found = conn.execute(
                "SELECT number FROM trials WHERE number BETWEEN ? AND ? AND "
                "(status = 'pending' OR (status = 'running' AND lease_until < ?)) "
                "ORDER BY number LIMIT 1",
                (lo, hi, now),
            ).fetchone()
            if found is None:
                return None
            conn.execute(
                "UPDATE trials SET status = 'running', worker = ?, lease_until = ?, started = ?, "
                "attempts = attempts + 1, error = NULL WHERE number = ?",
                (worker, now + lease_seconds, now, found[0]),
            )
            row = conn.execute(self._SELECT + " WHERE number = ?", (found[0],)).fetchone()
        return self._row(row)

    @_guarded
    def heartbeat(self, number: int, worker: str, lease_seconds: float) -> bool:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET lease_until = ? "
                "WHERE number = ? AND worker = ? AND status = 'running'",
                (time.time() + lease_seconds, number, worker),
            )
            return cur.rowcount == 1

    @_guarded
    def finish(self, number: int, worker: str, record: Record, session: int | None) -> bool:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = 'done', finished = :finished, lease_until = NULL, "
                "search_metric = :search_metric, report_metric = :report_metric, "
                "cost_seconds = :cost_seconds, params = :params, extra = :extra, error = NULL "
                "WHERE number = :number AND worker = :worker AND status = 'running'",
                {
                    **result_values(record),
                    "finished": time.time(),
                    "number": number,
                    "worker": worker,
                },
            )
            if cur.rowcount == 1 and session is not None:
                conn.execute(
                    "UPDATE sessions SET evaluated = evaluated + 1 WHERE id = ?", (session,)
                )
            return cur.rowcount == 1

    @_guarded
    def _fail(self, number: int, worker: str, error: str, extra: str | None) -> bool:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = 'failed', finished = ?, lease_until = NULL, error = ?, "
                "extra = coalesce(?, extra) WHERE number = ? AND worker = ? AND status = 'running'",
                (time.time(), error, extra, number, worker),
            )
            return cur.rowcount == 1

    @_guarded
    def note_failure(self, number: int, worker: str, error: str) -> bool:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET attempts = attempts + 1, error = ? "
                "WHERE number = ? AND worker = ? AND status = 'running'",
                (error, number, worker),
            )
            return cur.rowcount == 1

    @_guarded
    def release(self, workers: Sequence[str]) -> int:
        if not workers:
            return 0
        marks = ", ".join("?" for _ in workers)
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = 'pending', worker = NULL, lease_until = NULL "
                f"WHERE status = 'running' AND worker IN ({marks})",
                tuple(workers),
            )
            return cur.rowcount

    @_guarded
    def claimants(self) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT worker FROM trials WHERE status = 'running' AND worker IS NOT NULL"
        ).fetchall()
        return [r[0] for r in rows]

    # -- resume ------------------------------------------------------------------------------
    @_guarded
    def retry_failed(self) -> int:
        # ``extra`` is JSON text: given up for good means its "gave_up" member is true (a
        # text match would also take a string or an architecture that mentions gave_up)
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = 'pending', worker = NULL, lease_until = NULL "
                "WHERE status = 'failed' AND NOT coalesce("
                "CASE WHEN json_valid(extra) THEN json_extract(extra, '$.gave_up') END, 0)"
            )
            return cur.rowcount

    # -- checkpoints -------------------------------------------------------------------------
    @_guarded
    def checkpoints(self) -> list[tuple[int, int, float, bool]]:
        rows = self._db.execute(
            "SELECT number, iteration, created, state IS NOT NULL FROM checkpoints ORDER BY number"
        ).fetchall()
        return [(int(a), int(b), float(c), bool(d)) for a, b, c, d in rows]

    @_guarded
    def load_checkpoint(self, number: int | None = None) -> Checkpoint | None:
        if number is None:
            found = self._db.execute(
                "SELECT number, iteration, created, rng, state FROM checkpoints "
                "WHERE state IS NOT NULL ORDER BY number DESC LIMIT 1"
            ).fetchone()
        else:
            found = self._db.execute(
                "SELECT number, iteration, created, rng, state FROM checkpoints WHERE number = ?",
                (number,),
            ).fetchone()
        return None if found is None else Checkpoint.from_columns(found, str(self.path))

    # -- sessions ----------------------------------------------------------------------------
    @_guarded
    def start_session(self, kind: str, worker: str, host: str, pid: int) -> int:
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO sessions (kind, worker, host, pid, started, status) "
                "VALUES (?, ?, ?, ?, ?, 'running')",
                (kind, worker, host, pid, time.time()),
            )
            return int(cur.lastrowid)

    @_guarded
    def _update_session(self, session: int, update: SessionUpdate) -> None:
        with self._transaction() as conn:
            if update.status is not None:
                ended = time.time() if update.ends else None
                conn.execute(
                    "UPDATE sessions SET status = ?, ended = ? WHERE id = ?",
                    (update.status, ended, session),
                )
            if update.replayed is not None:
                conn.execute(
                    "UPDATE sessions SET replayed = ? WHERE id = ?", (update.replayed, session)
                )
            if update.replay_seconds is not None:
                conn.execute(
                    "UPDATE sessions SET replay_seconds = ? WHERE id = ?",
                    (update.replay_seconds, session),
                )
            for phase, seconds in update.phases.items():
                conn.execute(
                    "INSERT INTO phase_times (session, phase, seconds) VALUES (?, ?, ?) "
                    "ON CONFLICT (session, phase) DO UPDATE SET seconds = excluded.seconds",
                    (session, phase, seconds),
                )

    @_guarded
    def sessions(self) -> list[SessionRow]:
        rows = self._db.execute(
            "SELECT id, kind, worker, host, pid, started, ended, status, evaluated, replayed, "
            "replay_seconds FROM sessions ORDER BY id"
        ).fetchall()
        return [SessionRow(*r) for r in rows]

    @_guarded
    def phase_seconds(self, kinds: Sequence[str] | None = None) -> dict[str, float]:
        query = "SELECT phase, sum(seconds) FROM phase_times"
        args: tuple = ()
        if kinds is not None:
            marks = ", ".join("?" for _ in kinds)
            query += f" WHERE session IN (SELECT id FROM sessions WHERE kind IN ({marks}))"
            args = tuple(kinds)
        rows = self._db.execute(query + " GROUP BY phase ORDER BY min(rowid)", args).fetchall()
        return {phase: float(s) for phase, s in rows}
