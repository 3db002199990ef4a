"""What a predictor study computes: its grid (predictor x N x M x seed, checked in one line)
and the settings besides the grid that decide every result (stored in each results line)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

from seminas.errors import SeminasError

PREDICTORS = ("controller", "gbdt")
DEFAULT_NS: tuple[int, ...] = (100, 300, 1000)
DEFAULT_MS: tuple[int, ...] = (0, 1_000, 10_000, 50_000)
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
DEFAULT_MAX_STEPS = 300


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
            train=_train_settings(trainer.train_config),
            gbdt=asdict(PAPER_PARAMS),
            train_steps=int(train_steps),
        )

    def to_dict(self) -> dict[str, Any]:
        out = json.loads(json.dumps(asdict(self)))
        if not self.train_steps:
            del out["train_steps"]
        return out


def _train_settings(config: Any) -> dict[str, Any]:
    """The controller's training settings as stored; the prediction loss only when it is not the
    paper's MSE (so results stored before the option existed keep matching)."""
    out = asdict(config)
    if out.get("predictor_loss") == "mse":
        del out["predictor_loss"]
    return out


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
