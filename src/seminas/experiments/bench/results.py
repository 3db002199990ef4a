"""A bench directory's files: ``results.jsonl`` (the common results store, one line per finished
run, keyed by ``(config_key, seed)``), ``errors.jsonl`` (runs given up, a plain log), and the
summary and plot written from them. One directory holds one benchmark's runs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, StoreWarning, json_line

RESULTS_FILE = "results.jsonl"
ERRORS_FILE = "errors.jsonl"
SUMMARY_MD = "summary.md"
SUMMARY_JSON = "summary.json"
CURVES_PNG = "curves.png"
BENCH_FILES = (RESULTS_FILE, ERRORS_FILE, SUMMARY_MD, SUMMARY_JSON, CURVES_PNG)

# Something in a bench directory was repaired or ignored; the bench goes on.
BenchWarning = StoreWarning


def results_path(path: str | os.PathLike) -> Path:
    """``DIR/results.jsonl`` for a bench directory, or the file itself."""
    p = Path(path)
    return p / RESULTS_FILE if p.is_dir() or p.suffix != ".jsonl" else p


def results_store(path: str | os.PathLike) -> ResultsStore:
    """The results store of a bench directory (or results file)."""
    return ResultsStore(
        results_path(path),
        "bench",
        key=lambda line: (line["config_key"], int(line["seed"])),
    )


def read_results(path: str | os.PathLike, repair: bool = False) -> list[dict[str, Any]]:
    """Read a results file (the common results store, :mod:`seminas.experiments.store`). A
    broken *last* line (a bench killed mid-write) is dropped with a :class:`BenchWarning` --
    and, with ``repair``, removed from the file so appends stay well-formed. A broken line
    elsewhere means the file was edited or mixed up: that is an error. Duplicate
    ``(config_key, seed)`` lines keep the first."""
    return results_store(path).read(repair=repair)


def append_result(path: Path, line: Mapping[str, Any]) -> None:
    """Append one run durably: a finished run survives a kill right after this returns."""
    results_store(path).append(line)


def append_error(path: Path, line: Mapping[str, Any]) -> None:
    """Append one line to a plain log (``errors.jsonl``), fsynced."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json_line(line))
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """Refuse a second bench writing to the same directory at the same time."""
    with results_store(out_dir / RESULTS_FILE).exclusive("bench"):
        yield


def check_one_benchmark(keys: Iterable[tuple[str, str, int]], where: Path) -> None:
    """One benchmark per directory: a bench that would mix two is refused before any run."""
    distinct = sorted(set(keys))
    if len(distinct) > 1:
        names = ", ".join(f"{s}/{d}/{f}ep" for s, d, f in distinct)
        raise SeminasError(
            f"{where} would mix benchmarks ({names}); a bench directory holds one benchmark's "
            f"runs: use another --out"
        )
