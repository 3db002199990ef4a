import os
from pathlib import Path

import pytest

from seminas.data import data_dir
from seminas.spaces import nb101_enum as ne

DATA = data_dir()
# Resolved at import, before the autouse fixture points SEMINAS_CACHE at a temporary directory:
# a valid enumeration the user already built is reused (read-only) instead of rebuilt.
USER_ENUM_CACHE = ne.default_cache_path()


def need(relpath: str) -> Path:
    path = DATA / relpath
    if not path.is_file():
        pytest.skip(f"real data file {path} is absent (set SEMINAS_DATA to the shared data dir)")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Tests never write into the user's cache, except the NB101 enumeration which is shared
    (it is expensive and read-only once built) through SEMINAS_TEST_ENUM_CACHE."""
    if "SEMINAS_CACHE" not in os.environ or os.environ.get("SEMINAS_TEST_CACHE_SET"):
        monkeypatch.setenv("SEMINAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Tests never read the developer's own per-user data directory (platformdirs honours
    XDG_DATA_HOME): a fresh, absent one for every test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data") / "absent"))


@pytest.fixture(scope="session")
def nb201():
    need("nasbench201/12ep.csv")
    need("nasbench201/test-200ep.csv")
    need("nasbench201/cifar10-valid-200ep.csv")
    from seminas.benchmarks.nb201 import NB201Benchmark

    return NB201Benchmark("cifar10")


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server that this test session starts and stops (tests/pg_server.py):
    from the pgserver wheel of the test extra, or a system installation."""
    from pg_server import PgServer, find_bindir

    bindir, origin = find_bindir()
    if bindir is None:
        pytest.skip(
            f"no PostgreSQL server binaries ({origin or 'none found'}): pip install -e "
            f"'.[test]' brings them (pgserver), or apt-get install postgresql"
        )
    server = PgServer(bindir)
    yield server
    server.destroy()


@pytest.fixture
def pg_database(pg_server):
    """The URL of a new, empty database on the session's PostgreSQL server."""
    import secrets

    return pg_server.create_database(f"test_{secrets.token_hex(4)}")


@pytest.fixture(scope="session")
def enum(tmp_path_factory) -> ne.NB101Enumeration:
    """The full NAS-Bench-101 enumeration: $SEMINAS_TEST_ENUM_CACHE if set (built there once),
    else the user's valid cache, else built once per test session in a temporary directory."""
    shared = os.environ.get("SEMINAS_TEST_ENUM_CACHE")
    if shared:
        return ne.load_or_build(shared)
    if USER_ENUM_CACHE.is_file():
        try:
            cached = ne.load(USER_ENUM_CACHE)
        except ne.EnumerationCacheError:
            cached = None
        if cached is not None and cached.is_full:
            return cached
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # one build shared by all xdist workers (load_or_build locks)
    return ne.load_or_build(root / "nb101-enum" / ne.CACHE_NAME)


@pytest.fixture
def enum_in_cache(enum, monkeypatch, tmp_path):
    """The enumeration where seminas looks for it by default (a link in a fresh SEMINAS_CACHE,
    inherited by subprocesses), so code that calls ``load_or_build()`` never rebuilds it."""
    cache = tmp_path / "enum-cache"
    cache.mkdir()
    (cache / ne.CACHE_NAME).symlink_to(Path(enum.path).resolve())
    monkeypatch.setenv("SEMINAS_CACHE", str(cache))
    return enum
