"""One cell of a predictor study's grid: a predictor fitted on N labeled cells (plus M
pseudo-labeled ones) for one seed, scored on every subset cell it was not given. The labeled
and unlabeled cells are drawn per seed only, nested over N and M, so a resumed or extended
study draws the same cells."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.experiments.predictor_study.data import StudyData
from seminas.experiments.predictor_study.metrics import ranking_metrics
from seminas.experiments.predictor_study.settings import PREDICTORS, StudySettings

LINE_FORMAT = 1

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
def _finite(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value




@dataclass(frozen=True)
class SeedDraw:
    """One seed's cells, shared by every cell of that seed: the subset's order (the first N are
    labeled) and the first ``m_max`` unlabeled cells' features and tokens."""

    order: np.ndarray
    features: np.ndarray
    tokens: np.ndarray


def draw_seed(data: StudyData, seed: int, m_max: int) -> SeedDraw:
    """The labeled order and the unlabeled cells of ``seed`` (up to ``m_max`` of them)."""
    from seminas.predictors.encoding import nb101_enumeration_features, nb101_enumeration_tokens

    unlabeled = _unlabeled(data, seed)[:m_max]
    return SeedDraw(
        _split(data, seed),
        nb101_enumeration_features(data.enumeration, unlabeled),
        nb101_enumeration_tokens(data.enumeration, unlabeled),
    )


def run_cell(
    settings: StudySettings,
    data: StudyData,
    drawn: SeedDraw,
    predictor: str,
    n: int,
    m: int,
    seed: int,
) -> dict[str, Any]:
    """Fit and score one cell; its results line (everything but the timings is a function of
    the settings and the cell's coordinates)."""
    labeled, test = drawn.order[:n], drawn.order[n:]
    cell_seed = _seed_of(seed, n, m, PREDICTORS.index(predictor))
    start, cpu = time.perf_counter(), time.process_time()
    if predictor == "controller":
        pred, info = _controller_cell(settings, data, labeled, test, drawn.tokens[:m], cell_seed)
    else:
        pred, info = _gbdt_cell(settings, data, labeled, test, drawn.features[:m], cell_seed)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    metrics = ranking_metrics(pred, data.y[test], settings.top_fraction)
    return {
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
        "settings": settings.to_dict(),
    }
