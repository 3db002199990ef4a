"""The training recipe: what "evaluate an architecture by training it" means, written down.

The recipe is the usual CIFAR one (the NAS-Bench-101/201 papers train the same way, longer):
SGD with Nesterov momentum 0.9 and weight decay 5e-4, learning rate 0.1 annealed to 0 by a
cosine schedule updated every step, batch size 128, cross-entropy (optional label smoothing),
random 4-pixel-padded crops and horizontal flips. Accuracies are percentages measured in
``eval`` mode (batch-norm running statistics).

Repeatability: every random choice (batch order, crops, flips) comes from one generator seeded
with ``seed``; the network's initial weights are the caller's (seed the global generator before
building it, as :class:`~seminas.training.evaluator.TrainingEvaluator` does). On the CPU with one
thread and deterministic algorithms, the same seed gives the same accuracies bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from seminas.options import Options, opt
from seminas.training.data import ImageData, augment, normalise, split_validation

DEFAULT_VAL_FRACTION = 0.1
EVAL_BATCH = 500


class NonFiniteLoss(ArithmeticError):
    """Training diverged (the loss became NaN or infinite): the evaluation failed."""


@dataclass(frozen=True)
class Recipe(Options):
    """Hyper-parameters of one training run. Part of the cache key: change one, retrain."""

    epochs: int = opt(2, low=1, doc="training epochs")
    batch_size: int = opt(128, low=1, doc="mini-batch size")
    lr: float = opt(0.1, above=0, doc="peak SGD learning rate (cosine-annealed to 0)")
    momentum: float = opt(0.9, low=0, below=1, doc="SGD momentum")
    nesterov: bool = opt(True, doc="Nesterov momentum")
    weight_decay: float = opt(5e-4, low=0, doc="L2 penalty")
    label_smoothing: float = opt(0.0, low=0, below=1, doc="cross-entropy label smoothing")
    augment: bool = opt(True, doc="random crops and horizontal flips")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """A stable hash of every setting (16 hex digits), for cache keys."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrainOutcome:
    """What one training run produced."""

    val_accuracy: float  # %, on the held-out part of the training set
    test_accuracy: float | None  # %, None when the data has no test split
    seconds: float  # wall time of training and evaluation
    params: int | None  # trainable parameters (None when a user's training does not say)
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per epoch


def count_params(model: nn.Module) -> int:
    """Trainable parameters (batch-norm scale and shift included, running statistics not)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _device(model: nn.Module) -> torch.device:
    param = next(iter(model.parameters()), None)
    return torch.device("cpu") if param is None else param.device


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = EVAL_BATCH) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on uint8 images ``x``."""
    if len(x) == 0:
        return float("nan")
    model.eval()
    device = _device(model)
    correct = 0
    for i in range(0, len(x), batch):
        logits = model(normalise(x[i : i + batch]).to(device))
        correct += int((logits.argmax(1).cpu() == y[i : i + batch]).sum())
    return 100.0 * correct / len(x)


def train_network(
    model: nn.Module,
    data: ImageData,
    recipe: Recipe,
    seed: int,
    train_idx: torch.Tensor | None = None,
    val_idx: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainOutcome:
    """Train ``model`` on ``data`` with ``recipe``; validation and test accuracy in percent.

    Without indices the training set is split by :func:`split_validation` (10 % held out, by
    ``seed``). Given only ``train_idx``, the rest of the training set validates. ``progress`` is
    called as ``progress(steps_done, steps_total)`` after every step. Raises
    :class:`NonFiniteLoss` if training diverges.
    """
    start = time.perf_counter()
    if train_idx is None and val_idx is None:
        train_idx, val_idx = split_validation(data, DEFAULT_VAL_FRACTION, seed)
    elif train_idx is None:
        mask = torch.ones(len(data.x_train), dtype=torch.bool)
        mask[val_idx] = False
        train_idx = torch.nonzero(mask).flatten()
    elif val_idx is None:
        mask = torch.ones(len(data.x_train), dtype=torch.bool)
        mask[train_idx] = False
        val_idx = torch.nonzero(mask).flatten()
    assert train_idx is not None and val_idx is not None
    if len(train_idx) == 0:
        raise ValueError("no training images")
    generator = torch.Generator().manual_seed(int(seed))  # on the CPU: data stays there
    device = _device(model)
    x_all, y_all = data.x_train, data.y_train
    n = len(train_idx)
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov and recipe.momentum > 0,
        weight_decay=recipe.weight_decay,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(recipe.epochs):
        model.train()
        t0 = time.perf_counter()
        order = train_idx[torch.randperm(n, generator=generator)]
        loss_sum, correct = 0.0, 0
        for b in range(steps_per_epoch):
            idx = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
            raw, target = x_all[idx], y_all[idx]
            inputs = augment(raw, generator) if recipe.augment else normalise(raw)
            inputs, target = inputs.to(device), target.to(device)
            for group in optimizer.param_groups:  # cosine to 0, per step
                group["lr"] = 0.5 * recipe.lr * (1.0 + math.cos(math.pi * step / total))
            logits = model(inputs)
            loss = loss_fn(logits, target)
            if not torch.isfinite(loss):
                raise NonFiniteLoss(
                    f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {b + 1}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == target).sum().cpu())
            if progress is not None:
                progress(step, total)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": loss_sum / n,
                "train_accuracy": 100.0 * correct / n,
                "seconds": time.perf_counter() - t0,
            }
        )
    val = accuracy(model, x_all[val_idx], y_all[val_idx])
    test = None
    if data.x_test is not None and data.y_test is not None and len(data.x_test):
        test = accuracy(model, data.x_test, data.y_test)
    return TrainOutcome(
        val_accuracy=val,
        test_accuracy=test,
        seconds=time.perf_counter() - start,
        params=count_params(model),
        history=history,
    )
