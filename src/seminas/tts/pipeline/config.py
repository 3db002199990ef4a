"""What decides a TTS pipeline run: its configuration (remembered by the output directory) and
the presets, checked in one line before any training."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError

SHARED_CORPUS = "tts/harvard-espeak"


@dataclass(frozen=True)
class TTSPipelineConfig:
    """Everything that determines a TTS pipeline run (the output directory remembers it)."""

    data: str | None = None  # a corpus in the LJSpeech layout; None: the shared Harvard corpus
    utterances: int | None = None  # training utterances of a non-Harvard corpus (paper: 1500)
    resample: bool = False  # resample wavs at another rate with soxr instead of refusing them
    seed: int = 0
    threads: int = 2  # torch threads of the supernet, search and measuring stages
    processes: int = 2  # from-scratch trainings at once (one thread each)
    # model (search size: hidden 64 as the paper)
    hidden: int = 64
    reduction: int = 4  # mel frames per decoder step
    batch_size: int = 16
    # supernet: one uniformly sampled path per step
    supernet_steps: int = 2500
    lr: float = 1.0  # Noam scale (paper 2.0 with 4,000 warm-up steps)
    warmup_steps: int = 400
    continue_steps: int = 100  # supernet steps on pool paths before each later iteration
    score_utterances: int = 24  # validation utterances scored per architecture
    score_mode: str = "free"  # "free" (paper: free-running for the true length) or "teacher"
    # search
    preset: str = "tts-cpu"
    budget: int = 250
    overrides: dict[str, Any] = field(default_factory=dict)
    # from scratch (chosen, baseline, random, and search ranks for the tau)
    scratch_steps: int = 1500
    tau_archs: int = 6
    # measures
    wavs: int = 3  # generated test utterances written as WAV (Griffin-Lim)
    measure_utterances: int | None = None  # None: all test utterances

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # the 2-core CPU run of the README on the shared corpus
    "cpu": {},
    # a few minutes, for trying the command (not a result)
    "tiny": {
        "hidden": 32,
        "supernet_steps": 60,
        "warmup_steps": 20,
        "scratch_steps": 40,
        "budget": 12,
        "overrides": {"initial": 6, "per_iteration": 3, "unlabeled": 40, "pretrain_epochs": 10,
                      "epochs": 5, "top_k": 6},
        "tau_archs": 3,
        "score_utterances": 8,
        "measure_utterances": 4,
        "wavs": 1,
    },
    # the paper's search (GPU): 100 random + 3 x 100, 4,000 pseudo-labels, controller hidden 16;
    # LJSpeech low-resource split (1,500 training utterances), supernet and final models larger
    "paper-tts": {
        "utterances": 1500,
        "preset": "paper-tts",
        "budget": 400,
        "hidden": 64,
        "batch_size": 32,
        "supernet_steps": 60000,
        "warmup_steps": 4000,
        "lr": 2.0,
        "continue_steps": 2000,
        "scratch_steps": 100000,
        "score_utterances": 100,
        "processes": 1,
    },
}


def config_from_preset(name: str, **changes: Any) -> TTSPipelineConfig:
    """A preset's configuration with ``changes`` (None values mean: keep the preset's)."""
    if name not in PRESETS:
        raise SeminasError(
            f"unknown TTS pipeline preset {name!r} (available: {', '.join(PRESETS)})"
        )
    base = {**PRESETS[name]}
    overrides = {**base.pop("overrides", {}), **(changes.pop("overrides", None) or {})}
    return TTSPipelineConfig(
        **{**base, **{k: v for k, v in changes.items() if v is not None}}, overrides=overrides
    )


def corpus_path(cfg: TTSPipelineConfig) -> Path:
    """The corpus directory: ``cfg.data``, or the shared Harvard corpus where it can be found."""
    if cfg.data is not None:
        return Path(os.path.expanduser(cfg.data))
    from seminas.data import find_file

    found = find_file(f"{SHARED_CORPUS}/metadata.csv")
    if found is None:
        raise SeminasError(
            "no corpus given and the shared Harvard corpus was not found: pass --data DIR "
            "(a corpus in the LJSpeech layout: metadata.csv and wavs/)"
        )
    return found.parent


def validate_config(cfg: TTSPipelineConfig) -> None:
    """Fail fast, in one line, on settings a user can get wrong (the data is checked when it is
    read, before any training)."""
    for name in ("hidden", "reduction", "batch_size", "supernet_steps", "scratch_steps",
                 "threads", "processes", "score_utterances", "tau_archs"):
        if int(getattr(cfg, name)) < 1:
            raise SeminasError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if cfg.score_mode not in ("free", "teacher"):
        raise SeminasError(f"score mode must be free or teacher, got {cfg.score_mode!r}")
    if cfg.budget < 2:
        raise SeminasError(f"budget must be at least 2 architectures, got {cfg.budget}")
    if cfg.utterances is not None and cfg.utterances < 1:
        raise SeminasError(f"--utterances must be at least 1, got {cfg.utterances}")
    from seminas.strategies import make_strategy

    make_strategy("seminas", cfg.preset, **cfg.overrides)  # unknown preset/option: one line
