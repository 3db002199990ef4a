"""Where a study lives: the :class:`Storage` interface and its embedded SQLite implementation.

Everything a study needs goes through :class:`Storage`, so a server database can replace the
file later without touching the search. The contract that makes several processes safe:

- trial ``number`` is the primary key: a query position is written once (:meth:`Storage.propose`
  inserts what is missing and returns what is stored, so a replaying search can compare);
- a pending trial is taken by exactly one worker (:meth:`Storage.claim` is one atomic
  transaction) for a lease that the worker keeps alive with :meth:`Storage.heartbeat`; a claim
  whose lease ran out may be taken again;
- a result is accepted only from the worker that holds the claim (:meth:`Storage.finish`), so a
  late worker whose claim was taken over cannot write a second result.

:class:`SQLiteStorage` keeps it in one file: WAL journal (readers never block the writer),
``synchronous=FULL`` (a committed result survives power loss), a busy timeout for concurrent
writers, the SQLite header's ``application_id`` and a ``meta`` table with the format version so
that a foreign or damaged file is refused in one line. Checkpoints are BLOBs written with
``torch.save`` and read back with ``torch.load(weights_only=True)`` (tensors, numbers, strings,
lists and dicts only: loading a study never runs code from it).
"""

from __future__ import annotations

import functools
import io
import json
import math
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seminas.benchmarks.base import Record
from seminas.errors import SeminasError

FORMAT_VERSION = 1  # bump when the schema or the meaning of a column changes
APPLICATION_ID = 0x534D4E53  # "SMNS", stored in the SQLite file header
SQLITE_MAGIC = b"SQLite format 3\x00"
STATUSES = ("pending", "running", "done", "failed")

# Migrations from an older format: {old_version: function(connection)} upgrading it by one.
# Format 1 is the first; an older file can only come from a development build and is refused.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}


class StudyError(SeminasError):
    """A study file that cannot be used as asked (missing, foreign, damaged, locked)."""


class StudyDiverged(StudyError):
    """A resumed search proposes something other than what the study recorded."""


@dataclass
class TrialRow:
    """One query position of a study, from proposal to result."""

    number: int
    arch_id: str
    arch: Any  # the space's native notation (JSON)
    encoding: list[int]
    iteration: int
    predicted: float | None = None
    status: str = "pending"
    worker: str | None = None
    lease_until: float | None = None
    attempts: int = 0
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    search_metric: float | None = None
    report_metric: float | None = None
    cost_seconds: float | None = None
    params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def record(self) -> Record:
        """The stored result as the evaluator returned it."""
        if self.status != "done" or self.search_metric is None:
            raise ValueError(f"trial {self.number} has no result (status {self.status})")
        return Record(
            arch_id=self.arch_id,
            search_metric=self.search_metric,
            report_metric=self.report_metric,
            cost_seconds=self.cost_seconds,
            params=self.params,
            extra=dict(self.extra),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _TRIAL_COLUMNS}


_TRIAL_COLUMNS = tuple(TrialRow.__dataclass_fields__)


@dataclass
class Checkpoint:
    """What a search held at a batch boundary: RNG states and, optionally, its own state."""

    number: int  # queries charged before this batch
    iteration: int
    created: float
    rng: dict[str, Any]  # {"numpy": bit-generator state, "torch": CPU RNG state tensor}
    state: dict[str, Any] | None = None  # e.g. controller and optimizer state dicts


@dataclass
class SessionRow:
    """One process that worked on the study (a search, a resume, a worker)."""

    id: int
    kind: str
    worker: str
    host: str
    pid: int
    started: float
    ended: float | None
    status: str
    evaluated: int
    replayed: int
    replay_seconds: float | None


class Storage(ABC):
    """Everything a study keeps. Implementations must make each method atomic."""

    location: str

    # -- the study ---------------------------------------------------------------------------
    @abstractmethod
    def create(self, config: dict[str, Any], info: dict[str, Any]) -> bool:
        """Store a new study's config; False (and no change) if the study already exists."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The config the study was created with."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Descriptive facts recorded at creation (versions, metric names): never compared."""

    @abstractmethod
    def set_state(self, key: str, value: Any) -> None:
        """Store one JSON value of the study's state (status, diagnostics)."""

    @abstractmethod
    def get_state(self, key: str, default: Any = None) -> Any: ...

    # -- trials ------------------------------------------------------------------------------
    @abstractmethod
    def propose(
        self,
        rows: Sequence[TrialRow],
        checkpoint: Checkpoint | None = None,
        state: Callable[[], dict[str, Any] | None] | None = None,
    ) -> tuple[list[TrialRow], Checkpoint | None]:
        """Insert the rows (and checkpoint) not stored yet; return what is stored for each row,
        and the checkpoint that was already stored at that position, if any (``state`` is called
        only when a new checkpoint is written)."""

    @abstractmethod
    def trial(self, number: int) -> TrialRow | None: ...

    @abstractmethod
    def trials(self, status: str | None = None) -> list[TrialRow]:
        """All trials (or those with ``status``) in query order."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of trials per status."""

    @abstractmethod
    def claim(
        self, worker: str, lease_seconds: float, first: int | None = None, last: int | None = None
    ) -> TrialRow | None:
        """Atomically take the lowest-numbered pending trial (or one whose lease ran out)."""

    @abstractmethod
    def heartbeat(self, number: int, worker: str, lease_seconds: float) -> bool:
        """Extend a claim; False if the worker no longer holds it."""

    @abstractmethod
    def finish(self, number: int, worker: str, record: Record, session: int | None) -> bool:
        """Store a result; False (nothing written) if ``worker`` no longer holds the claim."""

    @abstractmethod
    def fail(
        self,
        number: int,
        worker: str,
        error: str,
        final: bool = False,
        attempts: Sequence[dict[str, Any]] | None = None,
    ) -> bool:
        """Mark a claimed trial failed. ``final``: the evaluation was given up after its
        retries and the search went on without it -- part of the search's history, so it stays
        failed on resume (``extra`` keeps ``gave_up`` and the ``attempts``)."""

    def note_failure(self, number: int, worker: str, error: str) -> bool:
        """Record a failed attempt of a running trial that will be retried (attempts + 1, the
        error kept); optional for implementations."""
        return False

    @abstractmethod
    def release(self, workers: Sequence[str]) -> int:
        """Put the running trials of ``workers`` back to pending; returns how many."""

    @abstractmethod
    def claimants(self) -> list[str]:
        """Workers holding running trials."""

    @abstractmethod
    def retry_failed(self) -> int:
        """Put failed trials back to pending (a resumed search tries them again), except the
        ones given up for good (``fail(final=True)``)."""

    # -- checkpoints -------------------------------------------------------------------------
    @abstractmethod
    def checkpoints(self) -> list[tuple[int, int, float, bool]]:
        """``(number, iteration, created, has_state)`` of each checkpoint, in order."""

    @abstractmethod
    def load_checkpoint(self, number: int | None = None) -> Checkpoint | None:
        """The checkpoint at ``number`` (default: the latest one that holds a state)."""

    # -- sessions and phase timings ----------------------------------------------------------
    @abstractmethod
    def start_session(self, kind: str, worker: str, host: str, pid: int) -> int: ...

    @abstractmethod
    def update_session(
        self,
        session: int,
        *,
        status: str | None = None,
        phases: dict[str, float] | None = None,
        replayed: int | None = None,
        replay_seconds: float | None = None,
    ) -> None: ...

    @abstractmethod
    def sessions(self) -> list[SessionRow]: ...

    @abstractmethod
    def phase_seconds(self, kinds: Sequence[str] | None = None) -> dict[str, float]:
        """Wall time per phase, summed over sessions (of the given kinds)."""

    def close(self) -> None:  # noqa: B027 - optional for implementations without resources
        """Release the connection."""


# -- SQLite ------------------------------------------------------------------------------------
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


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=True, sort_keys=True)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    raise TypeError(f"cannot store a {type(value).__name__} in a study")


def _to_blob(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _from_blob(blob: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _guarded(method: Callable) -> Callable:
    """Turn any SQLite failure inside a storage method into one clear :class:`StudyError`."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    return wrapper


class SQLiteStorage(Storage):
    """A study in one SQLite file (created on first use)."""

    def __init__(
        self,
        path: str | Path,
        create: bool = False,
        busy_timeout: float = 60.0,
        journal: str = "wal",
    ) -> None:
        """Open (``create``: or create) a study file.

        ``journal`` applies to a new file: ``wal`` (default) lets readers and the writer work
        at once but needs every process on one host; ``delete`` (SQLite's rollback journal)
        is for a file on a network disk shared by several machines.
        """
        if journal not in ("wal", "delete"):
            raise StudyError(f"unknown journal mode {journal!r}: choose wal or delete")
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = float(busy_timeout)
        self.journal = journal
        self._conn: sqlite3.Connection | None = None
        self._check_file(create)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._conn.execute("PRAGMA synchronous = FULL")
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
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise StudyError(f"cannot read study file {p}: {exc.strerror}") from None
        if head and head != SQLITE_MAGIC:
            raise StudyError(f"{p} is not a seminas study: it is not an SQLite database")

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
                raise StudyError(f"{self.path} is an empty database, not a seminas study")
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
            raise StudyError(
                f"study {self.path} is damaged ({'; '.join(problems)}): restore it from a copy "
                f"or start a new one"
            )

    def _migrate(self, version: int) -> None:
        if version not in MIGRATIONS:
            raise StudyError(
                f"{self.path} was written by an older seminas (study format {version}) that this "
                f"one cannot read (format {FORMAT_VERSION}): open it with the seminas version "
                f"that wrote it, or start a new study"
            )
        with self._transaction() as conn:
            while version < FORMAT_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),)
            )

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
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StudyError(
                f"study {self.path} stayed locked by another process for over "
                f"{self.busy_timeout:.0f} s ({text})"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StudyError(
                f"study {self.path} is damaged ({text}): restore it from a copy or start a new one"
            )
        if "no such table" in text or "no such column" in text:
            return StudyError(f"{self.path} is not a complete seminas study ({text})")
        return StudyError(f"study {self.path}: {exc.__class__.__name__}: {text}")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StudyError(f"study {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: take the write lock first, so read-then-write is atomic."""
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

    def reopen(self) -> SQLiteStorage:
        """A second connection to the same file (for another thread)."""
        return SQLiteStorage(self.path, busy_timeout=self.busy_timeout)

    # -- the study ---------------------------------------------------------------------------
    @_guarded
    def create(self, config: dict[str, Any], info: dict[str, Any]) -> bool:
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM study").fetchone():
                return False
            conn.execute(
                "INSERT INTO study (id, config, info, created) VALUES (1, ?, ?, ?)",
                (_dumps(config), _dumps(info), time.time()),
            )
            return True

    def _study_column(self, column: str) -> dict[str, Any]:
        row = self._db.execute(f"SELECT {column} FROM study").fetchone()
        if row is None:
            raise StudyError(f"{self.path} holds no study yet (its creation was interrupted)")
        return json.loads(row[0])

    @_guarded
    def config(self) -> dict[str, Any]:
        return self._study_column("config")

    @_guarded
    def info(self) -> dict[str, Any]:
        return self._study_column("info")

    def exists(self) -> bool:
        """Whether a study has been created in the file."""
        try:
            return self._db.execute("SELECT 1 FROM study").fetchone() is not None
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    @_guarded
    def set_state(self, key: str, value: Any) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, _dumps(value)),
            )

    @_guarded
    def get_state(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- trials ------------------------------------------------------------------------------
    @staticmethod
    def _row(values: sqlite3.Row | tuple) -> TrialRow:
        data = dict(zip(_TRIAL_COLUMNS, values, strict=True))
        data["arch"] = json.loads(data["arch"])
        data["encoding"] = json.loads(data["encoding"])
        data["extra"] = json.loads(data["extra"]) if data["extra"] else {}
        return TrialRow(**data)

    _SELECT = f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials"

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
                    "status, created) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (
                        row.number,
                        row.arch_id,
                        _dumps(row.arch),
                        _dumps(list(row.encoding)),
                        row.iteration,
                        _float(row.predicted),
                        now,
                    ),
                )
                stored.append(
                    TrialRow(
                        number=row.number,
                        arch_id=row.arch_id,
                        arch=row.arch,
                        encoding=list(row.encoding),
                        iteration=row.iteration,
                        predicted=_float(row.predicted),
                        created=now,
                    )
                )
            if checkpoint is not None:
                found = conn.execute(
                    "SELECT number, iteration, created, rng FROM checkpoints WHERE number = ?",
                    (checkpoint.number,),
                ).fetchone()
                if found is not None:
                    previous = Checkpoint(found[0], found[1], found[2], _from_blob(found[3]))
                else:
                    extra = state() if state is not None else None
                    conn.execute(
                        "INSERT INTO checkpoints (number, iteration, created, rng, state) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            checkpoint.number,
                            checkpoint.iteration,
                            checkpoint.created,
                            _to_blob(checkpoint.rng),
                            None if extra is None else _to_blob(extra),
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
                "UPDATE trials SET status = 'done', finished = ?, lease_until = NULL, "
                "search_metric = ?, report_metric = ?, cost_seconds = ?, params = ?, extra = ?, "
                "error = NULL WHERE number = ? AND worker = ? AND status = 'running'",
                (
                    time.time(),
                    float(record.search_metric),
                    _float(record.report_metric),
                    _float(record.cost_seconds),
                    None if record.params is None else int(record.params),
                    _dumps(record.extra or {}),
                    number,
                    worker,
                ),
            )
            if cur.rowcount == 1 and session is not None:
                conn.execute(
                    "UPDATE sessions SET evaluated = evaluated + 1 WHERE id = ?", (session,)
                )
            return cur.rowcount == 1

    @_guarded
    def fail(
        self,
        number: int,
        worker: str,
        error: str,
        final: bool = False,
        attempts: Sequence[dict[str, Any]] | None = None,
    ) -> bool:
        extra = _dumps({"gave_up": True, "attempts": list(attempts or [])}) if final else None
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

    @_guarded
    def retry_failed(self) -> int:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = 'pending', worker = NULL, lease_until = NULL "
                "WHERE status = 'failed' AND (extra IS NULL OR extra NOT LIKE '%\"gave_up\"%')"
            )
            return cur.rowcount

    # -- checkpoints -------------------------------------------------------------------------
    @_guarded
    def checkpoints(self) -> list[tuple[int, int, float, bool]]:
        rows = self._db.execute(
            "SELECT number, iteration, created, state IS NOT NULL FROM checkpoints "
            "ORDER BY number"
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
        if found is None:
            return None
        try:
            rng = _from_blob(found[3])
            state = None if found[4] is None else _from_blob(found[4])
        except Exception as exc:  # a damaged or foreign blob: never unpickle beyond weights
            raise StudyError(
                f"checkpoint at query {found[0]} in {self.path} cannot be read "
                f"({exc.__class__.__name__})"
            ) from None
        return Checkpoint(int(found[0]), int(found[1]), float(found[2]), rng, state)

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
    def update_session(
        self,
        session: int,
        *,
        status: str | None = None,
        phases: dict[str, float] | None = None,
        replayed: int | None = None,
        replay_seconds: float | None = None,
    ) -> None:
        with self._transaction() as conn:
            if status is not None:
                # "killed" is noticed later by another process: when it died is unknown
                ended = None if status in ("running", "killed") else time.time()
                conn.execute(
                    "UPDATE sessions SET status = ?, ended = ? WHERE id = ?",
                    (status, ended, session),
                )
            if replayed is not None:
                conn.execute("UPDATE sessions SET replayed = ? WHERE id = ?", (replayed, session))
            if replay_seconds is not None:
                conn.execute(
                    "UPDATE sessions SET replay_seconds = ? WHERE id = ?",
                    (replay_seconds, session),
                )
            for phase, seconds in (phases or {}).items():
                conn.execute(
                    "INSERT INTO phase_times (session, phase, seconds) VALUES (?, ?, ?) "
                    "ON CONFLICT (session, phase) DO UPDATE SET seconds = excluded.seconds",
                    (session, phase, float(seconds)),
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

    @_guarded
    def format_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        return int(row[0])
