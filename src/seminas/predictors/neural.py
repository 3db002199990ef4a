"""What the neural predictors (the MLP and the GNN) share: a trunk and a head, owned
randomness, one training loop with a choice of loss, and free-label pretraining.

- **Network**: ``head(trunk(inputs))``; the trunk maps a row to a ``width``-vector, the head is
  one linear layer to the output. Every layer is created with ``skip_init`` (no default
  initialisation, which would draw from torch's global generator) and initialised from the
  predictor's own ``torch.Generator``: weights and biases uniform in ``±1/sqrt(fan_in)``.
- **Training** (:func:`train`): Adam, mini-batches in an order drawn from the same generator,
  ``epochs`` passes (or at most ``max_steps`` steps when that is set), on targets standardised
  with the training set's mean and standard deviation; the loss is MSE or a ranking loss
  (:mod:`seminas.predictors.ranking`), after which predictions are calibrated back to the
  targets' units.
- **Pretraining on free labels** (:meth:`NeuralPredictor.pretrain`; FBNetV3, Dai et al., CVPR
  2021): the trunk, with a linear head of one output per free label, is trained to regress the
  standardised free labels (:mod:`seminas.predictors.free_labels`) of many unlabeled rows. Its
  weights are kept; every later :meth:`~NeuralPredictor.fit` starts from them (a fresh copy
  each time), with a fresh accuracy head, and fine-tunes the whole network on the labels. A
  predictor never pretrained fits exactly as before this existed.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.predictors.ranking import calibrate, loss_function


def generator_for(seed: int, *salt: int) -> torch.Generator:
    """A torch generator for ``seed`` (exactly ``manual_seed(seed)`` without salt; with salt, a
    stream derived from ``(seed, *salt)``, independent of the unsalted one)."""
    if not salt:
        return torch.Generator().manual_seed(int(seed))
    state = np.random.SeedSequence([int(seed), *map(int, salt)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def linear(inputs: int, outputs: int) -> nn.Linear:
    """A linear layer left uninitialised (see :func:`init_uniform`)."""
    return nn.utils.skip_init(nn.Linear, inputs, outputs)


@torch.no_grad()
def init_uniform(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every linear layer of ``module``, in order, from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / np.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)


class Network(nn.Module):
    """``head(trunk(*inputs))``; ``trunk`` gives ``width`` features per row."""

    def __init__(self, trunk: nn.Module, width: int, outputs: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = linear(width, outputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(*inputs))


def standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant)."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def train(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
    loss: str = "mse",
    max_steps: int = 0,
) -> int:
    """Adam on mini-batches of ``inputs`` (row tensors) and ``targets`` (``[n]``, or ``[n, k]``
    for several outputs); returns the steps taken."""
    loss_fn = loss_function(loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(targets)
    batch = max(1, min(batch_size, n))
    multi = targets.ndim > 1
    steps = 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            out = model(*(x[idx] for x in inputs))
            if multi:
                value = torch.mean((out - targets[idx]) ** 2)
            else:
                value = loss_fn(out.squeeze(-1), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            steps += 1
            if max_steps and steps >= max_steps:
                return steps
    return steps


class NeuralPredictor:
    """The protocol (``fit``, ``predict``) and ``pretrain`` around a :class:`Network`; a
    subclass says how rows become tensors (:meth:`_tensors`) and builds its trunk
    (:meth:`_trunk`). Settings it reads: ``epochs``, ``lr``, ``weight_decay``, ``batch_size``,
    ``loss``, ``max_steps``, ``pretrain_epochs``, ``pretrain_batch_size``, ``seed``."""

    encoding = "flat"
    predict_batch = 8192  # rows per forward pass in predict
    seed: int
    epochs: int
    lr: float
    weight_decay: float
    batch_size: int
    loss: str
    max_steps: int
    pretrain_epochs: int
    pretrain_batch_size: int

    def _init_state(self) -> None:
        self.model: Network | None = None
        self.mean = 0.0
        self.std = 1.0
        self.scale = 1.0  # calibration of ranking-loss scores (identity for MSE)
        self.shift = 0.0
        self.pretrained: dict[str, torch.Tensor] | None = None  # trunk weights, once pretrained
        self.pretrain_layout: Any = None
        self.pretrain_steps = 0

    # -- what a subclass provides ---------------------------------------------------------------
    def _tensors(self, X: Any) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _layout(self, tensors: tuple[torch.Tensor, ...]) -> Any:
        """What the trunk's shape depends on (the input width), to check pretrain vs fit."""
        raise NotImplementedError

    def _trunk(self, layout: Any) -> tuple[nn.Module, int]:
        raise NotImplementedError

    # -- the network -------------------------------------------------------------------------------
    def _network(self, layout: Any, outputs: int, generator: torch.Generator) -> Network:
        trunk, width = self._trunk(layout)
        net = Network(trunk, width, outputs)
        init_uniform(net, generator)  # trunk layers in order, then the head
        return net

    def pretrain(self, X: Any, free: np.ndarray) -> NeuralPredictor:
        """Learn the trunk from free labels ``free`` ``[n, k]`` of the rows ``X`` (does nothing
        when ``pretrain_epochs`` is 0). Later fits start from it."""
        if not self.pretrain_epochs:
            return self
        tensors = self._tensors(X)
        F = np.asarray(free, dtype=np.float64)
        if F.ndim != 2 or len(F) != len(tensors[0]) or len(F) == 0:
            raise ValueError(
                f"pretrain needs free labels [n, k] for the n = {len(tensors[0])} rows, got "
                f"{F.shape}"
            )
        mean, std = standardise(F)
        targets = torch.as_tensor((F - mean) / std, dtype=torch.float32)
        generator = generator_for(self.seed, 1)  # a stream of its own: fits draw as before
        layout = self._layout(tensors)
        net = self._network(layout, F.shape[1], generator)
        self.pretrain_steps = train(
            net, tensors, targets, epochs=self.pretrain_epochs,
            batch_size=self.pretrain_batch_size, lr=self.lr, weight_decay=self.weight_decay,
            generator=generator,
        )
        self.pretrained = copy.deepcopy(net.trunk.state_dict())
        self.pretrain_layout = layout
        return self

    def fit(self, X: Any, y: np.ndarray) -> NeuralPredictor:
        """Train a fresh network (from the pretrained trunk, if any) on ``X`` and ``y``."""
        tensors = self._tensors(X)
        y_np = np.asarray(y, dtype=np.float64).ravel()
        if len(tensors[0]) != len(y_np) or len(y_np) == 0:
            raise ValueError(
                f"fit needs n >= 1 rows and n targets, got {len(tensors[0])} rows and "
                f"{len(y_np)} targets"
            )
        self.mean = float(y_np.mean())
        std = float(y_np.std())
        self.std = std if std > 1e-12 else 1.0
        y_t = torch.as_tensor((y_np - self.mean) / self.std, dtype=torch.float32)
        generator = generator_for(self.seed)
        layout = self._layout(tensors)
        self.model = model = self._network(layout, 1, generator)
        if self.pretrained is not None:
            if layout != self.pretrain_layout:
                raise ValueError(
                    f"rows of layout {layout} cannot fine-tune a trunk pretrained on "
                    f"{self.pretrain_layout}"
                )
            model.trunk.load_state_dict(self.pretrained)
        train(
            model, tensors, y_t, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, generator=generator, loss=self.loss,
            max_steps=self.max_steps,
        )
        self.scale, self.shift = 1.0, 0.0
        if self.loss != "mse":  # scores without units: map them to the targets' scale
            self.scale, self.shift = calibrate(self._raw(tensors), y_t.numpy())
        return self

    @torch.no_grad()
    def _raw(self, tensors: tuple[torch.Tensor, ...]) -> np.ndarray:
        assert self.model is not None
        batch_size = self.predict_batch
        self.model.eval()
        n = len(tensors[0])
        parts = [
            self.model(*(t[i : i + batch_size] for t in tensors)).squeeze(-1)
            for i in range(0, n, batch_size)
        ]
        return torch.cat(parts).numpy().astype(np.float64) if parts else np.zeros(0)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted search metric of each row, in the units of the ``y`` given to :meth:`fit`."""
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__}.predict called before fit")
        out = self._raw(self._tensors(X))
        if self.loss != "mse":
            out = out * self.scale + self.shift
        return out * self.std + self.mean


__all__ = [
    "Network",
    "NeuralPredictor",
    "generator_for",
    "init_uniform",
    "linear",
    "standardise",
    "train",
]
