"""What decides a MobileNet pipeline run: its configuration (remembered by the output
directory), the presets, and the checks that fail fast, in one line, before any training."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from seminas.errors import SeminasError
from seminas.spaces.mobilenet import (
    FINAL_WIDTHS,
    SEARCH_WIDTHS,
    MobileNetSpace,
    NetworkShape,
    scale_width,
)
from seminas.supernet.data import DataSpec, check_data_source


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that determines a pipeline run (the output directory remembers it)."""

    data: str = "cifar10-10k"
    data_dir: str | None = None
    image_size: int | None = None
    heldout: float = 0.1  # of the training images, for scoring and validation
    seed: int = 0
    max_flops: int | None = 600_000_000  # MACs of the final network at 224x224 (paper: 600M)
    width_mult: float = 0.35  # every width of the networks actually trained here
    final_widths: bool = True  # from-scratch networks use the paper's final widths
    # supernet
    supernet_epochs: float = 8.0
    supernet_batch: int = 128
    supernet_lr: float = 0.1
    sharing: str = "nested"  # "nested" (Once-for-All style) or "independent" (paper's code)
    supernet_weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    processes: int = 2  # ranks for supernet training; workers for from-scratch training
    threads: int = 1  # torch threads per process
    continue_steps: int = 35  # supernet steps before each search iteration
    sampling: str = "pool"  # paths for continued training: "pool" (paper) or "uniform"
    calib_batches: int = 4
    calib_batch_size: int = 128
    # search
    preset: str = "mobilenet-cpu"
    budget: int = 100
    overrides: dict[str, Any] = field(default_factory=dict)
    # from scratch
    scratch_epochs: int = 5
    scratch_batch: int = 128
    scratch_lr: float = 0.1
    scratch_weight_decay: float = 5e-4
    tau_archs: int = 8  # architectures from the search trained for the tau (chosen included)
    bn_check_paths: int = 10  # random paths scored with and without recalibration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # the 2-core CPU run of the README (CIFAR-10 subset, about half an hour)
    "cpu": {},
    # a minute-long run for trying the command (not a result)
    "tiny": {
        "supernet_epochs": 0.3,
        "continue_steps": 3,
        "budget": 12,
        "overrides": {"initial": 6, "per_iteration": 3, "unlabeled": 50, "pretrain_epochs": 20,
                      "epochs": 5, "top_k": 6},
        "scratch_epochs": 1,
        "tau_archs": 3,
        "bn_check_paths": 2,
        "calib_batches": 1,
    },
}


def config_from_preset(name: str, **changes: Any) -> PipelineConfig:
    if name not in PRESETS:
        raise SeminasError(f"unknown pipeline preset {name!r} (available: {', '.join(PRESETS)})")
    base = {**PRESETS[name]}
    overrides = {**base.pop("overrides", {}), **(changes.pop("overrides", None) or {})}
    return PipelineConfig(**{**base, **{k: v for k, v in changes.items() if v is not None}},
                          overrides=overrides)


def shape_fields(widths: tuple[int, ...], multiplier: float) -> dict[str, Any]:
    """NetworkShape fields (without data-dependent ones) for ``widths`` times ``multiplier``."""
    return {
        "widths": tuple(scale_width(w, multiplier) for w in widths),
        "stem": scale_width(32, multiplier),
        "first": scale_width(16, multiplier),
        "head": scale_width(1280, multiplier),
    }


def validate_config(cfg: PipelineConfig) -> MobileNetSpace:
    """Fail fast, in one line, on anything a user can get wrong; the constrained space. The
    settings are checked before the data, so a wrong setting is named even where the data
    is missing."""
    if cfg.sharing not in ("nested", "independent"):
        raise SeminasError(f"sharing must be nested or independent, got {cfg.sharing!r}")
    if cfg.sampling not in ("pool", "uniform"):
        raise SeminasError(f"--sampling must be pool or uniform, got {cfg.sampling!r}")
    if not cfg.width_mult > 0:
        raise SeminasError(f"width multiplier must be positive, got {cfg.width_mult}")
    if cfg.processes < 1 or cfg.threads < 1:
        raise SeminasError("processes and threads must be at least 1")
    if cfg.budget < 2:
        raise SeminasError(f"budget must be at least 2 architectures, got {cfg.budget}")
    from seminas.strategies import make_strategy

    make_strategy("seminas", cfg.preset, **cfg.overrides)  # unknown preset/option: one line
    space = MobileNetSpace(cfg.max_flops)
    check_data_source(cfg.data, cfg.data_dir)
    return space


def planned_continue_steps(cfg: PipelineConfig) -> int:
    """Supernet steps the search will add, so the cosine schedule spans them too."""
    from seminas.strategies import make_strategy

    c = make_strategy("seminas", cfg.preset, **cfg.overrides).config
    iterations = max(0, math.ceil((cfg.budget - min(c.initial, cfg.budget)) / c.per_iteration))
    return iterations * cfg.continue_steps


def data_spec(cfg: PipelineConfig) -> DataSpec:
    return DataSpec(cfg.data, cfg.data_dir, cfg.image_size, cfg.heldout, cfg.seed)


def final_network_shape(cfg: PipelineConfig, num_classes: int, resolution: int) -> NetworkShape:
    widths = FINAL_WIDTHS if cfg.final_widths else SEARCH_WIDTHS
    return NetworkShape(
        **shape_fields(widths, cfg.width_mult),
        num_classes=num_classes,
        resolution=resolution,
        cifar=resolution <= 64,
    )
