import os
from pathlib import Path

import pytest

from seminas.data import data_dir

DATA = data_dir()


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
