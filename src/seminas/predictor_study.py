"""Do pseudo-labels improve the predictor? SemiNAS's central claim, measured on real NAS-Bench-101.

SemiNAS (Luo et al., NeurIPS 2020) claims that training the controller's predictor on N labeled
cells plus M cells pseudo-labeled by the predictor itself ranks architectures better than
training on the N labeled cells alone. This study measures it directly, for the SemiNAS
controller and for the GBDT-NAS predictor (Luo et al., 2020):

- **Labeled cells**: N cells drawn from the 20,001 real cells of ``nasbench101/subset-20k.csv``
  (search metric: single-run 108-epoch validation accuracy; the subset has no test accuracy).
  Per seed, one random order of the subset is drawn and the first N are labeled, so the sets
  are nested over N.
- **Unlabeled cells**: M cells drawn uniformly from the enumerated space
  (:func:`seminas.spaces.nb101_enum.load_or_build`) outside the subset -- so they are neither
  labeled nor test cells. Per seed one random order is drawn and the first M are used (nested
  over M), the same for both predictors.
- **Controller**: built from a SemiNAS preset (shape, optimiser, epochs). Its training is
  SemiNAS's: pre-train on the labeled cells for ``pretrain_epochs``, pseudo-label the M cells,
  then train on the labeled cells repeated ``upsample`` times plus the pseudo-labeled cells for
  ``epochs`` (M = 0: the labeled cells repeated ``upsample`` times, NAO's procedure). Each of
  the two phases is capped at ``max_steps`` gradient steps (mini-batches drawn epoch by epoch,
  so labeled and pseudo-labeled rows keep their ratio), which is what bounds the cost of
  M = 50,000 on one CPU core.
- **GBDT**: LightGBM with GBDT-NAS's settings on GBDT-NAS's 45 features. Pseudo-labels are its
  own predictions on the M cells; it is then refit from scratch on the labeled rows repeated
  ``upsample`` times plus the pseudo-labeled rows (M = 0: the labeled rows once, as GBDT-NAS).
- **Metrics** on every subset cell not labeled (20,001 - N cells): Kendall's tau-b, Spearman's
  rho, and top-1% precision: the fraction of the predicted top 1% that is in the true top 1%,
  ties (in either ranking) counted as the expectation under random tie-breaking.

Each finished (predictor, N, M, seed) cell is appended to ``results.jsonl`` at once, so an
interrupted study loses nothing; running the same command again does only the missing cells.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore, atomic_write_text

RESULTS_FILE = "results.jsonl"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
PLOT_PNG = "plot.png"
LINE_FORMAT = 1
PREDICTORS = ("controller", "gbdt")
DEFAULT_NS: tuple[int, ...] = (100, 300, 1000)
DEFAULT_MS: tuple[int, ...] = (0, 1_000, 10_000, 50_000)
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
DEFAULT_MAX_STEPS = 300
METRICS = ("kendall_tau", "spearman_rho", "top_precision")
METRIC_LABELS = {
    "kendall_tau": "Kendall tau",
    "spearman_rho": "Spearman rho",
    "top_precision": "top-1% precision",
}


# -- metrics -------------------------------------------------------------------------------


def _top_membership(values: np.ndarray, k: int) -> np.ndarray:
    """Probability that each item is among the ``k`` largest when ties are broken at random."""
    order = np.sort(values)[::-1]
    cut = order[k - 1]
    above = values > cut
    tied = values == cut
    out = above.astype(np.float64)
    out[tied] = (k - int(above.sum())) / int(tied.sum())
    return out


def ranking_metrics(
    predicted: Sequence[float], true: Sequence[float], top_fraction: float = 0.01
) -> dict[str, float]:
    """Kendall's tau-b, Spearman's rho and top-``top_fraction`` precision of a prediction.

    Precision is |predicted top k ∩ true top k| / k with k = ceil(top_fraction * n); where ties
    make either top set ambiguous it is the expectation under random tie-breaking (the two
    memberships are independent, so it is the sum of their products). A constant prediction has
    NaN correlations.
    """
    from scipy.stats import kendalltau, spearmanr

    pred = np.asarray(predicted, dtype=np.float64)
    truth = np.asarray(true, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 1 or len(pred) < 2:
        raise ValueError("need two equally long 1-D sequences of at least 2 values")
    k = max(1, math.ceil(top_fraction * len(pred)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, reported as such
        tau = float(kendalltau(pred, truth)[0])
        rho = float(spearmanr(pred, truth)[0])
    precision = float(np.dot(_top_membership(pred, k), _top_membership(truth, k)) / k)
    return {"kendall_tau": tau, "spearman_rho": rho, "top_precision": precision, "top_k": k}


# -- settings and data ---------------------------------------------------------------------


def default_preset() -> str:
    """SemiNAS's cheap ``fast`` schedule for NAS-Bench-101 where defined, else ``fast``, else
    ``nb201`` (short training; the step cap bounds the rest)."""
    from seminas.strategies.seminas import SemiNAS

    for name in ("fast-nb101", "fast"):
        if name in SemiNAS.presets:
            return name
    return "nb201"


@dataclass(frozen=True)
class StudySettings:
    """Everything besides (predictor, N, M, seed) that decides a result; stored in each line.

    The controller is recorded as what a fit actually uses -- its shape, its optimiser settings
    and the schedule -- rather than the whole preset, so that preset options the study never
    reads (query counts, step sizes) can change without orphaning stored results.
    """

    preset: str
    max_steps: int = DEFAULT_MAX_STEPS
    top_fraction: float = 0.01
    pretrain_epochs: int = 100
    epochs: int | None = 10  # second phase; None when train_steps fixes it instead
    upsample: int = 10
    shape: dict[str, Any] = field(default_factory=dict)  # ControllerShape
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig
    gbdt: dict[str, Any] = field(default_factory=dict)
    # > 0: the second controller phase takes exactly this many steps whatever M is (a
    # compute-matched control), instead of the preset's epochs capped at max_steps
    train_steps: int = 0

    @classmethod
    def make(
        cls,
        preset: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        train_steps: int = 0,
        epochs: int | None = None,
        pretrain_epochs: int | None = None,
    ) -> StudySettings:
        """Settings from a SemiNAS preset. The second phase is the search's first iteration:
        ``first_epochs`` where the preset sets it, else ``epochs``; ``epochs`` and
        ``pretrain_epochs`` override the preset's."""
        from seminas.predictors.gbdt import PAPER_PARAMS
        from seminas.spaces.nb101 import NB101Space
        from seminas.strategies.seminas import SemiNAS

        preset = preset or default_preset()
        if preset not in SemiNAS.presets:
            raise SeminasError(
                f"unknown SemiNAS preset {preset!r} for the controller (available: "
                f"{', '.join(sorted(SemiNAS.presets))})"
            )
        for name, value in (("max steps", max_steps), ("train steps", train_steps)):
            if int(value) < 0:
                raise SeminasError(f"{name} must be >= 0 (0 = none), got {value}")
        for name, value in (("epochs", epochs), ("pretrain epochs", pretrain_epochs)):
            if value is not None and int(value) < 1:
                raise SeminasError(f"{name} must be >= 1, got {value}")
        strategy = SemiNAS.from_preset(preset)
        c = strategy.config
        trainer = strategy._trainer(SimpleNamespace(space=NB101Space()))  # the search's build
        if epochs is None:
            first = getattr(c, "first_epochs", None)
            epochs = first if first is not None else c.epochs
        return cls(
            preset=preset,
            max_steps=int(max_steps),
            pretrain_epochs=int(pretrain_epochs if pretrain_epochs is not None
                                else c.pretrain_epochs),
            epochs=None if train_steps else int(epochs),
            upsample=int(c.upsample),
            shape=asdict(trainer.shape),
            train=asdict(trainer.train_config),
            gbdt=asdict(PAPER_PARAMS),
            train_steps=int(train_steps),
        )

    def to_dict(self) -> dict[str, Any]:
        out = json.loads(json.dumps(asdict(self)))
        if not self.train_steps:
            del out["train_steps"]
        return out


@dataclass
class StudyData:
    """The subset's cells (features, tokens, accuracies) and the unlabeled candidates."""

    y: np.ndarray  # search metric of each subset cell (%)
    features: np.ndarray  # GBDT features of each subset cell
    tokens: np.ndarray  # controller tokens of each subset cell
    enumeration: Any
    outside: np.ndarray  # enumeration indices of the cells not in the subset

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike | None = None,
        progress: bool = True,
        enumeration: Any | None = None,
    ) -> StudyData:
        """The subset from ``data_dir`` and the enumerated space (``enumeration``, default: the
        cached one, built on first use)."""
        from seminas.benchmarks.nb101 import NB101SubsetBenchmark
        from seminas.predictors.encoding import (
            nb101_enumeration_features,
            nb101_enumeration_tokens,
        )
        from seminas.spaces.nb101_enum import load_or_build

        bench = NB101SubsetBenchmark(data_dir=data_dir)
        enum = enumeration if enumeration is not None else load_or_build(progress=progress)
        idx = enum.indices_of(bench.hashes)
        if np.any(idx < 0):
            raise SeminasError(
                f"{int(np.sum(idx < 0))} cells of {bench.path} are not in the NAS-Bench-101 space; "
                f"restore the file (`seminas data check`)"
            )
        y = np.asarray([r.search_metric for r in bench.records()], dtype=np.float64)
        outside = np.setdiff1d(np.arange(len(enum)), idx)
        return cls(
            y,
            nb101_enumeration_features(enum, idx),
            nb101_enumeration_tokens(enum, idx),
            enum,
            outside,
        )


# -- one cell of the grid --------------------------------------------------------------------


def _seed_of(*parts: int) -> int:
    """A seed in LightGBM's (31-bit) range derived from the cell's coordinates."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0]) % (2**31 - 1)


def _split(data: StudyData, seed: int) -> np.ndarray:
    """The subset's order for this seed: the first N are labeled."""
    return np.random.default_rng([int(seed), 0]).permutation(len(data.y))


def _unlabeled(data: StudyData, seed: int) -> np.ndarray:
    """Enumeration indices of every cell outside the subset, in this seed's random order: the
    first M are the unlabeled cells (the order never depends on the grid, so a resumed or
    extended study draws the same cells)."""
    return data.outside[np.random.default_rng([int(seed), 1]).permutation(len(data.outside))]


def _fit_capped(trainer: Any, tokens: Any, y: np.ndarray, epochs: int, max_steps: int) -> int:
    """``trainer.fit`` for ``epochs``, or for ``max_steps`` steps when that is fewer; returns
    the steps taken."""
    n = int(tokens.shape[0])
    full = epochs * math.ceil(n / int(trainer.train_config.batch_size))
    if max_steps <= 0 or full <= max_steps:
        trainer.fit(tokens, y, epochs)
        return full
    return _fit_steps(trainer, tokens, y, max_steps)


def _fit_steps(trainer: Any, tokens: Any, y: np.ndarray, steps: int) -> int:
    """Exactly ``steps`` mini-batches, drawn epoch by epoch (each row once per pass, in random
    order), so labeled and pseudo-labeled rows keep their ratio."""
    import torch

    n = int(tokens.shape[0])
    rows = steps * int(trainer.train_config.batch_size)
    passes = [torch.randperm(n, generator=trainer.generator) for _ in range(math.ceil(rows / n))]
    idx = torch.cat(passes)[:rows]
    trainer.fit(tokens[idx], np.asarray(y)[idx.numpy()], 1)
    return steps


def _controller_cell(
    settings: StudySettings,
    data: StudyData,
    labeled: np.ndarray,
    test: np.ndarray,
    unlabeled_tokens: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    import torch

    from seminas.controller import ControllerShape, ControllerTrainer, TrainConfig
    from seminas.spaces.nb101 import NB101Space

    trainer = ControllerTrainer(  # the cell's own generator: the stream torch.manual_seed gave
        NB101Space(), ControllerShape(**settings.shape), TrainConfig(**settings.train),
        generator=torch.Generator().manual_seed(seed),
    )
    upsample = settings.upsample
    tokens_l = torch.as_tensor(data.tokens[labeled])
    y_l = data.y[labeled]
    trainer.standardise_with(y_l)
    pre = _fit_capped(trainer, tokens_l, y_l, settings.pretrain_epochs, settings.max_steps)
    if len(unlabeled_tokens):
        tokens_u = torch.as_tensor(unlabeled_tokens)
        pseudo = trainer.predict(tokens_u)
        train_tokens = torch.cat([tokens_l.repeat(upsample, 1), tokens_u])
        train_y = np.concatenate([np.tile(y_l, upsample), pseudo])
    else:
        train_tokens = tokens_l.repeat(upsample, 1)
        train_y = np.tile(y_l, upsample)
    if settings.train_steps:
        steps = _fit_steps(trainer, train_tokens, train_y, settings.train_steps)
    else:
        epochs = int(settings.epochs or 1)
        steps = _fit_capped(trainer, train_tokens, train_y, epochs, settings.max_steps)
    pred = trainer.predict(torch.as_tensor(data.tokens[test]))
    return pred, {"pretrain_steps": pre, "train_steps": steps}


def _gbdt_cell(
    settings: StudySettings,
    data: StudyData,
    labeled: np.ndarray,
    test: np.ndarray,
    unlabeled_features: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    from seminas.predictors.gbdt import GBDTParams, GBDTPredictor

    params = GBDTParams(**settings.gbdt)
    upsample = settings.upsample
    X_l, y_l = data.features[labeled], data.y[labeled]
    model = GBDTPredictor(params, seed=seed).fit(X_l, y_l)
    rows = len(y_l)
    if len(unlabeled_features):
        pseudo = model.predict(unlabeled_features)
        X = np.concatenate([np.tile(X_l, (upsample, 1)), unlabeled_features])
        y = np.concatenate([np.tile(y_l, upsample), pseudo])
        model = GBDTPredictor(params, seed=seed).fit(X, y)
        rows = len(y)
    return model.predict(data.features[test]), {"train_rows": rows}


# -- the grid ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyOutput:
    out_dir: Path
    results: Path
    summary_json: Path
    summary_md: Path
    plot: Path
    cells: int
    new_cells: int


def _key(line: Mapping[str, Any]) -> tuple[str, int, int, int]:
    return (str(line["predictor"]), int(line["n"]), int(line["m"]), int(line["seed"]))


def _store(path: Path) -> ResultsStore:
    return ResultsStore(path, "predictor-study", key=_key)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The finished cells in ``results.jsonl`` (the common results store: a broken last line,
    a write cut short, is dropped from the file with a warning so that cell is redone; any other
    broken line is an error)."""
    return _store(path).read(repair=True)


def _append(path: Path, line: Mapping[str, Any]) -> None:
    _store(path).append(line)


def check_grid(
    ns: Sequence[int], ms: Sequence[int], seeds: Sequence[int], predictors: Sequence[str]
) -> None:
    """One clear error for a bad grid, before any data is loaded."""
    if not ns or not ms or not seeds or not predictors:
        raise SeminasError("the grid is empty: give at least one N, M, seed and predictor")
    if any(int(n) < 2 or int(n) > 19_000 for n in ns):
        raise SeminasError(f"each N must be in 2..19000 (labeled cells of the subset), got {ns}")
    if any(int(m) < 0 for m in ms):
        raise SeminasError(f"each M must be >= 0, got {ms}")
    if any(int(s) < 0 for s in seeds):
        raise SeminasError("seeds must be non-negative integers")
    unknown = sorted(set(predictors) - set(PREDICTORS))
    if unknown:
        raise SeminasError(
            f"unknown predictor(s) {', '.join(unknown)}: choose from {', '.join(PREDICTORS)}"
        )


def run_study(
    out: str | os.PathLike,
    ns: Sequence[int] = DEFAULT_NS,
    ms: Sequence[int] = DEFAULT_MS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    predictors: Sequence[str] = PREDICTORS,
    preset: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    train_steps: int = 0,
    epochs: int | None = None,
    pretrain_epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
    threads: int = 1,
    progress: bool = True,
    command: str | None = None,
    enumeration: Any | None = None,
) -> StudyOutput:
    """Run the missing cells of the N x M x seed x predictor grid, then write the summary
    (``summary.json``, ``summary.md``) and ``plot.png`` for the requested grid."""
    import torch

    ns = sorted({int(n) for n in ns})
    ms = sorted({int(m) for m in ms})
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    predictors = list(dict.fromkeys(predictors))
    check_grid(ns, ms, seeds, predictors)
    settings = StudySettings.make(preset, max_steps, train_steps, epochs, pretrain_epochs)
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    existing = read_lines(path)
    stored = settings.to_dict()
    other = [ln for ln in existing if ln.get("settings") != stored]
    if other:
        raise SeminasError(
            f"{path} holds results made with other settings (e.g. preset "
            f"{other[0].get('settings', {}).get('preset')!r}); use another --out"
        )
    done = {_key(ln): ln for ln in existing}
    wanted = [(p, n, m, s) for s in seeds for n in ns for m in ms for p in predictors]
    todo = [k for k in wanted if k not in done]
    new = 0
    if todo:
        data = StudyData.load(data_dir, progress=progress, enumeration=enumeration)
        if max(ms) > len(data.outside):
            raise SeminasError(f"M must be at most {len(data.outside)} (cells outside the subset)")
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            new = _run_cells(todo, data, settings, path, done, progress)
        finally:
            torch.set_num_threads(previous_threads)
    lines = [done[k] for k in wanted if k in done]
    if command is None:
        command = default_command(ns, ms, seeds, predictors, settings, out_dir)
    summary = summarize(lines)
    payload = {"settings": stored, "command": command, "rows": summary["rows"],
               "effects": summary["effects"]}
    atomic_write_text(out_dir / SUMMARY_JSON, json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out_dir / SUMMARY_MD, render_markdown(summary, settings, command))
    plot(summary["rows"], out_dir / PLOT_PNG)
    return StudyOutput(out_dir, path, out_dir / SUMMARY_JSON, out_dir / SUMMARY_MD,
                       out_dir / PLOT_PNG, len(lines), new)


def _run_cells(
    todo: list[tuple[str, int, int, int]],
    data: StudyData,
    settings: StudySettings,
    path: Path,
    done: dict[tuple[str, int, int, int], dict[str, Any]],
    progress: bool,
) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from seminas.predictors.encoding import nb101_enumeration_features, nb101_enumeration_tokens

    stored = settings.to_dict()
    columns = (
        TextColumn("[bold]predictor study"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[cell]}"),
    )
    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    count = 0
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("study", total=len(todo), cell="")
        m_max = max(k[2] for k in todo)
        for predictor, n, m, seed in todo:
            bar.update(task, cell=f"{predictor} N={n} M={m} seed={seed}")
            if seed not in cache:  # one seed's split and unlabeled cells, shared by all cells
                cache.clear()
                unl = _unlabeled(data, seed)[:m_max]
                cache[seed] = (
                    _split(data, seed),
                    nb101_enumeration_features(data.enumeration, unl),
                    nb101_enumeration_tokens(data.enumeration, unl),
                )
            order, u_features, u_tokens = cache[seed]
            labeled, test = order[:n], order[n:]
            cell_seed = _seed_of(seed, n, m, PREDICTORS.index(predictor))
            start, cpu = time.perf_counter(), time.process_time()
            if predictor == "controller":
                pred, info = _controller_cell(settings, data, labeled, test, u_tokens[:m],
                                              cell_seed)
            else:
                pred, info = _gbdt_cell(settings, data, labeled, test, u_features[:m], cell_seed)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            metrics = ranking_metrics(pred, data.y[test], settings.top_fraction)
            line = {
                "format": LINE_FORMAT,
                "predictor": predictor,
                "n": n,
                "m": m,
                "seed": seed,
                **{k: _finite(v) for k, v in metrics.items()},
                "n_test": int(len(test)),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "info": info,
                "settings": stored,
            }
            _append(path, line)
            done[_key(line)] = line
            count += 1
            bar.advance(task)
    return count


def _finite(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


# -- summary -------------------------------------------------------------------------------


def _stats(values: Iterable[float | None]) -> dict[str, float | int | None]:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    n = len(arr)
    std = float(arr.std(ddof=1)) if n > 1 else None
    return {
        "mean": float(arr.mean()) if n else None,
        "std": std,
        "sem": std / math.sqrt(n) if std is not None else None,
        "n": n,
    }


def summarize(lines: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per (predictor, N, M): mean, std and standard error of each metric over seeds; and per
    (predictor, N, M > 0): the paired difference to M = 0 of the same seeds, and on how many
    seeds pseudo-labels helped."""
    groups: dict[tuple[str, int, int], dict[int, Mapping[str, Any]]] = {}
    for line in lines:
        groups.setdefault((line["predictor"], int(line["n"]), int(line["m"])), {})[
            int(line["seed"])
        ] = line
    order = sorted(groups, key=lambda k: (PREDICTORS.index(k[0]) if k[0] in PREDICTORS else 9,
                                          k[1], k[2]))
    rows, effects = [], []
    for key in order:
        runs = groups[key]
        row: dict[str, Any] = {"predictor": key[0], "n": key[1], "m": key[2], "seeds": len(runs)}
        for metric in METRICS:
            row[metric] = _stats(r.get(metric) for r in runs.values())
        row["seconds"] = _stats(r.get("seconds") for r in runs.values())["mean"]
        cpu = [r.get("cpu_seconds") for r in runs.values()]
        row["cpu_seconds"] = None if None in cpu else _stats(cpu)["mean"]
        rows.append(row)
        base = groups.get((key[0], key[1], 0))
        if key[2] == 0 or base is None:
            continue
        paired = sorted(set(runs) & set(base))
        effect: dict[str, Any] = {"predictor": key[0], "n": key[1], "m": key[2],
                                  "seeds": len(paired)}
        for metric in METRICS:
            diffs = [
                runs[s][metric] - base[s][metric]
                for s in paired
                if runs[s].get(metric) is not None and base[s].get(metric) is not None
            ]
            effect[metric] = {**_stats(diffs), "improved": int(sum(d > 0 for d in diffs))}
        effects.append(effect)
    return {"rows": rows, "effects": effects}


def _pm(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:.{digits}f}"
    if stat.get("std") is not None:
        text += f" ± {stat['std']:.{digits}f}"
    return text


def _signed(stat: Mapping[str, Any], digits: int = 3) -> str:
    if stat.get("mean") is None:
        return "—"
    text = f"{stat['mean']:+.{digits}f}"
    if stat.get("sem") is not None:
        text += f" ± {stat['sem']:.{digits}f}"
    return text


def _seconds(row: Mapping[str, Any]) -> str:
    """CPU seconds per fit where recorded, else wall seconds (marked: they include waiting)."""
    if row.get("cpu_seconds") is not None:
        return f"{row['cpu_seconds']:.1f}"
    return f"{row['seconds']:.1f} (wall)"


def render_markdown(
    summary: Mapping[str, Any], settings: StudySettings, command: str | None
) -> str:
    """``summary.md``: the metrics table and the paired pseudo-label effects."""
    t = settings.train
    if settings.train_steps:
        second = (f"then exactly {settings.train_steps} gradient steps on labeled "
                  f"×{settings.upsample} + pseudo-labeled for every M (compute-matched control)")
    else:
        second = (f"then {settings.epochs} epochs on labeled ×{settings.upsample} + "
                  f"pseudo-labeled")
    lines = [
        "# Predictor study on real NAS-Bench-101 cells",
        "",
        "N labeled cells from `nasbench101/subset-20k.csv` (108-epoch validation accuracy), "
        "M pseudo-labeled cells from the enumerated space outside the subset; metrics on all "
        "subset cells not labeled (20,001 − N). Mean ± standard deviation over seeds; s/fit is "
        "the CPU time of one cell (wall time, marked, where CPU time was not recorded).",
        "",
        f"- Controller: SemiNAS preset `{settings.preset}`'s model and optimiser (hidden size "
        f"{settings.shape.get('hidden_size')}, batch {t.get('batch_size')}, learning rate "
        f"{t.get('lr')}); pre-train {settings.pretrain_epochs} epochs on the labeled cells, "
        f"{second}; each phase capped at {settings.max_steps or 'no'} gradient steps.",
        "- GBDT: LightGBM with GBDT-NAS's settings "
        f"({settings.gbdt.get('num_boost_round')} trees, {settings.gbdt.get('num_leaves')} "
        f"leaves, learning rate {settings.gbdt.get('learning_rate')}); pseudo-labels are its own "
        f"predictions, then a refit on labeled ×{settings.upsample} + pseudo-labeled.",
    ]
    if command:
        lines.append(f"- Regenerate with: `{command}`")
    lines += [
        "",
        "| predictor | N | M | Kendall tau | Spearman rho | top-1% precision | seeds | "
        "s/fit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {row['predictor']} | {row['n']} | {row['m']:,} | {_pm(row['kendall_tau'])} | "
            f"{_pm(row['spearman_rho'])} | {_pm(row['top_precision'])} | {row['seeds']} | "
            f"{_seconds(row)} |"
        )
    if summary["effects"]:
        lines += [
            "",
            "## Effect of pseudo-labels (paired by seed, against M = 0)",
            "",
            "Mean difference ± standard error over seeds; *helped* counts the seeds on which "
            "the metric rose.",
            "",
            "| predictor | N | M | Δ Kendall tau | Δ Spearman rho | Δ top-1% precision | "
            "helped (tau) | seeds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in summary["effects"]:
            lines.append(
                f"| {e['predictor']} | {e['n']} | {e['m']:,} | {_signed(e['kendall_tau'])} | "
                f"{_signed(e['spearman_rho'])} | {_signed(e['top_precision'])} | "
                f"{e['kendall_tau']['improved']}/{e['seeds']} | {e['seeds']} |"
            )
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Each metric against M (one line per N, ± standard error), one column per predictor."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    predictors = [p for p in PREDICTORS if any(r["predictor"] == p for r in rows)]
    ms = sorted({int(r["m"]) for r in rows})
    ns = sorted({int(r["n"]) for r in rows})
    fig = Figure(figsize=(4.2 * max(1, len(predictors)), 9), dpi=130)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(METRICS), max(1, len(predictors)), squeeze=False, sharey="row")
    x = np.arange(len(ms))
    for col, predictor in enumerate(predictors):
        for row_i, metric in enumerate(METRICS):
            ax = axes[row_i][col]
            for n in ns:
                pts = {int(r["m"]): r[metric] for r in rows
                       if r["predictor"] == predictor and int(r["n"]) == n}
                mean = np.array([np.nan if pts.get(m, {}).get("mean") is None
                                 else pts[m]["mean"] for m in ms], dtype=float)
                sem = np.array([(pts.get(m, {}).get("sem") or 0.0) for m in ms], dtype=float)
                ax.errorbar(x, mean, yerr=sem, marker="o", capsize=3, label=f"N = {n}")
            ax.set_xticks(x, [_short(m) for m in ms])
            ax.grid(True, alpha=0.3)
            if row_i == 0:
                ax.set_title(predictor)
            if row_i == len(METRICS) - 1:
                ax.set_xlabel("M (pseudo-labeled cells)")
            if col == 0:
                ax.set_ylabel(METRIC_LABELS[metric])
    axes[0][0].legend(fontsize=8)
    fig.suptitle("NAS-Bench-101: predictor quality on held-out cells vs pseudo-labels\n"
                 "(mean over seeds, error bars ± 1 standard error)", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out


def _short(m: int) -> str:
    return f"{m // 1000}k" if m >= 1000 and m % 1000 == 0 else str(m)


def default_command(
    ns: Sequence[int],
    ms: Sequence[int],
    seeds: Sequence[int],
    predictors: Sequence[str],
    settings: StudySettings,
    out_dir: Path,
) -> str:
    from seminas.harness import format_seeds

    parts = [
        "seminas study-predictor",
        f"--n {','.join(map(str, ns))}",
        f"--m {','.join(map(str, ms))}",
        f"--seeds {format_seeds(seeds)}",
        f"--preset {settings.preset}",
        f"--max-steps {settings.max_steps}",
        f"--pretrain-epochs {settings.pretrain_epochs}",
    ]
    if settings.train_steps:
        parts.append(f"--train-steps {settings.train_steps}")
    else:
        parts.append(f"--epochs {settings.epochs}")
    if list(predictors) != list(PREDICTORS):
        parts.append(f"--predictors {','.join(predictors)}")
    parts.append(f"--out {out_dir}")
    return " ".join(parts)
