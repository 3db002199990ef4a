"""Run a one-shot method over seeds, one durable record per finished seed (resumable).

Each record holds what the reports need: the method, the seed, its settings, the chosen cell,
the search's CPU and wall seconds, the final architecture parameters, and the chosen cell's
NAS-Bench-201 accuracies (validation and test on CIFAR-10, CIFAR-100, ImageNet16-120).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore
from seminas.oneshot.balenas import BalenasSettings, run_balenas
from seminas.oneshot.common import SearchOutcome, settings_dict, settings_from
from seminas.oneshot.darts import DartsSettings, run_darts
from seminas.oneshot.ponas import PonasSettings, run_ponas
from seminas.oneshot.zarts import ZartsSettings, run_zarts
from seminas.progress import NO_PROGRESS, Progress

STORE = "search.jsonl"
STORE_KIND = "nb201-oneshot-search"


@dataclass(frozen=True)
class Method:
    name: str
    settings: type
    run: Callable[..., SearchOutcome]
    paper: str


METHODS: dict[str, Method] = {
    "darts": Method("darts", DartsSettings, run_darts,
                    "Liu, Simonyan & Yang, DARTS, ICLR 2019 (first order)"),
    "zarts": Method("zarts", ZartsSettings, run_zarts,
                    "Wang et al., ZARTS, NeurIPS 2022 (MGS)"),
    "balenas": Method("balenas", BalenasSettings, run_balenas,
                      "Zhang et al., BaLeNAS, CVPR 2022"),
    "ponas": Method("ponas", PonasSettings, run_ponas,
                    "Huang & Chu, PONAS, 2020 (arXiv 2003.05112)"),
}


def method(name: str) -> Method:
    key = str(name).strip().lower()
    if key not in METHODS:
        raise SeminasError(f"unknown one-shot method {name!r}: choose {', '.join(METHODS)}")
    return METHODS[key]


# (dataset name in reports, validation key, test key): CIFAR-100 and ImageNet16-120 have no
# 200-epoch validation accuracy in the shared data, so their validation column is 12 epochs
TABLE_COLUMNS = (
    ("cifar10", "cifar10-valid.valid_acc.200ep", "cifar10.test_acc.200ep"),
    ("cifar100", "cifar100.valid_acc.12ep", "cifar100.test_acc.200ep"),
    ("ImageNet16-120", "ImageNet16-120.valid_acc.12ep", "ImageNet16-120.test_acc.200ep"),
)


def table_accuracies(cell: str, bench: Any) -> dict[str, Any]:
    """The cell's benchmark accuracies (%): ``{dataset: {"valid": v, "test": t}}``."""
    i = bench.index_of(cell)
    out: dict[str, Any] = {"index": i}
    for name, valid, test in TABLE_COLUMNS:
        out[name] = {"valid": float(bench.table.get(valid)[i]),
                     "test": float(bench.table.get(test)[i])}
    return out


def _store(out: Path) -> ResultsStore:
    return ResultsStore(out / STORE, STORE_KIND, key=lambda r: (r["method"], int(r["seed"])),
                        valid=lambda r: isinstance(r["cell"], str))


def full_table(data_dir: str | os.PathLike | None = None) -> Any:
    """A NAS-Bench-201 benchmark whose table holds every column the reports need."""
    from seminas.benchmarks.nb201 import NB201Benchmark, find_source

    keys = tuple(k for _, v, t in TABLE_COLUMNS for k in (v, t))
    table = find_source(data_dir, keys).load(keys)
    return NB201Benchmark("cifar10", table=table)


def run_searches(
    name: str, seeds: Sequence[int], out: str | os.PathLike,
    overrides: dict[str, Any] | None = None, progress: Progress = NO_PROGRESS,
    bench: Any = None, on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Search with ``name`` once per seed (skipping seeds already in ``out/search.jsonl`` with
    the same settings); returns this method's records for ``seeds``."""
    m = method(name)
    settings = settings_from(m.settings, dict(overrides or {}))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = _store(out)
    store.check_writable()
    bench = bench or full_table(settings.data_dir)
    wanted = settings_dict(settings)
    with store.exclusive("search"):
        done = {(r["method"], int(r["seed"])): r for r in store.read(repair=True)}
        records = []
        for seed in seeds:
            rec = done.get((m.name, int(seed)))
            if rec is not None:
                if rec["settings"] != wanted:
                    raise SeminasError(
                        f"{store.path} has {m.name} seed {seed} with other settings: use "
                        f"another --out or the same settings"
                    )
                records.append(rec)
                continue
            outcome = m.run(settings, int(seed), progress)
            rec = {**outcome.to_dict(), "settings": wanted,
                   "table": table_accuracies(outcome.cell, bench)}
            store.append(rec)
            records.append(rec)
            if on_record is not None:
                on_record(rec)
    return records


def read_records(out: str | os.PathLike) -> list[dict[str, Any]]:
    return _store(Path(out)).read()
