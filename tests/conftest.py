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


@pytest.fixture(scope="session")
def nb201():
    need("nasbench201/12ep.csv")
    need("nasbench201/test-200ep.csv")
    need("nasbench201/cifar10-valid-200ep.csv")
    from seminas.benchmarks.nb201 import NB201Benchmark

    return NB201Benchmark("cifar10")
