"""The result dicts of NAS-Bench-201 and NATS-Bench, turned into :class:`Run` objects.

Both benchmarks store, per cell and hyper-parameter setting (``'less'``/``'full'`` in the
NAS-Bench-201 ``.pth``, ``'12'``/``'200'`` in NATS-Bench), an *ArchResults* dict: ``arch_index``,
``arch_str``, ``dataset_seed`` and ``all_results`` mapping ``(dataset, seed)`` to a *ResultsCount*
dict with, per epoch ``e``, ``train_acc1es[e]``, ``train_losses[e]``, ``train_times[e]`` and, per
evaluation set ``s`` in ``eval_names``, ``eval_acc1es["s@e"]``, ``eval_losses["s@e"]``,
``eval_times["s@e"]``; plus ``params`` (MB), ``flop`` (M), ``latency`` (a list, seconds) and
``epochs``. The evaluation sets are ``x-valid`` (validation), ``x-test`` (test) and ``ori-test``
(the original test set: *test* for cifar10-valid/cifar10, *valid+test* for cifar100 and
ImageNet16-120, which also have ``x-test``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from seminas.errors import SeminasError
from seminas.importers.builder import Run

HP_LABELS = {"less": 12, "full": 200}
_SET_METRIC = {"x-valid": "valid", "x-test": "test"}
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_EPOCHS = 10_000


def hp_fidelity(label: Any, where: str) -> int:
    """The number of epochs an hp label stands for: 'less' 12, 'full' 200, '12' 12, ..."""
    if label in HP_LABELS:
        return HP_LABELS[label]
    text = str(label)
    if text.isdigit() and 0 < int(text) <= MAX_EPOCHS:
        return int(text)
    raise SeminasError(f"{where}: unknown training setting {label!r} (expected 12/200 epochs)")


def is_arch_results(obj: Any) -> bool:
    return isinstance(obj, dict) and "all_results" in obj and "arch_str" in obj


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _series(table: Any, keys, where: str, what: str) -> list[float]:
    if not isinstance(table, dict):
        raise SeminasError(f"{where}: {what} is {type(table).__name__}, expected a dict")
    return [_num(table.get(k)) for k in keys]


def _set_metric(name: str, names: list[str]) -> str:
    if name == "ori-test":
        return "valtest" if "x-test" in names else "test"
    return _SET_METRIC.get(name) or _SAFE.sub("_", name)


def _latency(value: Any) -> float:
    if isinstance(value, (list, tuple)):
        vals = [_num(v) for v in value]
        vals = [v for v in vals if not math.isnan(v)]
        return sum(vals) / len(vals) if vals else math.nan
    return _num(value)


def runs_of(arch_results: Mapping[str, Any], fidelity: int, where: str) -> list[Run]:
    """Every run in one ArchResults dict."""
    results = arch_results.get("all_results")
    if not isinstance(results, Mapping):
        raise SeminasError(f"{where}: 'all_results' is not a dict; not a NAS-Bench-201 result")
    runs = []
    for key, rc in results.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)):
            raise SeminasError(f"{where}: result key {key!r:.60} is not (dataset, seed)")
        dataset, seed = key
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise SeminasError(f"{where}: {dataset} seed {seed!r:.30} is not a number") from None
        runs.append(_run(rc, fidelity, dataset, seed, f"{where} {dataset} seed {seed}"))
    return runs


def _run(rc: Any, fidelity: int, dataset: str, seed: int, where: str) -> Run:
    if not isinstance(rc, Mapping):
        raise SeminasError(f"{where}: the result is {type(rc).__name__}, expected a dict")
    for need in ("epochs", "train_acc1es", "train_losses", "eval_names", "eval_acc1es"):
        if need not in rc:
            raise SeminasError(f"{where}: no {need!r}; not a NAS-Bench-201 result")
    epochs = rc["epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 0 < epochs <= MAX_EPOCHS:
        raise SeminasError(f"{where}: 'epochs' is {epochs!r}, expected a positive whole number")
    last = epochs - 1
    run = Run(fidelity, dataset, seed, epochs)
    f = run.finals
    train_acc = rc["train_acc1es"]
    train_loss = rc["train_losses"]
    f["train_acc"] = _series(train_acc, [last], where, "train_acc1es")[0]
    f["train_loss"] = _series(train_loss, [last], where, "train_losses")[0]
    times = rc.get("train_times")
    if isinstance(times, dict) and times:
        per_epoch = _series(times, range(epochs), where, "train_times")
        f["train_time"] = sum(per_epoch)
        f["train_epoch_time"] = f["train_time"] / epochs
    names = rc["eval_names"]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise SeminasError(f"{where}: 'eval_names' is not a list of names")
    names = list(names)
    accs = rc["eval_acc1es"]
    losses = rc.get("eval_losses") or {}
    eval_times = rc.get("eval_times") or {}
    for name in names:
        metric = _set_metric(name, names)
        keys = [f"{name}@{e}" for e in range(epochs)]
        if metric == "valid":
            acc = _series(accs, keys, where, "eval_acc1es")
            loss = _series(losses, keys, where, "eval_losses")
            run.curves["valid_acc"] = acc
            run.curves["valid_loss"] = loss
            f["valid_acc"], f["valid_loss"] = acc[last], loss[last]
        else:
            f[f"{metric}_acc"] = _series(accs, keys[last:], where, "eval_acc1es")[0]
            f[f"{metric}_loss"] = _series(losses, keys[last:], where, "eval_losses")[0]
        if isinstance(eval_times, dict) and eval_times:
            f[f"{metric}_eval_time"] = sum(_series(eval_times, keys, where, "eval_times"))
    f["params"] = _num(rc.get("params"))
    f["flops"] = _num(rc.get("flop"))
    f["latency"] = _latency(rc.get("latency"))
    return run


def cell_of(hp_dict: Mapping[Any, Any], where: str) -> tuple[Any, str, list[Run]]:
    """``(arch_index, arch_str, runs)`` of one cell's ``{hp: ArchResults}`` dict."""
    index: Any = None
    arch: Any = None
    runs: list[Run] = []
    for label, ar in hp_dict.items():
        if not is_arch_results(ar):
            raise SeminasError(f"{where}: setting {label!r:.20} holds no ArchResults dict")
        if index is None:
            index, arch = ar.get("arch_index"), ar.get("arch_str")
        elif (ar.get("arch_index"), ar.get("arch_str")) != (index, arch):
            raise SeminasError(f"{where}: the settings of one cell name different cells")
        runs.extend(runs_of(ar, hp_fidelity(label, where), f"{where} ({label})"))
    if not isinstance(arch, str):
        raise SeminasError(f"{where}: the cell has no architecture string")
    return index, arch, runs
