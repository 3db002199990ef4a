"""What every one-shot search shares: its settings, its data, its batches, its clock.

A search splits the training part of the CIFAR-10 subset in two by the seed (``heldout``, half by
default, as DARTS splits CIFAR-10's training set): the supernet weights are trained on one half
(``train``), the architecture on the other (``valid``); the held-out images of a search are never
the benchmark's test images. Every method owns its random state: the supernet is initialised
from the seed under a forked torch generator, the batches come from the seed, and the method's
own sampling uses a ``torch.Generator`` seeded from the seed -- so a seed repeats a search
exactly on the same machine and thread count.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.errors import SeminasError
from seminas.oneshot.supernet import NB201Shape, NB201Supernet, build_supernet
from seminas.progress import NO_PROGRESS, Progress
from seminas.spaces.nb201 import NUM_EDGES, OPS, NB201Arch


@dataclass(frozen=True)
class SearchSettings:
    """Settings every search has (the CPU size; see docs/oneshot.md)."""

    data: str = "cifar10-10k"
    data_dir: str | None = None
    heldout: float = 0.5  # part of the training images that trains the architecture
    channels: int = 8
    cells_per_stage: int = 1
    batch_size: int = 64
    epochs: float = 10.0  # over the weights' half; fractional on tiny budgets
    max_steps: int | None = None  # stop after this many steps (tiny runs, tests)
    w_lr: float = 0.025  # DARTS: SGD 0.025, cosine to w_lr_min, momentum 0.9, wd 3e-4
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    grad_clip: float = 5.0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise SeminasError(f"search epochs must be positive, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise SeminasError(f"batch size must be at least 1, got {self.batch_size}")
        if self.max_steps is not None and int(self.max_steps) < 1:
            raise SeminasError(f"max_steps must be at least 1, got {self.max_steps}")
        if not 0 < self.heldout < 1:
            raise SeminasError(f"heldout must be a fraction in (0, 1), got {self.heldout}")

    @property
    def shape(self) -> NB201Shape:
        return NB201Shape(self.channels, self.cells_per_stage, 10)


def settings_from(cls: type, overrides: dict[str, Any]) -> Any:
    """``cls(**overrides)`` with a one-line error naming an unknown key."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise SeminasError(
            f"unknown setting {unknown[0]!r} for {cls.__name__}: choose from "
            f"{', '.join(sorted(names))}"
        )
    try:
        return cls(**overrides)
    except TypeError as exc:
        raise SeminasError(f"bad settings for {cls.__name__}: {exc}") from None


def settings_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)


class SearchData:
    """The two halves of a search's training images, as endless batch streams."""

    def __init__(self, settings: SearchSettings, seed: int, progress: Progress = NO_PROGRESS):
        from seminas.supernet.data import DataSpec, TensorSource

        spec = DataSpec(settings.data, settings.data_dir, None, settings.heldout, seed)
        self.train = spec.open(progress)
        assert isinstance(self.train, TensorSource)
        t = self.train
        # the architecture's half, augmented and shuffled like the weights' half
        self.valid = TensorSource(t.x_heldout, t.y_heldout, t.x_train, t.y_train, t.num_classes)
        self.seed = int(seed)
        self.batch_size = int(settings.batch_size)
        self.steps_per_epoch = self.train.steps_per_epoch(self.batch_size)
        self._train = _endless(self.train, self.batch_size, self.seed)
        self._valid = _endless(self.valid, self.batch_size, self.seed + 1)

    def train_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return next(self._train)

    def valid_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return next(self._valid)


def _endless(source: Any, batch: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    epoch = 0
    while True:
        yield from source.train_batches(epoch, batch, seed)
        epoch += 1


class WeightTrainer:
    """SGD on the supernet weights with DARTS's cosine schedule, one step at a time."""

    def __init__(self, model: nn.Module, settings: SearchSettings, total_steps: int) -> None:
        self.model = model
        self.settings = settings
        self.total = max(1, int(total_steps))
        self.step = 0
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=settings.w_lr, momentum=settings.w_momentum,
            weight_decay=settings.w_weight_decay,
        )
        self.loss_fn = nn.CrossEntropyLoss()

    def lr(self) -> float:
        s = self.settings
        t = min(self.step, self.total - 1) / self.total
        return s.w_lr_min + 0.5 * (s.w_lr - s.w_lr_min) * (1 + math.cos(math.pi * t))

    def train_on(self, x: torch.Tensor, y: torch.Tensor, **forward: Any) -> float:
        """One step on ``(x, y)`` through ``model(x, **forward)``; returns the loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()
        loss = self.loss_fn(self.model(x, **forward), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"supernet loss became {float(loss)} at step {self.step}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.settings.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())


def total_steps(settings: SearchSettings, data: SearchData) -> int:
    steps = max(1, math.ceil(settings.epochs * data.steps_per_epoch))
    return steps if settings.max_steps is None else min(steps, int(settings.max_steps))


def new_supernet(settings: SearchSettings, seed: int) -> NB201Supernet:
    model = build_supernet(settings.shape, seed).use_channels_last()
    model.train()
    return model


def init_alpha(seed: int, scale: float = 1e-3) -> torch.Tensor:
    """DARTS's initial architecture parameters: ``scale * N(0, 1)``, (6, 5), from ``seed``."""
    g = torch.Generator().manual_seed(int(seed) * 7919 + 1)
    return (scale * torch.randn(NUM_EDGES, len(OPS), generator=g)).requires_grad_(True)


def argmax_cell(alpha: torch.Tensor | np.ndarray) -> NB201Arch:
    """The cell of the largest parameter on each edge (ties: the first operation)."""
    a = np.asarray(alpha.detach().cpu() if isinstance(alpha, torch.Tensor) else alpha)
    if a.shape != (NUM_EDGES, len(OPS)):
        raise ValueError(f"architecture parameters must be (6, 5), got {a.shape}")
    return NB201Arch(tuple(OPS[int(i)] for i in a.argmax(axis=1)))


class Clock:
    """CPU seconds (this process, all its threads) and wall seconds since creation."""

    def __init__(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def cpu(self) -> float:
        return time.process_time() - self.cpu0

    def wall(self) -> float:
        return time.perf_counter() - self.wall0


@dataclass
class SearchOutcome:
    """What a search returns: the chosen cell and what it cost."""

    method: str
    seed: int
    cell: str
    cpu_seconds: float
    wall_seconds: float
    steps: int
    arch_params: list[list[float]]  # final architecture parameters (or PONAS's table), (6, 5)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Ticker:
    """Reports a loop of ``total`` steps to ``progress`` about 50 times, not every step."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total = progress, int(total)
        self.every = max(1, self.total // 50)
        self.done = 0

    def tick(self, step: int, note: Any = None) -> None:
        """Step ``step`` (0-based) finished; ``note()`` gives the status text when shown."""
        if (step + 1) % self.every == 0 or step + 1 == self.total:
            self.progress.advance(step + 1 - self.done, note() if callable(note) else note)
            self.done = step + 1


def set_threads(settings: SearchSettings) -> None:
    torch.set_num_threads(max(1, int(settings.threads)))
