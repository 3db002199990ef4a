"""Small files in the official NAS-Bench-201 / NATS-Bench / NASLib layouts, for importer tests.

The structures follow the published formats (key names, nesting, container types, NumPy
scalars for ``params`` and ``latency``, fresh ``"set@epoch"`` strings per run, seeds as strings
inside a run but as ints in ``all_results`` keys), so the importers see what the real files
hold, only smaller. Values are random but reproducible from a seed.
"""

from __future__ import annotations

import bz2
import pickle
import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
# hp label -> (epochs, {dataset: seeds}); what the official files have, with fewer epochs.
RICH_SPEC = {
    "12": (
        3,
        {"cifar10-valid": [111, 777], "cifar10": [111], "cifar100": [111], "ImageNet16-120": [111]},
    ),
    "200": (
        4,
        {
            "cifar10-valid": [777, 888],
            "cifar10": [777, 888],
            "cifar100": [777, 888],
            "ImageNet16-120": [777, 888],
        },
    ),
}
THIN_SPEC = {"200": (2, {"cifar10-valid": [777, 888], "cifar10": [777]})}
PTH_LABELS = {"12": "less", "200": "full"}


def result_count(
    rng: np.random.Generator, arch: str, dataset: str, seed: int, epochs: int
) -> dict[str, Any]:
    """One run (a ResultsCount state dict)."""
    names = list(EVAL_SETS[dataset])
    k = len(names)
    u = rng.random(2 * k * epochs + k + 2 * epochs + 4).tolist()
    it = iter(u)
    acc: dict[str, float] = {}
    loss: dict[str, float] = {}
    times: dict[str, float] = {}
    for name in names:
        per_epoch = 0.5 + 2.5 * next(it)
        for e in range(epochs):
            key = f"{name}@{e}"  # a fresh string per run, as in the official files
            acc[key] = 10 + 85 * next(it)
            loss[key] = 0.2 + 3.8 * next(it)
            times[key] = per_epoch
    train_acc = {e: 10 + 89 * next(it) for e in range(epochs)}
    train_loss = {e: 0.01 + 4 * next(it) for e in range(epochs)}
    train_epoch = 3 + 42 * next(it)
    return {
        "name": dataset,
        "train_acc1es": train_acc,
        "train_acc5es": None,
        "train_losses": train_loss,
        "train_times": OrderedDict((e, train_epoch) for e in range(epochs)),
        "arch_config": {
            "channel": 16,
            "num_cells": 5,
            "arch_str": arch,
            "class_num": CLASSES[dataset],
        },
        "params": np.float64(round(0.07 + 1.5 * next(it), 6)),
        "flop": round(7 + 213 * next(it), 5),
        "seed": f"{seed:04d}",
        "epochs": epochs,
        "latency": [np.float64(0.005 + 0.025 * next(it))],
        "eval_names": names,
        "eval_acc1es": acc,
        "eval_times": times,
        "eval_losses": loss,
        "net_state_dict": None,
    }


def arch_results(
    rng: np.random.Generator, index: int, arch: str, epochs: int, runs: Mapping[str, Sequence[int]]
) -> dict[str, Any]:
    """One cell under one hp setting (an ArchResults state dict)."""
    all_results: dict[tuple[str, int], dict] = {}
    dataset_seed: dict[str, list[int]] = {}
    for dataset, seeds in runs.items():
        dataset_seed[dataset] = sorted(seeds)
        for seed in seeds:
            all_results[(dataset, seed)] = result_count(rng, arch, dataset, seed, epochs)
    return {
        "arch_index": index,
        "arch_str": arch,
        "all_results": all_results,
        "dataset_seed": dataset_seed,
        "clear_net_done": True,
    }


def cells(
    official: Sequence[str],
    indexes: Iterable[int],
    spec: Mapping[str, tuple[int, Mapping[str, Sequence[int]]]] = RICH_SPEC,
    seed: int = 0,
    drop: Mapping[int, Iterable[tuple[str, str, int]]] | None = None,
) -> dict[int, OrderedDict]:
    """``{index: OrderedDict(hp label -> ArchResults)}`` with NATS-Bench labels ('12', '200');
    ``drop[index]`` lists (hp, dataset, seed) runs that cell lacks."""
    rng = np.random.default_rng(seed)
    out: dict[int, OrderedDict] = {}
    for index in indexes:
        per_hp = OrderedDict()
        for hp, (epochs, runs) in spec.items():
            lacking = {(d, s) for h, d, s in (drop or {}).get(index, ()) if h == hp}
            mine = {d: [s for s in seeds if (d, s) not in lacking] for d, seeds in runs.items()}
            mine = {d: seeds for d, seeds in mine.items() if seeds}
            per_hp[hp] = arch_results(rng, index, official[index], epochs, mine)
        out[index] = per_hp
    return out


def benchmark_dict(
    official: Sequence[str],
    by_index: Mapping[int, Mapping],
    labels: Mapping[str, str] | None,
    evaluated: Iterable[int] | None = None,
) -> dict[str, Any]:
    """The top-level dict of a single-file benchmark (``.pth`` with ``labels=PTH_LABELS``, or
    NATS-Bench with ``labels=None``)."""
    arch2infos = {}
    for index, per_hp in by_index.items():
        if labels is None:
            arch2infos[index] = per_hp
        else:
            arch2infos[index] = {labels[hp]: ar for hp, ar in per_hp.items()}
    return {
        "meta_archs": list(official),
        "total_archs": len(official),
        "arch2infos": arch2infos,
        "evaluated_indexes": sorted(by_index if evaluated is None else evaluated),
    }


def write_pth(path: Path, data: Mapping[str, Any], legacy: bool = False) -> Path:
    import torch

    torch.save(dict(data), path, _use_new_zipfile_serialization=not legacy)
    return path


def write_pth_legacy_fast(path: Path, data: Mapping[str, Any]) -> Path:
    """The bytes ``torch.save(data, path, _use_new_zipfile_serialization=False)`` writes for
    data without tensors (magic number, protocol version, system info, the data, an empty list
    of storages, each a protocol-2 pickle), written by the C pickler alone: several times
    faster than torch's pickler, whose per-object hook is Python."""
    info = {
        "protocol_version": 1001,
        "little_endian": sys.byteorder == "little",
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    with open(path, "wb") as handle:
        for obj in (0x1950A86A20F9469CFC6C, 1001, info, dict(data), []):
            pickle.dump(obj, handle, protocol=2)
    return path


def write_pbz2(path: Path, obj: Any) -> Path:
    with bz2.BZ2File(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=4)
    return path


def write_nats_dir(path: Path, official: Sequence[str], by_index: Mapping[int, Mapping]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    write_pbz2(
        path / "meta.pickle.pbz2",
        {
            "meta_archs": list(official),
            "total_archs": len(official),
            "arch2infos": None,
            "evaluated_indexes": set(),
        },
    )
    for index, per_hp in by_index.items():
        write_pbz2(path / f"{index:06d}.pickle.pbz2", per_hp)
    return path


NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")


def naslib_key(arch: str) -> tuple[int, ...]:
    """NASLib's op indices of an official string (edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4))."""
    nodes = [n.strip("|").split("|") for n in arch.split("+")]
    op = {
        (int(p.split("~")[1]) + 1, j + 2): p.split("~")[0] for j, n in enumerate(nodes) for p in n
    }
    edges = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
    return tuple(NASLIB_OPS.index(op[e]) for e in edges)


def naslib_table(
    official: Sequence[str],
    indexes: Iterable[int],
    dataset: str,
    epochs: int,
    seed: int = 0,
    tuple_keys: bool = False,
) -> dict[Any, dict]:
    rng = np.random.default_rng(seed)
    out: dict[Any, dict] = {}
    for index in indexes:
        arch = official[index]
        u = rng.random(4 * epochs + 4).tolist()
        info = {
            "train_losses": [0.01 + 4 * x for x in u[:epochs]],
            "eval_losses": [0.2 + 3.8 * x for x in u[epochs : 2 * epochs]],
            "train_acc1es": [10 + 89 * x for x in u[2 * epochs : 3 * epochs]],
            "eval_acc1es": [10 + 85 * x for x in u[3 * epochs : 4 * epochs]],
            "cost_info": {
                "flops": 7 + 213 * u[-4],
                "params": 0.1 + 1.4 * u[-3],
                "latency": 0.005 + 0.025 * u[-2],
                "train_time": 3 + 42 * u[-1],
            },
        }
        out[naslib_key(arch) if tuple_keys else arch] = {dataset: info}
    return out


def write_pickle(path: Path, obj: Any) -> Path:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=4)
    return path
