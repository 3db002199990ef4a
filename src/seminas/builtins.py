"""The built-in search spaces and evaluator kinds as registry entries (:mod:`seminas.registry`).

What the ``"nb201"``/``"nb101"`` branches of the CLI, the study, the harness, the networks and the
predictors used to know lives here, once per space. Importing this module is cheap: the
benchmarks, networks and predictor encodings are named by ``"module:attribute"`` strings or
imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Iterable, Mapping
from importlib import import_module
from typing import Any

from seminas.errors import SeminasError
from seminas.progress import Progress
from seminas.registry import EvaluatorEntry, NetworkEntry, SpaceEntry
from seminas.spaces.nb101_enum import NB101_SIZE  # a smaller table restricts the space


# -- seminas query ------------------------------------------------------------------------------
def default_query(entry: SpaceEntry, args: argparse.Namespace) -> tuple[Any, Any]:
    """``seminas query`` for a space without its own handler: its table, asked for ``--arch``
    (the space's native notation: JSON, or a plain string) or ``--index N`` (the table's
    ``arch_at``)."""
    from seminas.registry import CLI_OPTIONS, make_evaluator

    options = {k: getattr(args, k, None) for k in CLI_OPTIONS}
    bench = make_evaluator(entry.name, data_dir=args.data_dir, **options)
    if getattr(args, "hash", None) is not None:
        raise SeminasError(f"--hash is for nb101; a {entry.name} query takes --arch or --index")
    if getattr(args, "index", None) is not None:
        arch_at = getattr(bench, "arch_at", None)
        if not callable(arch_at):
            raise SeminasError(f"the {entry.name} table has no index: query it with --arch")
        arch = arch_at(args.index)
    elif args.arch is not None:
        try:
            native: Any = json.loads(args.arch)
        except json.JSONDecodeError:
            native = args.arch
        if not isinstance(native, (str, list, dict)):
            native = args.arch
        arch = bench.space.from_native(native)
    else:
        raise SeminasError(f"{entry.name} query needs --arch ARCH or --index N")
    return bench, bench.evaluate(arch)


# -- the networks of the cell spaces ------------------------------------------------------------
def _network_sizes(module: str) -> dict[str, dict[str, int]]:
    """The named sizes of a built-in network module: its ``CPU_SCALE`` and ``STANDARD``."""
    networks = import_module(module)
    return {"cpu": networks.CPU_SCALE, "standard": networks.STANDARD}


def _cell_network(build: str, width: str, depth: str) -> NetworkEntry:
    """A built-in network (``"module:Class"``), its sizes read from its module when used."""
    module = build.partition(":")[0]
    return NetworkEntry(build, functools.partial(_network_sizes, module), width, depth)


# -- NAS-Bench-201 ------------------------------------------------------------------------------
def nb201_table(dataset: str, fidelity: int, data_dir: str | os.PathLike | None = None) -> Any:
    from seminas.benchmarks.nb201 import NB201Benchmark

    return NB201Benchmark(dataset, fidelity=fidelity, data_dir=data_dir)


def _number_in(value: Any, allowed: Iterable[int]) -> int | None:
    """``value`` as a whole number if it is one of ``allowed``, else None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number in set(allowed) else None


def nb201_check(options: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset by its canonical name; a fidelity the table has (checked before any work)."""
    from seminas.benchmarks.nb201 import FIDELITIES, normalise_dataset

    out = dict(options)
    out["dataset"] = normalise_dataset(out["dataset"])
    if _number_in(out["fidelity"], FIDELITIES) is None:
        raise SeminasError(
            f"NAS-Bench-201 fidelity {out['fidelity']!r} is not available: choose 200 or 12 epochs"
        )
    return out


def nb201_query(args: argparse.Namespace) -> tuple[Any, Any]:
    """``seminas query --space nb201``: by ``--arch STRING`` or the official ``--index N``."""
    bench = NB201.make_table(
        {"dataset": args.dataset, "fidelity": args.fidelity}, data_dir=args.data_dir
    )
    if args.index is not None:
        arch = bench.arch_at(args.index)
    elif args.arch is not None:
        arch = args.arch
    else:
        raise SeminasError("nb201 query needs --arch STRING or --index N")
    seed, epoch = getattr(args, "run_seed", None), getattr(args, "at_epoch", None)
    if seed is not None or epoch is not None:  # one run / after some epochs: imported tables
        return bench, bench.query_run(arch, seed=seed, epoch=epoch)
    return bench, bench.query(arch)


NB201 = SpaceEntry(
    name="nb201",
    space="seminas.spaces.nb201:NB201Space",
    description="NAS-Bench-201 cells: 6 edges x 5 operations, 15,625 architectures",
    aliases=("nasbench201", "nas-bench-201"),
    table=nb201_table,
    table_options={"dataset": "cifar10", "fidelity": 200},
    check_table_options=nb201_check,
    network=_cell_network("seminas.networks.nb201:NB201Network", "channels", "cells_per_stage"),
    features="seminas.predictors.encoding:nb201_features",
    catalog="seminas.predictors.catalog:nb201_catalog",
    space_class="seminas.spaces.nb201:NB201Space",
    query=nb201_query,
)


# -- NAS-Bench-101 ------------------------------------------------------------------------------
NB101_DATASETS = {"official": "official", "subset-20k": "subset-20k", "subset": "subset-20k"}


def nb101_check(options: Mapping[str, Any]) -> dict[str, Any]:
    """The table by its canonical name (``official`` or the shipped ``subset-20k``) and an
    epoch budget the table has, checked before any work."""
    from seminas.benchmarks.nb101.schema import EPOCH_BUDGETS

    out = dict(options)
    name = str(out.get("dataset") or "official").strip().lower()
    if name not in NB101_DATASETS:
        raise SeminasError(
            f"NAS-Bench-101 has no dataset {out.get('dataset')!r}: choose official (the file you "
            f"bring) or subset-20k (the 20,001 real cells in the data directory)"
        )
    out["dataset"] = NB101_DATASETS[name]
    epochs = _number_in(out["epochs"], EPOCH_BUDGETS)
    if epochs is None:
        raise SeminasError(
            f"NAS-Bench-101 has no results for {out['epochs']} epochs: choose --epochs "
            f"{', '.join(map(str, EPOCH_BUDGETS))}"
        )
    out["epochs"] = epochs
    return out


def nb101_table(
    nb101_file: str | os.PathLike | None,
    epochs: int,
    seed: int,
    dataset: str = "official",
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> Any:
    """The official table. When it holds every cell, the space samples uniformly from the cached
    enumeration; a partial table (a fixture, a subset) restricts the space to its own cells so
    that no strategy proposes a cell the table cannot answer. Converting the file and building
    the enumeration (each once per machine) report to ``progress``.

    ``dataset="subset-20k"``: the 20,001 real cells of the data directory's subset instead,
    searched and reported by their single-run validation accuracy (it has no test accuracy);
    their matrices come from the enumeration."""
    from seminas.benchmarks.nb101 import NB101Benchmark
    from seminas.spaces.nb101 import NB101Space, SpecPool
    from seminas.spaces.nb101_enum import load_or_build

    if dataset == "subset-20k":
        from seminas.benchmarks.nb101 import NB101SubsetBenchmark

        if nb101_file is not None:
            raise SeminasError(
                f"--nb101-file {nb101_file} and --dataset subset-20k name two tables: drop "
                f"one (the subset is read from the data directory)"
            )

        subset = NB101SubsetBenchmark(epochs=epochs, data_dir=data_dir, report_validation=True)
        subset.space = subset.restricted_space(load_or_build(progress=progress))
        return subset
    bench = NB101Benchmark(
        nb101_file, epochs=epochs, seed=seed, data_dir=data_dir, progress=progress
    )
    table = bench.table
    if len(table) >= NB101_SIZE:
        bench.space = NB101Space(load_or_build(progress=progress))
    else:
        pool = SpecPool(
            [table.spec_at(i) for i in range(len(table))],
            [table.hash_at(i) for i in range(len(table))],
        )
        bench.space = NB101Space(pool, restrict=True)
    return bench


def nb101_query(args: argparse.Namespace) -> tuple[Any, Any]:
    """``seminas query --space nb101``: by ``--hash H`` or ``--arch JSON``, in the official
    table or (``--subset``) the shipped 20k-cell subset."""
    checked = nb101_check({"dataset": args.dataset, "epochs": args.epochs})
    if getattr(args, "subset", False) or checked["dataset"] == "subset-20k":
        from seminas.benchmarks.nb101 import NB101SubsetBenchmark

        bench: Any = NB101SubsetBenchmark(epochs=args.epochs, data_dir=args.data_dir)
    else:
        from seminas.benchmarks.nb101 import NB101Benchmark

        bench = NB101Benchmark(
            args.nb101_file, epochs=args.epochs, seed=args.seed, data_dir=args.data_dir
        )
    if args.hash is not None:
        return bench, bench.query_hash(args.hash)
    if args.arch is not None:
        try:
            native = json.loads(args.arch)
        except json.JSONDecodeError:
            raise SeminasError(
                'nb101 --arch must be JSON: {"matrix": [[...]], "ops": [...]}'
            ) from None
        return bench, bench.query(native)
    raise SeminasError("nb101 query needs --hash H or --arch JSON")


NB101 = SpaceEntry(
    name="nb101",
    space="seminas.spaces.nb101:NB101Space",
    description="NAS-Bench-101 cells: up to 7 vertices and 9 edges, 423,624 architectures",
    aliases=("nasbench101", "nas-bench-101"),
    table=nb101_table,
    table_options={"nb101_file": None, "epochs": 108, "seed": 0, "dataset": "official"},
    check_table_options=nb101_check,
    network=_cell_network(
        "seminas.networks.nb101:NB101Network", "stem_channels", "cells_per_stack"
    ),
    features="seminas.predictors.encoding:nb101_features",
    catalog="seminas.predictors.catalog:nb101_catalog",
    space_class="seminas.spaces.nb101:NB101Space",
    query=nb101_query,
)


# -- evaluator kinds ----------------------------------------------------------------------------
def build_table(
    space: SpaceEntry,
    options: Mapping[str, Any],
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> Any:
    return space.make_table(options, data_dir=data_dir, progress=progress)


def build_training(
    space: SpaceEntry,
    options: Mapping[str, Any],
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> Any:
    from seminas.training.evaluator import TrainingEvaluator

    return TrainingEvaluator(space.name, data_dir=data_dir, **options)


TABLE = EvaluatorEntry(
    name="table",
    build=build_table,
    options=None,  # the space's table_options
    description="look results up in the space's tabular benchmark",
    requires="table",
)
TRAIN = EvaluatorEntry(
    name="train",
    build=build_training,
    options={
        "data": "cifar10-10k",
        "epochs": 2,
        "seed": 0,
        "network": "cpu",
        "channels": None,
        "cells": None,
    },
    description="train every architecture's network on image data (seminas.training)",
    requires="network",
)
