"""Training-free ("zero-cost") scores of a network at initialisation: DAS, NASWOT and synflow.

Each score takes a freshly initialised network and a normalised image minibatch and returns a
float (larger: more promising). ``SCORES`` is the registry; :mod:`.scorefile` is the per-cell
file (``scores.npz``) a search loads as a filter or as weak labels.
"""

from seminas.zero_cost.activations import (
    ActivationKernel,
    activation_kernel,
    kernel_from_codes,
    logdet,
)
from seminas.zero_cost.das import das, das_components, das_from_kernel
from seminas.zero_cost.naswot import naswot, naswot_from_kernel
from seminas.zero_cost.scorefile import load_scores, save_scores
from seminas.zero_cost.scores import (
    COMPONENTS,
    DESCRIPTIONS,
    SCORES,
    activation_scores,
    check_scores,
    nb201_network,
    seeded,
)
from seminas.zero_cost.synflow import synflow

__all__ = [
    "COMPONENTS",
    "DESCRIPTIONS",
    "SCORES",
    "ActivationKernel",
    "activation_kernel",
    "activation_scores",
    "check_scores",
    "das",
    "das_components",
    "das_from_kernel",
    "kernel_from_codes",
    "load_scores",
    "logdet",
    "naswot",
    "naswot_from_kernel",
    "nb201_network",
    "save_scores",
    "seeded",
    "synflow",
]
