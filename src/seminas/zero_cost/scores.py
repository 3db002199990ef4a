"""The registry of training-free scores, and the one-pass helpers a study uses.

``SCORES`` maps a name to ``score(net, batch) -> float``: each takes a freshly initialised
network and a normalised image batch, and a larger value means a more promising network.
NASWOT and DAS read the same activation codes, so :func:`activation_scores` computes both (and
DAS's two atomic metrics) from one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from seminas.errors import SeminasError
from seminas.randomness import drawing_from, torch_generator
from seminas.zero_cost.activations import activation_kernel
from seminas.zero_cost.das import das, das_components, das_from_kernel
from seminas.zero_cost.naswot import naswot, naswot_from_kernel
from seminas.zero_cost.synflow import synflow

Score = Callable[[nn.Module, torch.Tensor], float]

SCORES: dict[str, Score] = {"das": das, "naswot": naswot, "synflow": synflow}
# The atomic metrics of DAS, reported beside the scores (not scores of their own to select by).
COMPONENTS: tuple[str, ...] = ("das_distinguish", "das_units")
DESCRIPTIONS: dict[str, str] = {
    "das": "log|S| + log N_A: DAS's two atomic metrics weighed equally (this project's reading "
    "of Liu et al. 2022)",
    "naswot": "log|K_H| of the Hamming-similarity kernel of ReLU codes (Mellor et al. 2021)",
    "synflow": "sum |theta * dR/dtheta|, absolute weights, all-ones input, float64 "
    "(Tanaka et al. 2020; Abdelfattah et al. 2021)",
    "das_distinguish": "log|S|, S = K_H / N_A: DAS's distinguishing ability",
    "das_units": "log N_A: DAS's number of activation units",
}


def check_scores(names: list[str] | tuple[str, ...]) -> list[str]:
    """``names`` as a list, or one clear error naming an unknown score."""
    for name in names:
        if name not in SCORES:
            raise SeminasError(
                f"unknown training-free score {name!r}: choose from {', '.join(sorted(SCORES))}"
            )
    return list(names)


def activation_scores(net: nn.Module, batch: torch.Tensor) -> dict[str, float]:
    """NASWOT, DAS and DAS's atomic metrics from one forward pass over ``batch``."""
    k = activation_kernel(net, batch)
    parts = das_components(k)
    return {
        "naswot": naswot_from_kernel(k),
        "das": das_from_kernel(k),
        "das_distinguish": parts["distinguish"],
        "das_units": parts["units"],
    }


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """A network built by ``build()`` with its default initialisation drawn from ``seed`` (the
    same seed gives the same weights; torch's global generator is left as it was)."""
    with drawing_from(torch_generator(seed)):
        return build()


def nb201_network(arch: Any, seed: int, settings: Mapping[str, int] | None = None) -> nn.Module:
    """The NAS-Bench-201 network of ``arch`` (standard settings unless ``settings``: channels,
    cells_per_stage, num_classes) with a seeded default initialisation."""
    from seminas.networks.nb201 import STANDARD, NB201Network

    options = dict(STANDARD if settings is None else settings)
    return seeded(lambda: NB201Network(arch, **options), seed)
