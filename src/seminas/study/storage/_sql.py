"""Studies in a server database (PostgreSQL) through SQLAlchemy: the :class:`Storage` for
searches whose workers run on several machines.

Where a study lives: ``postgresql://USER@HOST:PORT/DATABASE?study=NAME`` (``postgresql+psycopg://``
names the driver; ``postgres://`` is taken as ``postgresql://``). One database holds any number
of studies, told apart by NAME (``default`` when the URL names none): every table has a
``study`` column, and the tables live in the first schema of the connection's ``search_path``
(``public`` unless the URL sets ``options=-csearch_path=SCHEMA``), so a group of studies can
also get a schema of its own. ``reconnect=SECONDS`` in the URL sets how long a lost connection
is retried (default :data:`RECONNECT_SECONDS`).

How the contract is kept with many processes and machines:

- a claim is one ``UPDATE ... WHERE number = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``:
  two workers never take the same pending query, and neither waits for the other;
- every time that decides something (leases, claim times) is the database server's clock, so
  the workers' clocks need not agree;
- the tables are created once per schema under an advisory lock (two searches starting at
  once on an empty database cannot both create them); the ``seminas_meta`` table keeps the
  format version, and a newer or foreign layout is refused in one line;
- a connection lost mid-search (a server restart, a network cut) is retried for up to
  ``reconnect`` seconds, so a short outage is survived; a write whose COMMIT may or may not
  have reached the server is resolved before it is redone (a claim carries a token, a result
  is found under its worker), so nothing is done twice. After that the method raises a
  :class:`StudyError`; everything committed stays, and ``seminas resume`` continues exactly.

Values are encoded as in the SQLite file (:mod:`._codec`): JSON text, checkpoints as bytes.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

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
    StudyWarning,
    TrialRow,
)
from seminas.study.storage._codec import (
    dumps,
    from_blob,
    result_values,
    to_blob,
    trial_values,
)

DEFAULT_STUDY = "default"  # the study of a URL without ?study=
RECONNECT_SECONDS = 60.0  # how long a lost connection is retried before a method gives up
CONNECT_TIMEOUT = 10  # seconds for one connection attempt
SCHEMA_LOCK = 0x534D4E53  # advisory lock key ("SMNS") taken while the tables are created

# Migrations from an older layout: {old_version: function(connection)} upgrading it by one.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {}

# -- the tables -------------------------------------------------------------------------------
_meta = sa.MetaData()
_F = sa.Double  # DOUBLE PRECISION: times, metrics
sa.Table(
    "seminas_meta",
    _meta,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
sa.Table(
    "seminas_studies",
    _meta,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("info", sa.Text, nullable=False),
    sa.Column("created", _F, nullable=False),
)


def _study_fk() -> sa.ForeignKey:
    return sa.ForeignKey("seminas_studies.id", ondelete="CASCADE")


sa.Table(
    "seminas_state",
    _meta,
    sa.Column("study", sa.BigInteger, _study_fk(), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
sa.Table(
    "seminas_trials",
    _meta,
    sa.Column("study", sa.BigInteger, _study_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("arch_id", sa.Text, nullable=False),
    sa.Column("arch", sa.Text, nullable=False),
    sa.Column("encoding", sa.Text, nullable=False),
    sa.Column("iteration", sa.Integer, nullable=False),
    sa.Column("predicted", _F),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("worker", sa.Text),
    sa.Column("lease_until", _F),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created", _F, nullable=False),
    sa.Column("started", _F),
    sa.Column("finished", _F),
    sa.Column("search_metric", _F),
    sa.Column("report_metric", _F),
    sa.Column("cost_seconds", _F),
    sa.Column("params", sa.BigInteger),
    sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
    sa.Column("error", sa.Text),
    sa.Column("claim", sa.Text),  # token of the claim that took it (resolves a lost COMMIT)
    sa.CheckConstraint("number >= 0", name="seminas_trials_number"),
    sa.CheckConstraint(
        "status IN ('pending', 'running', 'done', 'failed')", name="seminas_trials_status"
    ),
    sa.Index("seminas_trials_status_idx", "study", "status", "number"),
)
sa.Table(
    "seminas_checkpoints",
    _meta,
    sa.Column("study", sa.BigInteger, _study_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("iteration", sa.Integer, nullable=False),
    sa.Column("created", _F, nullable=False),
    sa.Column("rng", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.LargeBinary),
)
sa.Table(
    "seminas_sessions",
    _meta,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("study", sa.BigInteger, _study_fk(), nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("worker", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", _F, nullable=False),
    sa.Column("ended", _F),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("evaluated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("replayed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("replay_seconds", _F),
)
sa.Table(
    "seminas_phase_times",
    _meta,
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),  # first-booked order
    sa.Column(
        "session",
        sa.BigInteger,
        sa.ForeignKey("seminas_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("phase", sa.Text, primary_key=True),
    sa.Column("seconds", _F, nullable=False),
)
TABLES = tuple(_meta.tables)

_NOW = "CAST(EXTRACT(EPOCH FROM now()) AS DOUBLE PRECISION)"  # the server's clock
_COLUMNS = ", ".join(TRIAL_FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM seminas_trials WHERE study = :study"


def parse_url(location: str) -> tuple[sa.URL, str, float, str]:
    """``(engine URL, study name, reconnect seconds, shown location)`` of a study URL: the
    ``study`` and ``reconnect`` query parameters are seminas's own, the rest goes to the driver;
    the shown location hides a password."""
    try:
        url = sa.make_url(location)
    except sa_exc.ArgumentError as exc:
        raise StudyError(f"{location!r} is not a database URL ({exc})") from None
    # the user's own text, unless it holds a password (then SQLAlchemy's rendering hides it)
    shown = url.render_as_string(hide_password=True) if url.password else location
    if url.drivername.split("+", 1)[0] == "postgres":  # the short form some services print
        url = url.set(drivername="postgresql" + url.drivername[len("postgres") :])
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername != "postgresql+psycopg":  # the one driver the tests run on
        raise StudyError(
            f"{shown}: seminas reaches PostgreSQL through psycopg 3: write postgresql:// or "
            f"postgresql+psycopg://, not {url.drivername}://"
        )
    name = url.query.get("study", DEFAULT_STUDY)
    reconnect = url.query.get("reconnect", None)
    if isinstance(name, tuple) or isinstance(reconnect, tuple):
        raise StudyError(f"{shown}: give study= and reconnect= once each")
    if not name or not name.isprintable() or name.strip() != name or len(name) > 200:
        raise StudyError(
            f"{shown}: the study name {name!r} must be 1 to 200 printable characters without "
            f"leading or trailing spaces"
        )
    try:
        seconds = RECONNECT_SECONDS if reconnect is None else float(reconnect)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise StudyError(f"{shown}: reconnect={reconnect} is not a number of seconds >= 0")
    if not url.database:
        raise StudyError(
            f"{shown} names no database: write postgresql://USER@HOST:PORT/DATABASE?study=NAME"
        )
    return url.difference_update_query(["study", "reconnect"]), name, seconds, shown


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def _transient(exc: sa_exc.DBAPIError) -> bool:
    """A failure that a new connection (or a second try of the transaction) may not meet: the
    connection was lost or refused, the server is shutting down or starting up, a
    serialization failure or deadlock rolled the transaction back."""
    if exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    if state:
        return state[:2] in ("08", "57") or state in ("40001", "40P01", "53300")
    # no SQLSTATE: the driver's own report of a connection that failed or closed
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


class _Stage:
    """Where a transaction failed: before its work (nothing written), in it (rolled back, or
    maybe written for a single autocommitted statement), or in its COMMIT (maybe written)."""

    CONNECT, RESOLVE, WORK, COMMIT = range(4)


@functools.lru_cache(maxsize=256)
def _text(sql: str) -> sa.TextClause:
    return sa.text(sql)


class SQLStorage(Storage):
    """A study in a PostgreSQL database, one of possibly many there (see the module doc)."""

    def __init__(
        self,
        location: str,
        create: bool = False,
        read_only: bool = False,
        reconnect_seconds: float | None = None,
    ) -> None:
        """Connect to the database of ``location`` (a ``postgresql://`` URL); ``create``
        creates the seminas tables if missing, ``read_only`` never writes."""
        if create and read_only:
            raise ValueError("a study cannot be created read-only")
        url, self.study_name, reconnect, self.location = parse_url(str(location))
        self.reconnect_seconds = reconnect if reconnect_seconds is None else reconnect_seconds
        self.read_only = bool(read_only)
        self.database = url.database
        self._where = f"database {url.database} on {url.host or 'the local socket'}"
        if url.port:
            self._where += f":{url.port}"
        self._study_id: int | None = None
        self._connected = False  # lost connections are retried only once one worked
        self._closed = False
        self._outage = False  # a lost connection was reported and not yet regained
        self._lock = threading.Lock()
        args: dict[str, Any] = {"application_name": "seminas"}
        if "connect_timeout" not in url.query:
            args["connect_timeout"] = CONNECT_TIMEOUT
        if read_only:  # the server refuses writes too, also of single autocommitted statements
            options = url.query.get("options", "")
            options = options if isinstance(options, str) else " ".join(options)
            args["options"] = f"{options} -c default_transaction_read_only=on".strip()
        try:
            # No pool_pre_ping: a connection that died in the pool fails its first statement,
            # before anything is written, and _run retries on a new one.
            self._engine = sa.create_engine(url, pool_size=2, max_overflow=8, connect_args=args)
        except (ImportError, sa_exc.NoSuchModuleError) as exc:
            raise StudyError(
                f"studies on PostgreSQL need a driver ({exc}): pip install 'seminas[postgres]'"
            ) from None
        try:
            if create:
                self._run(self._ensure_schema)
            else:
                self._run(self._check_schema, write=False)
            self._connected = True
            self._study_id = self._run(self._find_study, write=False)
            if self._study_id is None and not create:
                raise self._not_ready()
        except BaseException:
            self.close()
            raise

    def _not_ready(self) -> StudyNotReady:
        return StudyNotReady(
            f"{self._where} holds no study {self.study_name!r} yet: start it with "
            f"`seminas search ... --study {self.location}`"
        )

    # -- running transactions ----------------------------------------------------------------
    def _run(
        self,
        work: Callable[[sa.Connection], Any],
        write: bool = True,
        resolve: Callable[[sa.Connection], Any] | None = None,
        single: bool = False,
    ) -> Any:
        """Run ``work(connection)`` as one transaction and commit it (``single``: one
        statement, autocommitted: one round trip instead of three). A lost connection is
        retried (with backoff, for up to :attr:`reconnect_seconds`) once the storage has
        connected; after a failure that may have been committed all the same,
        ``resolve(connection)`` first tells whether it was (the method's result, or None to
        run ``work`` again)."""
        if self._closed:
            raise StudyError(f"study {self.location} is closed")
        if write and self.read_only:
            raise StudyError(f"study {self.location} was opened read-only")
        deadline: float | None = None
        delay = 0.05
        maybe_written = False
        while True:
            stage = _Stage.CONNECT
            try:
                with self._engine.connect() as conn:
                    if single:
                        conn.execution_options(isolation_level="AUTOCOMMIT")
                    if maybe_written and resolve is not None:
                        stage = _Stage.RESOLVE
                        found = resolve(conn)
                        if found is not None:
                            conn.rollback()
                            return found
                    stage = _Stage.WORK
                    result = work(conn)
                    stage = _Stage.COMMIT
                    conn.commit()
                    if deadline is not None:
                        self._outage = False  # back: a later loss is reported again
                    return result
            except sa_exc.DBAPIError as exc:
                if stage == _Stage.COMMIT or (stage == _Stage.WORK and single and write):
                    maybe_written = True
                elif stage == _Stage.WORK:
                    maybe_written = False  # rolled back: the earlier doubt is settled
                if not (self._connected and _transient(exc)) or self._closed:
                    raise self._explain(exc) from None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.reconnect_seconds
                    self._warn_lost(exc)
                if now >= deadline:
                    raise StudyError(
                        f"study {self.location}: lost the connection to {self._where} and "
                        f"could not get it back within {self.reconnect_seconds:g} s "
                        f"({self._reason(exc)}); everything committed is kept: continue with "
                        f"`seminas resume {self.location}` once the server is back"
                    ) from None
                time.sleep(min(delay, max(0.0, deadline - now)))
                delay = min(delay * 2, 2.0)

    def _one(
        self,
        sql: str,
        fetch: str = "rowcount",
        write: bool = True,
        resolve: Callable[[sa.Connection], Any] | None = None,
        **params: Any,
    ) -> Any:
        """One statement of this study (``:study`` is bound), autocommitted; ``fetch`` is
        ``rowcount``, ``first``, ``all`` or ``scalar``."""
        bound = {"study": self._sid, **params}

        def work(conn: sa.Connection) -> Any:
            result = conn.execute(_text(sql), bound)
            if fetch == "rowcount":
                return result.rowcount
            return getattr(result, fetch)()

        return self._run(work, write=write, resolve=resolve, single=True)

    def _warn_lost(self, exc: sa_exc.DBAPIError) -> None:
        with self._lock:  # one warning per outage, whichever thread meets it first
            if self._outage:
                return
            self._outage = True
        warnings.warn(
            f"study {self.location}: lost the connection to {self._where} "
            f"({self._reason(exc)}); retrying for up to {self.reconnect_seconds:g} s",
            StudyWarning,
            stacklevel=4,
        )

    @staticmethod
    def _reason(exc: sa_exc.DBAPIError) -> str:
        text = _one_line(getattr(exc, "orig", None) or exc)
        return f"{type(getattr(exc, 'orig', exc)).__name__}: {text}"[:300]

    def _explain(self, exc: sa_exc.DBAPIError) -> StudyError:
        """One line for a database error: what went wrong and what to do."""
        state = _sqlstate(exc)
        reason = self._reason(exc)
        if not state:  # a refused connection carries its reason in the text only
            text = reason.lower()
            if "database" in text and "does not exist" in text:
                state = "3D000"
            elif any(w in text for w in ("authentication", "pg_hba.conf", "role")):
                state = "28000"
        if state == "3D000":
            return StudyError(
                f"{self._where} does not exist: create it first (`createdb {self.database}`, "
                f"see docs/studies.md) ({reason})"
            )
        if state.startswith("28"):
            return StudyError(
                f"the server refused the login to {self._where} ({reason}): check the user in "
                f"{self.location}, and give a password through ~/.pgpass or PGPASSWORD"
            )
        if state == "42501":
            return StudyError(
                f"study {self.location}: the database user lacks a privilege ({reason}): let it "
                f"create tables (e.g. `createdb -O USER {self.database}`) or grant it access to "
                f"the seminas_ tables"
            )
        if state == "25006":
            return StudyError(
                f"study {self.location} cannot be written here: the connection is read-only "
                f"(a standby server, or a read-only user) ({reason})"
            )
        if state in ("42P01", "42703"):
            return StudyError(
                f"{self._where} does not hold complete seminas tables ({reason}): was it "
                f"changed by hand or by another program?"
            )
        if not state and not self._connected:
            return StudyError(
                f"cannot connect to {self._where} for study {self.location} ({reason}): is the "
                f"server running and the URL right?"
            )
        return StudyError(f"study {self.location}: {reason}")

    def _exec(self, conn: sa.Connection, sql: str, **params: Any) -> sa.CursorResult:
        return conn.execute(_text(sql), {"study": self._study_id, **params})

    @property
    def _sid(self) -> int:
        if self._study_id is None:
            self._study_id = self._run(self._find_study, write=False)
        if self._study_id is None:
            raise self._not_ready()
        return self._study_id

    # -- opening -----------------------------------------------------------------------------
    def _ensure_schema(self, conn: sa.Connection) -> None:
        """Create the tables if missing (under an advisory lock: two searches starting at
        once on an empty database cannot both create them), then check them."""
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})
        self._check_schema(conn, create=True)

    def _check_schema(self, conn: sa.Connection, create: bool = False) -> None:
        """Refuse a foreign, newer or unreadable layout; migrate an older one."""
        present = conn.execute(sa.text("SELECT to_regclass('seminas_meta')")).scalar()
        if present is None:
            others = conn.execute(
                sa.text(
                    "SELECT count(*) FROM unnest(CAST(:names AS text[])) AS n "
                    "WHERE to_regclass(n) IS NOT NULL"
                ),
                {"names": list(TABLES)},
            ).scalar()
            if others:
                raise StudyError(
                    f"{self._where} has seminas_ tables without their seminas_meta table: they "
                    f"belong to another program, or were damaged; use another database or schema"
                )
            if not create:  # not ready rather than wrong: a worker waits for the search
                raise StudyNotReady(
                    f"{self._where} holds no seminas studies yet: start one with `seminas "
                    f"search ... --study {self.location}`"
                )
            _meta.create_all(conn, checkfirst=False)
            conn.execute(
                sa.text(
                    "INSERT INTO seminas_meta (key, value) VALUES ('format_version', :v), "
                    "('app', 'seminas')"
                ),
                {"v": str(FORMAT_VERSION)},
            )
            return
        rows = dict(conn.execute(sa.text("SELECT key, value FROM seminas_meta")).all())
        if rows.get("app") != "seminas":
            raise StudyError(
                f"{self._where} has a seminas_meta table of another program, not seminas "
                f"studies: use another database or schema"
            )
        try:
            version = int(rows.get("format_version", -1))
        except ValueError:
            version = -1
        if version > FORMAT_VERSION:
            raise StudyError(
                f"{self._where} was written by a newer seminas (study format {version}; this one "
                f"reads format {FORMAT_VERSION}): upgrade seminas to open its studies"
            )
        if version < FORMAT_VERSION:
            if version not in MIGRATIONS:
                raise StudyError(
                    f"{self._where} was written by an older seminas (study format {version}) "
                    f"that this one cannot read (format {FORMAT_VERSION}): open it with the "
                    f"seminas version that wrote it, or use another database"
                )
            if self.read_only:
                raise StudyError(
                    f"{self._where} is in study format {version} and must be upgraded to "
                    f"format {FORMAT_VERSION} first, which reading it cannot do: run `seminas "
                    f"resume {self.location}` once with a user that may write"
                )
            while version < FORMAT_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                sa.text("UPDATE seminas_meta SET value = :v WHERE key = 'format_version'"),
                {"v": str(version)},
            )

    def _find_study(self, conn: sa.Connection) -> int | None:
        if conn.execute(sa.text("SELECT to_regclass('seminas_studies')")).scalar() is None:
            return None
        return conn.execute(
            sa.text("SELECT id FROM seminas_studies WHERE name = :n"), {"n": self.study_name}
        ).scalar()

    # -- the database itself -----------------------------------------------------------------
    def format_version(self) -> int:
        value = self._run(
            lambda conn: conn.execute(
                _text("SELECT value FROM seminas_meta WHERE key = 'format_version'")
            ).scalar(),
            write=False,
            single=True,
        )
        return int(value) if value is not None else -1

    def close(self) -> None:
        self._closed = True
        engine = getattr(self, "_engine", None)
        if engine is not None:
            engine.dispose()

    # -- the study ---------------------------------------------------------------------------
    def create(self, config: dict[str, Any], info: dict[str, Any]) -> bool:
        def work(conn: sa.Connection) -> int | None:
            return conn.execute(
                _text(
                    f"INSERT INTO seminas_studies (name, config, info, created) VALUES "
                    f"(:n, :c, :i, {_NOW}) ON CONFLICT (name) DO NOTHING RETURNING id"
                ),
                {"n": self.study_name, "c": dumps(config), "i": dumps(info)},
            ).scalar()

        new = self._run(work, single=True)  # redone after a lost COMMIT: then False, as
        if new is None:  # for a study that existed (the caller compares the configs)
            self._study_id = self._run(self._find_study, write=False)
            return False
        self._study_id = int(new)
        return True

    def exists(self) -> bool:
        if self._study_id is None:
            self._study_id = self._run(self._find_study, write=False)
        return self._study_id is not None

    def _study_column(self, column: str) -> dict[str, Any]:
        value = self._one(
            f"SELECT {column} FROM seminas_studies WHERE id = :study", "scalar", write=False
        )
        if value is None:
            raise StudyError(f"study {self.location} was deleted from {self._where}")
        return json.loads(value)

    def config(self) -> dict[str, Any]:
        return self._study_column("config")

    def info(self) -> dict[str, Any]:
        return self._study_column("info")

    def set_state(self, key: str, value: Any) -> None:
        self._one(
            "INSERT INTO seminas_state (study, key, value) VALUES (:study, :k, :v) "
            "ON CONFLICT (study, key) DO UPDATE SET value = excluded.value",
            k=key,
            v=dumps(value),
        )

    def get_state(self, key: str, default: Any = None) -> Any:
        value = self._one(
            "SELECT value FROM seminas_state WHERE study = :study AND key = :k",
            "scalar",
            write=False,
            k=key,
        )
        return default if value is None else json.loads(value)

    # -- trials ------------------------------------------------------------------------------
    @staticmethod
    def _row(values: Sequence[Any]) -> TrialRow:
        return TrialRow.from_values(values)

    def propose(
        self,
        rows: Sequence[TrialRow],
        checkpoint: Checkpoint | None = None,
        state: Callable[[], dict[str, Any] | None] | None = None,
    ) -> tuple[list[TrialRow], Checkpoint | None]:
        sid = self._sid
        numbers = [int(r.number) for r in rows]
        values = [{"study": sid, **trial_values(r)} for r in rows]

        def work(conn: sa.Connection) -> tuple[list[TrialRow], Checkpoint | None]:
            found: dict[int, TrialRow] = {}
            if values:
                conn.execute(
                    _text(
                        "INSERT INTO seminas_trials (study, number, arch_id, arch, encoding, "
                        "iteration, predicted, status, created) VALUES (:study, :number, "
                        f":arch_id, :arch, :encoding, :iteration, :predicted, 'pending', {_NOW}) "
                        "ON CONFLICT (study, number) DO NOTHING"
                    ),
                    values,
                )
                stored = self._exec(conn, _SELECT + " AND number = ANY(:numbers)", numbers=numbers)
                found = {v[0]: self._row(v) for v in stored.all()}
            previous = None
            if checkpoint is not None:
                got = self._exec(
                    conn,
                    "SELECT number, iteration, created, rng FROM seminas_checkpoints "
                    "WHERE study = :study AND number = :n",
                    n=checkpoint.number,
                ).first()
                if got is not None:
                    previous = Checkpoint(got[0], got[1], got[2], from_blob(bytes(got[3])))
                else:
                    extra = state() if state is not None else None
                    self._exec(
                        conn,
                        "INSERT INTO seminas_checkpoints (study, number, iteration, created, "
                        "rng, state) VALUES (:study, :n, :it, :created, :rng, :state)",
                        n=checkpoint.number,
                        it=checkpoint.iteration,
                        created=checkpoint.created,
                        rng=to_blob(checkpoint.rng),
                        state=None if extra is None else to_blob(extra),
                    )
            return [found[n] for n in numbers], previous

        # redone after a lost COMMIT, it inserts nothing twice (ON CONFLICT) and reads back
        # what the lost one stored, its checkpoint included (the same states: no divergence)
        return self._run(work)

    def trial(self, number: int) -> TrialRow | None:
        found = self._one(_SELECT + " AND number = :n", "first", write=False, n=int(number))
        return None if found is None else self._row(found)

    def trials(self, status: str | None = None) -> list[TrialRow]:
        if status is None:
            found = self._one(_SELECT + " ORDER BY number", "all", write=False)
        else:
            found = self._one(
                _SELECT + " AND status = :status ORDER BY number",
                "all",
                write=False,
                status=status,
            )
        return [self._row(r) for r in found]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        found = self._one(
            "SELECT status, count(*) FROM seminas_trials WHERE study = :study GROUP BY status",
            "all",
            write=False,
        )
        for status, n in found:
            out[status] = int(n)
        return out

    # -- claims and leases -------------------------------------------------------------------
    def claim(
        self, worker: str, lease_seconds: float, first: int | None = None, last: int | None = None
    ) -> TrialRow | None:
        params = {
            "worker": worker,
            "token": secrets.token_hex(8),  # finds this claim again after a lost COMMIT
            "lease": float(lease_seconds),
            "lo": -1 if first is None else int(first),
            "hi": 2**31 - 1 if last is None else min(int(last), 2**31 - 1),
        }

        def resolve(conn: sa.Connection) -> TrialRow | None:
            found = self._exec(
                conn,
                _SELECT + " AND claim = :token AND worker = :worker AND status = 'running'",
                **params,
            ).first()
            return None if found is None else self._row(found)

        # one statement: the subquery locks the lowest free row, skipping rows another
        # claim has locked this instant (it re-checks the row's status once locked)
        found = self._one(
            f"UPDATE seminas_trials SET status = 'running', worker = :worker, "
            f"claim = :token, lease_until = {_NOW} + :lease, started = {_NOW}, "
            f"attempts = attempts + 1, error = NULL "
            f"WHERE study = :study AND number = ("
            f"SELECT number FROM seminas_trials WHERE study = :study "
            f"AND number BETWEEN :lo AND :hi AND (status = 'pending' OR "
            f"(status = 'running' AND lease_until < {_NOW})) "
            f"ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_COLUMNS}",
            "first",
            resolve=resolve,
            **params,
        )
        return None if found is None else self._row(found)

    def heartbeat(self, number: int, worker: str, lease_seconds: float) -> bool:
        return (
            self._one(
                f"UPDATE seminas_trials SET lease_until = {_NOW} + :lease WHERE study = :study "
                f"AND number = :n AND worker = :worker AND status = 'running'",
                n=int(number),
                worker=worker,
                lease=float(lease_seconds),
            )
            == 1
        )

    def _held_as(self, number: int, worker: str, status: str) -> Callable[[sa.Connection], Any]:
        """Resolves a lost COMMIT of finish/fail: the row has the new status under ``worker``
        (a worker that lost its claim never writes, and the next holder has another name)."""

        def resolve(conn: sa.Connection) -> bool | None:
            got = self._exec(
                conn,
                "SELECT 1 FROM seminas_trials WHERE study = :study AND number = :n AND "
                "worker = :worker AND status = :status",
                n=number,
                worker=worker,
                status=status,
            ).first()
            return True if got is not None else None

        return resolve

    def finish(self, number: int, worker: str, record: Record, session: int | None) -> bool:
        # one statement: the result and the session's count are written together or not at all
        done = self._one(
            f"WITH done AS (UPDATE seminas_trials SET status = 'done', finished = {_NOW}, "
            f"lease_until = NULL, search_metric = :search_metric, "
            f"report_metric = :report_metric, cost_seconds = :cost_seconds, params = :params, "
            f"extra = :extra, error = NULL "
            f"WHERE study = :study AND number = :n AND worker = :worker "
            f"AND status = 'running' RETURNING number), "
            f"counted AS (UPDATE seminas_sessions SET evaluated = evaluated + 1 "
            f"WHERE id = :session AND EXISTS (SELECT 1 FROM done) RETURNING id) "
            f"SELECT count(*) FROM done",
            "scalar",
            resolve=self._held_as(int(number), worker, "done"),
            n=int(number),
            worker=worker,
            session=None if session is None else int(session),
            **result_values(record),
        )
        return bool(done)

    def _fail(self, number: int, worker: str, error: str, extra: str | None) -> bool:
        return (
            self._one(
                f"UPDATE seminas_trials SET status = 'failed', finished = {_NOW}, "
                f"lease_until = NULL, error = :error, "
                f"extra = coalesce(CAST(:extra AS text), extra) "
                f"WHERE study = :study AND number = :n AND worker = :worker AND status = 'running'",
                resolve=self._held_as(int(number), worker, "failed"),
                n=int(number),
                worker=worker,
                error=error,
                extra=extra,
            )
            == 1
        )

    def note_failure(self, number: int, worker: str, error: str) -> bool:
        return (
            self._one(
                "UPDATE seminas_trials SET attempts = attempts + 1, error = :error "
                "WHERE study = :study AND number = :n AND worker = :worker AND status = 'running'",
                # a lost COMMIT is not redone: an attempt counted twice would be worse than one
                # left uncounted, and the executor reports the error itself anyway
                resolve=lambda conn: True,
                n=int(number),
                worker=worker,
                error=error,
            )
            == 1
        )

    def release(self, workers: Sequence[str]) -> int:
        if not workers:
            return 0
        return self._one(
            "UPDATE seminas_trials SET status = 'pending', worker = NULL, lease_until = NULL, "
            "claim = NULL WHERE study = :study AND status = 'running' "
            "AND worker = ANY(:workers)",
            workers=list(workers),
        )

    def claimants(self) -> list[str]:
        found = self._one(
            "SELECT DISTINCT worker FROM seminas_trials WHERE study = :study AND "
            "status = 'running' AND worker IS NOT NULL ORDER BY worker",
            "all",
            write=False,
        )
        return [r[0] for r in found]

    # -- resume ------------------------------------------------------------------------------
    def retry_failed(self) -> int:
        self._sid  # noqa: B018 - raises if the study is not created

        def work(conn: sa.Connection) -> int:
            failed = self._exec(
                conn,
                "SELECT number, extra FROM seminas_trials WHERE study = :study AND "
                "status = 'failed' ORDER BY number FOR UPDATE",
            ).all()
            # the "gave_up" member of the extra JSON, as TrialRow.gave_up reads it
            again = [n for n, extra in failed if not _gave_up(extra)]
            if again:
                self._exec(
                    conn,
                    "UPDATE seminas_trials SET status = 'pending', worker = NULL, "
                    "lease_until = NULL, claim = NULL WHERE study = :study "
                    "AND number = ANY(:numbers)",
                    numbers=again,
                )
            return len(again)

        return self._run(work)

    # -- checkpoints -------------------------------------------------------------------------
    def checkpoints(self) -> list[tuple[int, int, float, bool]]:
        found = self._one(
            "SELECT number, iteration, created, state IS NOT NULL FROM seminas_checkpoints "
            "WHERE study = :study ORDER BY number",
            "all",
            write=False,
        )
        return [(int(a), int(b), float(c), bool(d)) for a, b, c, d in found]

    def load_checkpoint(self, number: int | None = None) -> Checkpoint | None:
        base = (
            "SELECT number, iteration, created, rng, state FROM seminas_checkpoints "
            "WHERE study = :study"
        )
        if number is None:
            found = self._one(
                base + " AND state IS NOT NULL ORDER BY number DESC LIMIT 1",
                "first",
                write=False,
            )
        else:
            found = self._one(base + " AND number = :n", "first", write=False, n=int(number))
        return None if found is None else Checkpoint.from_columns(found, f"study {self.location}")

    # -- sessions ----------------------------------------------------------------------------
    def start_session(self, kind: str, worker: str, host: str, pid: int) -> int:
        params = {"kind": kind, "worker": worker, "host": host, "pid": int(pid)}

        def resolve(conn: sa.Connection) -> int | None:  # a worker id names one session
            return self._exec(
                conn,
                "SELECT max(id) FROM seminas_sessions WHERE study = :study AND "
                "worker = :worker AND pid = :pid AND kind = :kind",
                **params,
            ).scalar()

        return int(
            self._one(
                f"INSERT INTO seminas_sessions (study, kind, worker, host, pid, started, status) "
                f"VALUES (:study, :kind, :worker, :host, :pid, {_NOW}, 'running') RETURNING id",
                "scalar",
                resolve=resolve,
                **params,
            )
        )

    def _update_session(self, session: int, update: SessionUpdate) -> None:
        phases = update.phases
        sets = []
        if update.status is not None:
            sets.append(f"status = :status, ended = {_NOW if update.ends else 'NULL'}")
        if update.replayed is not None:
            sets.append("replayed = :replayed")
        if update.replay_seconds is not None:
            sets.append("replay_seconds = :replay_seconds")
        params = {
            "i": session,
            "status": update.status,
            "replayed": update.replayed,
            "replay_seconds": update.replay_seconds,
        }

        def work(conn: sa.Connection) -> None:
            if sets:
                conn.execute(
                    _text(f"UPDATE seminas_sessions SET {', '.join(sets)} WHERE id = :i"), params
                )
            if phases:
                conn.execute(
                    _text(
                        "INSERT INTO seminas_phase_times (session, phase, seconds) "
                        "VALUES (:i, :p, :sec) ON CONFLICT (session, phase) "
                        "DO UPDATE SET seconds = excluded.seconds"
                    ),
                    [{"i": session, "p": p, "sec": s} for p, s in phases.items()],
                )

        # every part sets a value: redone after a lost COMMIT, it writes the same again
        self._run(work, single=not (sets and phases))

    def sessions(self) -> list[SessionRow]:
        found = self._one(
            "SELECT id, kind, worker, host, pid, started, ended, status, evaluated, replayed, "
            "replay_seconds FROM seminas_sessions WHERE study = :study ORDER BY id",
            "all",
            write=False,
        )
        return [SessionRow(*r) for r in found]

    def phase_seconds(self, kinds: Sequence[str] | None = None) -> dict[str, float]:
        sql = (
            "SELECT p.phase, sum(p.seconds) FROM seminas_phase_times p JOIN seminas_sessions s "
            "ON s.id = p.session WHERE s.study = :study"
        )
        params: dict[str, Any] = {}
        if kinds is not None:
            sql += " AND s.kind = ANY(:kinds)"
            params["kinds"] = list(kinds)
        found = self._one(
            sql + " GROUP BY p.phase ORDER BY min(p.seq)", "all", write=False, **params
        )
        return {phase: float(s) for phase, s in found}


def _gave_up(extra: str | None) -> bool:
    try:
        value = json.loads(extra) if extra else {}
    except ValueError:
        return False
    return isinstance(value, dict) and bool(value.get("gave_up"))
