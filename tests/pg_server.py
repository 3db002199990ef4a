"""A real PostgreSQL server for the tests, started and stopped by the test session itself.

The server binaries come, in this order, from ``SEMINAS_PG_BINDIR``, the ``pgserver`` wheel
(PostgreSQL built into a Python package: ``pip install -e ".[test]"`` installs it, so the
README's test command needs nothing else), ``pg_config --bindir``, ``initdb`` on the PATH, or
a Debian/Ubuntu ``postgresql`` package (``/usr/lib/postgresql/VERSION/bin``). Only when none
exists do the PostgreSQL tests skip, saying so.

The cluster lives in a fresh temporary folder, listens on 127.0.0.1 at a free port (and a
Unix socket in that folder), trusts local logins, and is stopped when the session ends.
PostgreSQL refuses to run as root, so under root (CI, containers) it runs as ``nobody``.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "postgres"  # the cluster's superuser


def unprivileged() -> tuple[int, int]:
    """Who runs the server when the tests run as root: ``nobody``."""
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def find_bindir() -> tuple[Path | None, str]:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``, and where it came from."""

    def ok(folder: Path | str | None) -> bool:
        return folder is not None and all(
            os.access(Path(folder) / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")
        )

    given = os.environ.get("SEMINAS_PG_BINDIR")
    if given:
        return (Path(given), "SEMINAS_PG_BINDIR") if ok(given) else (None, "SEMINAS_PG_BINDIR")
    spec = importlib.util.find_spec("pgserver")  # found, not imported: no side effects
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if ok(folder):
            return folder, "the pgserver package"
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            folder = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            if ok(folder):
                return Path(folder), "pg_config"
        except (OSError, subprocess.SubprocessError):
            pass
    initdb = shutil.which("initdb")
    if initdb and ok(Path(initdb).parent):
        return Path(initdb).parent, "the PATH"
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for folder in reversed(versions):
        if ok(folder):
            return Path(folder), "the Debian postgresql package"
    return None, ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster in a temporary folder (see the module doc)."""

    def __init__(self, bindir: Path, fsync: bool = False) -> None:
        self.bindir = Path(bindir)
        root = os.geteuid() == 0
        # under root, a folder that nobody can reach: /tmp rather than a private TMPDIR
        self.root = Path(
            tempfile.mkdtemp(
                prefix="seminas-pg-", dir="/tmp" if root and os.path.isdir("/tmp") else None
            )
        )
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.fsync = fsync
        self._as: dict = {}
        if root:  # initdb and postgres refuse to run as root
            uid, gid = unprivileged()
            os.chown(self.root, uid, gid)
            self._as = {"user": uid, "group": gid, "extra_groups": []}
            if not self._runnable():  # e.g. a checkout under /root, closed to nobody
                self.bindir = self._copy_binaries()
        self._run(
            "initdb",
            "-D",
            self.data,
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()
        atexit.register(self.stop)

    def _copy_binaries(self) -> Path:
        """A copy of the installation where the server's user can reach it. The pgserver
        wheel's binaries find their libraries at ``$ORIGIN/../../../pgserver.libs``, a folder
        beside the package: it is copied to the same place relative to the copy."""
        install = self.bindir.parent  # .../pgserver/pginstall
        package = install.parent
        copy = self.root / "postgresql" / package.name / install.name
        shutil.copytree(install, copy, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy.parent.parent / libs.name, symlinks=True)
        return copy / self.bindir.name

    def _runnable(self) -> bool:
        """Whether the server's user may run the binaries where they are."""
        try:
            return (
                subprocess.run(
                    [str(self.bindir / "postgres"), "--version"],
                    capture_output=True,
                    cwd=self.root,
                    timeout=60,
                    **self._as,
                ).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            return False

    def _run(self, tool: str, *args: object, timeout: float = 120) -> str:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        # output into files, never pipes: the server that pg_ctl starts would inherit a pipe
        # and keep it open, and reading it to its end would wait for the server to stop
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                [str(self.bindir / tool), *map(str, args)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                cwd=self.root,
                timeout=timeout,
                **self._as,
            )
            out.seek(0)
            text = out.read()
        if proc.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} {' '.join(map(str, args))} failed ({proc.returncode}): "
                f"{text.strip()} {log}"
            )
        return text

    def _options(self) -> str:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.root,
            "max_connections": 200,
            "fsync": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
        }
        return " ".join(f"-c {k}={v}" for k, v in settings.items())

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            "-w",
            "-t",
            "60",
            "-o",
            self._options(),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, close every connection)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", mode, "stop")

    def restart(self) -> None:
        """What an administrator's restart does to the clients: every connection is cut."""
        self._run(
            "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            "-w",
            "-t",
            "60",
            "-m",
            "fast",
            "-o",
            self._options(),
            "restart",
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------------
    def url(self, database: str = "postgres", driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
