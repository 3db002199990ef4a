"""The NAAP-440 baseline: regressors on architecture features and the first epochs' curves.

NAAP-440's point is that a few epochs of training (accuracy and loss) plus the architecture
let off-the-shelf regressors predict a network's final accuracy. This study reproduces that on
the dataset's own split (fit on the 400 training rows, score on the 40 test rows) and puts the
project's own flat-feature predictors beside them:

- **Regressors.** scikit-learn's Ridge, SVR, k-NN, random forest and histogram gradient
  boosting, plain LightGBM, and two of seminas's predictors that read a flat feature matrix:
  ``gbdt-nas`` (:class:`~seminas.predictors.gbdt.GBDTPredictor`, GBDT-NAS's LightGBM settings)
  and ``mlp`` (:class:`~seminas.predictors.mlp.MLPPredictor`, narrower than WeakNAS's 4x1000 so
  a fit costs well under a second). The graph and sequence predictors need a cell encoding
  NAAP-440 does not have, so they are not run. Features are standardised on the training rows
  for every model (trees ignore it); the scikit-learn models also see standardised targets
  (SVR's epsilon is in target units, and accuracies span only 0.22).
- **The paper's baseline.** Its regressors with its settings (k-NN with k = 1 and 7, linear
  regression, a decision tree, gradient boosting and AdaBoost with 100 estimators, SVR with its
  epsilon 0.001 and C 0.1, a random forest of 100 trees; features standardised, targets not) on
  its feature sets (``paper-*``: log NumParams and NumStages alone; six scheme columns plus mean
  loss, median loss and accuracy of epochs 1..E for E in 3, 6, 9). Its metric, the
  monotonicity score, is the share of the 780 test pairs the prediction orders correctly; it
  reports the seed of median violations out of five.
- **Feature sets.** Ours: architecture only (13 columns); architecture plus accuracy and mean
  loss of epochs 1..E for E in 1, 3, 5, 9; the 9 epochs' curves alone. Every regressor runs on
  every feature set, the paper's included.
- **Seeds.** Each seed refits the seeded models; deterministic ones run once (first seed).
- **Store.** Each (regressor, feature set, seed) is one record of ``records.jsonl`` (the common
  results store, kind ``naap440-baseline``); a rerun computes only missing records.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.experiments.store import ResultsStore
from seminas.progress import NO_PROGRESS, Progress

KIND = "naap440-baseline"
RECORDS_FILE = "records.jsonl"
MLP_HIDDEN = (256, 256)
MLP_EPOCHS = 300

# name -> (uses architecture features, epochs of curves)
FEATURE_SETS: dict[str, tuple[bool, int]] = {
    "arch": (True, 0),
    "arch+e1": (True, 1),
    "arch+e3": (True, 3),
    "arch+e5": (True, 5),
    "arch+e9": (True, 9),
    "curves-e9": (False, 9),
}
# the paper's feature sets: name -> epochs (see NAAP440.paper_features)
PAPER_FEATURE_SETS: dict[str, int] = {"paper-scheme": 0, "paper-e3": 3, "paper-e6": 6,
                                      "paper-e9": 9}
ALL_FEATURE_SETS = (*FEATURE_SETS, *PAPER_FEATURE_SETS)


@dataclass(frozen=True)
class Regressor:
    """One model of the study: how to build it for a seed, and whether the seed matters."""

    name: str
    build: Callable[[int], Any]
    deterministic: bool
    what: str


def _sklearn(model: Any) -> Any:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return TransformedTargetRegressor(make_pipeline(StandardScaler(), model),
                                      transformer=StandardScaler())


class _Scaled:
    """A seminas predictor behind a StandardScaler fitted on the training rows (the predictor
    standardises its targets itself; it is no scikit-learn estimator, so no Pipeline)."""

    def __init__(self, model: Any) -> None:
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler()
        self.model = model

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Scaled:
        self.model.fit(self.scaler.fit_transform(X), y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self.scaler.transform(X)))


def _ridge(seed: int) -> Any:
    from sklearn.linear_model import Ridge

    return _sklearn(Ridge(alpha=1.0))


def _svr(seed: int) -> Any:
    from sklearn.svm import SVR

    return _sklearn(SVR())


def _knn(seed: int) -> Any:
    from sklearn.neighbors import KNeighborsRegressor

    return _sklearn(KNeighborsRegressor(n_neighbors=5, weights="distance"))


def _forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return _sklearn(RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1))


def _hist_gbdt(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    # 400 rows: no early stopping and no subsampling, so the fit does not depend on the seed
    return _sklearn(HistGradientBoostingRegressor(random_state=seed, early_stopping=False))


def _lightgbm(seed: int) -> Any:
    from lightgbm import LGBMRegressor

    return _sklearn(LGBMRegressor(random_state=seed, n_jobs=1, deterministic=True,
                                  force_row_wise=True, verbose=-1))


def _plain(model: Any) -> Any:
    """The paper's setup: features standardised on the training rows, targets as they are."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


def _paper_knn(k: int) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        from sklearn.neighbors import KNeighborsRegressor

        return _plain(KNeighborsRegressor(n_neighbors=k, algorithm="brute"))

    return build


def _paper_linear(seed: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return _plain(LinearRegression())


def _paper_tree(seed: int) -> Any:
    from sklearn.tree import DecisionTreeRegressor

    return _plain(DecisionTreeRegressor(random_state=seed))


def _paper_gb(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return _plain(GradientBoostingRegressor(n_estimators=100, random_state=seed))


def _paper_ada(seed: int) -> Any:
    from sklearn.ensemble import AdaBoostRegressor

    return _plain(AdaBoostRegressor(n_estimators=100, random_state=seed))


def _paper_svr(seed: int) -> Any:
    from sklearn.svm import SVR

    return _plain(SVR(kernel="rbf", epsilon=0.001, C=0.1))


def _paper_rf(seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return _plain(RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1))


def _gbdt_nas(seed: int) -> Any:
    from seminas.predictors.gbdt import GBDTPredictor

    return _Scaled(GBDTPredictor(seed=seed))


def _mlp(seed: int) -> Any:
    from seminas.predictors.mlp import MLPPredictor

    return _Scaled(MLPPredictor(hidden=MLP_HIDDEN, epochs=MLP_EPOCHS, seed=seed))


REGRESSORS: dict[str, Regressor] = {
    r.name: r
    for r in (
        Regressor("ridge", _ridge, True, "scikit-learn Ridge, alpha 1"),
        Regressor("svr", _svr, True, "scikit-learn SVR, RBF kernel, defaults"),
        Regressor("knn", _knn, True, "scikit-learn k-NN, k=5, distance-weighted"),
        Regressor("random-forest", _forest, False, "scikit-learn random forest, 200 trees"),
        Regressor("hist-gbdt", _hist_gbdt, True,
                  "scikit-learn HistGradientBoosting, defaults, no early stopping"),
        Regressor("lightgbm", _lightgbm, True, "LightGBM LGBMRegressor, defaults"),
        Regressor("gbdt-nas", _gbdt_nas, False,
                  "seminas GBDTPredictor (GBDT-NAS's LightGBM settings, with bagging)"),
        Regressor("mlp", _mlp, False,
                  f"seminas MLPPredictor, hidden {MLP_HIDDEN}, {MLP_EPOCHS} epochs"),
        # the paper's regressors and settings (names of its table in PAPER_NAMES)
        Regressor("1-nn", _paper_knn(1), True, "paper: k-NN, k=1"),
        Regressor("7-nn", _paper_knn(7), True, "paper: k-NN, k=7"),
        Regressor("linear", _paper_linear, True, "paper: linear regression"),
        Regressor("decision-tree", _paper_tree, False, "paper: decision tree"),
        Regressor("gb-100", _paper_gb, False, "paper: gradient boosting, 100 estimators"),
        Regressor("adaboost-100", _paper_ada, False, "paper: AdaBoost, 100 estimators"),
        Regressor("svr-paper", _paper_svr, True, "paper: SVR, RBF kernel, epsilon 0.001, C 0.1"),
        Regressor("rf-100", _paper_rf, False, "paper: random forest, 100 trees"),
    )
}
PAPER_REGRESSORS = ("1-nn", "7-nn", "linear", "decision-tree", "gb-100", "adaboost-100",
                    "svr-paper", "rf-100")
QUICK_REGRESSORS = ("ridge", "random-forest")


def violations(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    """Pairs that the prediction orders strictly against the truth (the paper's count)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    upper = np.triu(np.ones((len(t), len(t)), dtype=bool), k=1)
    dt, dp = np.sign(t[:, None] - t[None, :]), np.sign(p[:, None] - p[None, :])
    return int(((dt * dp < 0) & upper).sum())


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, R², Kendall tau, Spearman rho and the paper's monotonicity score (share of pairs
    not ordered against the truth) of predictions against the truth."""
    from scipy.stats import kendalltau, spearmanr
    from sklearn.metrics import mean_absolute_error, r2_score

    constant = float(np.ptp(y_pred)) == 0.0  # a rank correlation is undefined there: 0
    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
        "kendall_tau": 0.0 if constant else float(kendalltau(y_true, y_pred)[0]),
        "spearman_rho": 0.0 if constant else float(spearmanr(y_true, y_pred)[0]),
        "violations": violations(y_true, y_pred),
        "monotonicity": 1.0 - violations(y_true, y_pred) / (len(y_true) * (len(y_true) - 1) / 2),
    }


def feature_matrix(bench: Any, features: str) -> np.ndarray:
    """The ``[440, d]`` matrix of one feature set, ours or the paper's."""
    if features in PAPER_FEATURE_SETS:
        return bench.paper_features(PAPER_FEATURE_SETS[features])
    arch, epochs = FEATURE_SETS[features]
    return bench.features(arch, epochs)


def run_unit(bench: Any, regressor: str, features: str, seed: int) -> dict[str, Any]:
    """Fit one regressor on the training rows of one feature set; score it on the test rows."""
    X = feature_matrix(bench, features)
    y = bench.target
    # training rows by ascending MaxAccuracy, the order the paper's script fits them in: it
    # decides k-NN's ties among equal neighbours (1-NN on the paper's scheme features)
    train = bench.train[np.argsort(y[bench.train], kind="stable")]
    model = REGRESSORS[regressor].build(int(seed))
    t0 = time.perf_counter()
    model.fit(X[train], y[train])
    fit_seconds = time.perf_counter() - t0
    pred = np.asarray(model.predict(X[bench.test]), dtype=np.float64).ravel()
    return {
        "regressor": regressor,
        "features": features,
        "seed": int(seed),
        "what": REGRESSORS[regressor].what,
        "n_features": int(X.shape[1]),
        "metrics": metrics(y[bench.test], pred),
        "fit_seconds": fit_seconds,
        "predictions": [round(float(p), 6) for p in pred],
    }


def units(regressors: Sequence[str], features: Sequence[str],
          seeds: Sequence[int]) -> list[tuple[str, str, int]]:
    """Every (regressor, feature set, seed) of a study; deterministic models take one seed."""
    unknown = [r for r in regressors if r not in REGRESSORS]
    if unknown:
        raise SeminasError(
            f"unknown regressor {unknown[0]!r}: choose from {', '.join(REGRESSORS)}"
        )
    bad = [f for f in features if f not in ALL_FEATURE_SETS]
    if bad:
        raise SeminasError(
            f"unknown feature set {bad[0]!r}: choose from {', '.join(ALL_FEATURE_SETS)}"
        )
    if not seeds:
        raise SeminasError("a study needs at least one seed, e.g. --seeds 0-4")
    out = []
    for r in regressors:
        for f in features:
            for s in seeds[:1] if REGRESSORS[r].deterministic else seeds:
                out.append((r, f, int(s)))
    return out


def record_key(record: Any) -> tuple[str, str, int]:
    return (str(record["regressor"]), str(record["features"]), int(record["seed"]))


def open_store(out_dir: str | os.PathLike) -> ResultsStore:
    """The study's results store inside ``out_dir``."""
    return ResultsStore(Path(out_dir) / RECORDS_FILE, KIND, key=record_key,
                        valid=lambda r: "monotonicity" in r["metrics"])


@dataclass
class StudyOutput:
    records: Path
    results_json: Path
    readme: Path
    plot: Path
    units: int
    new_units: int


def default_command(seeds: Sequence[int], quick: bool) -> str:
    from seminas.experiments.seeds import format_seeds

    return "seminas naap440 study --out DIR --seeds " + format_seeds(seeds) + (
        " --quick" if quick else ""
    )


def run_study(
    out: str | os.PathLike,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    regressors: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    quick: bool = False,
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    command: str | None = None,
) -> StudyOutput:
    """Run the missing units of the study into ``out``, then write the report.

    ``quick``: only Ridge and the random forest and the first seed (unless ``regressors`` is
    given). Everything runs on one thread, so a fit's seconds and result do not depend on the
    machine's other work.
    """
    import torch
    from threadpoolctl import threadpool_limits

    from seminas.benchmarks.naap440 import load_naap440
    from seminas.experiments.naap440.report import write_report

    seeds = [int(s) for s in seeds][: 1 if quick else None]
    regressors = list(regressors) if regressors else list(
        QUICK_REGRESSORS if quick else REGRESSORS
    )
    features = list(features) if features else list(ALL_FEATURE_SETS)
    todo_all = units(regressors, features, seeds)
    bench = load_naap440(data_dir)
    out_dir = Path(out).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(out_dir)
    store.check_writable()
    progress = progress or NO_PROGRESS
    new = 0
    with store.exclusive("NAAP-440 study"):
        done = {record_key(r): r for r in store.read(repair=True)}
        todo = [u for u in todo_all if u not in done]
        if todo:
            old_threads = torch.get_num_threads()
            torch.set_num_threads(1)
            progress.start("NAAP-440 regressors", total=len(todo), unit="fits")
            try:
                with threadpool_limits(1):
                    for unit in todo:
                        record = run_unit(bench, *unit)
                        store.append(record)
                        done[unit] = record
                        new += 1
                        progress.advance(1, note=f"{unit[0]} {unit[1]}")
            finally:
                progress.finish()
                torch.set_num_threads(old_threads)
    records = [done[u] for u in todo_all]
    paths = write_report(out_dir, records, bench,
                         command=command or default_command(seeds, quick))
    return StudyOutput(
        records=store.path,
        results_json=paths["results_json"],
        readme=paths["readme"],
        plot=paths["plot"],
        units=len(records),
        new_units=new,
    )
