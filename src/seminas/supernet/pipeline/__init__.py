"""SemiNAS's ImageNet experiment end to end, at any scale: supernet -> search -> from scratch.

1. **Supernet** (:mod:`~.stages`): trained with uniformly sampled feasible paths on the
   training split (``processes`` ranks through ``torch.distributed``; gloo on CPUs), rank 0
   writes ``supernet.pt``. Its quality is measured on a few random paths, with and without
   batch-norm recalibration.
2. **Search** (:mod:`~.stages`): SemiNAS (a controller preset) over the FLOPs-constrained
   space; each query is a supernet score (held-out accuracy after recalibration), and the
   supernet keeps training between iterations on paths from the pool. Over-limit candidates
   never reach an evaluation.
3. **Comparison set**: the chosen architecture, a random feasible one, a MobileNet-v2-like one
   of similar FLOPs (every layer k3e6, depth cut to match) and architectures spread over the
   search's score range, all re-scored on the final supernet.
4. **From scratch** (:mod:`~.scratch`): every one of them trained with the same recipe (in
   parallel, one process per core), reporting held-out and test accuracy; Kendall tau between
   supernet scores and from-scratch accuracy (:mod:`~.report`) measures how far the
   weight-sharing ranking can be trusted.

Every stage writes its result into the output directory (:mod:`~.store`) and is skipped when
run again with the same configuration (:mod:`~.config`), so an interrupted pipeline resumes
where it stopped (a from-scratch training is the unit: finished ones are kept).
:func:`run_pipeline` (:mod:`~.run`) runs them in order.
"""

from seminas.supernet.pipeline.config import (
    PRESETS,
    PipelineConfig,
    config_from_preset,
    shape_fields,
    validate_config,
)
from seminas.supernet.pipeline.report import render_markdown
from seminas.supernet.pipeline.run import run_pipeline
from seminas.supernet.pipeline.store import RESULTS_JSON, RESULTS_MD, STAGES_FILE

__all__ = [
    "PRESETS",
    "RESULTS_JSON",
    "RESULTS_MD",
    "STAGES_FILE",
    "PipelineConfig",
    "config_from_preset",
    "render_markdown",
    "run_pipeline",
    "shape_fields",
    "validate_config",
]
