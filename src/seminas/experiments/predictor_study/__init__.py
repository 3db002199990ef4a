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

The parts, one job each: :mod:`~.settings` (the grid and the settings), :mod:`~.data` (the
cells), :mod:`~.cells` (one cell's fit and score), :mod:`~.metrics`, :mod:`~.run` (the missing
cells into the results store: :func:`run_study`), :mod:`~.summary` and :mod:`~.plots`.
"""

from seminas.experiments.predictor_study.cells import run_cell
from seminas.experiments.predictor_study.data import StudyData
from seminas.experiments.predictor_study.metrics import METRIC_LABELS, METRICS, ranking_metrics
from seminas.experiments.predictor_study.plots import plot
from seminas.experiments.predictor_study.run import (
    PLOT_PNG,
    RESULTS_FILE,
    SUMMARY_JSON,
    SUMMARY_MD,
    StudyOutput,
    read_lines,
    run_study,
)
from seminas.experiments.predictor_study.settings import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MS,
    DEFAULT_NS,
    DEFAULT_SEEDS,
    PREDICTORS,
    StudySettings,
    check_grid,
    default_preset,
)
from seminas.experiments.predictor_study.summary import (
    default_command,
    render_markdown,
    summarize,
)

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_MS",
    "DEFAULT_NS",
    "DEFAULT_SEEDS",
    "METRICS",
    "METRIC_LABELS",
    "PLOT_PNG",
    "PREDICTORS",
    "RESULTS_FILE",
    "SUMMARY_JSON",
    "SUMMARY_MD",
    "StudyData",
    "StudyOutput",
    "StudySettings",
    "check_grid",
    "default_command",
    "default_preset",
    "plot",
    "ranking_metrics",
    "read_lines",
    "render_markdown",
    "run_cell",
    "run_study",
    "summarize",
]
