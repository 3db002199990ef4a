"""A graph neural network over the cell's DAG: a GIN-style encoder and an MLP head.

The encoder follows the Graph Isomorphism Network (Xu et al., "How Powerful are Graph Neural
Networks?", ICLR 2019): each layer updates every vertex from its own state and the *sum* of
its neighbours' states through an MLP, and the graph is read out as the *sum* of its vertices'
states after every layer (concatenated, GIN's readout from all depths). Cells are directed, so a
layer sums predecessors and successors separately:

    h_v <- h_v + MLP([h_v, sum_{u -> v} h_u, sum_{v -> w} h_w])

The input is the one-hot vertex type (:mod:`seminas.predictors.graphs`); padding vertices are
masked out everywhere. Sums over vertices and neighbours do not depend on how the vertices are
numbered, so isomorphic cells get the same prediction (up to floating-point rounding).

Training, losses, free-label pretraining and owned randomness are those of every neural
predictor (:mod:`seminas.predictors.neural`): the trunk is the encoder plus the readout's
hidden layer, the head one linear layer. The defaults are sized for one CPU core and are those of
the NAS-Bench-201 predictor study (``docs/results/nb201-predictor``): 32-wide states, 3 layers,
100 epochs of batches of 64 but at most 300 steps, so a fit on 100 NAS-Bench-201 cells takes
about 0.7 s of one core and one on 300 cells (or on any larger, pseudo-labeled set) about 1.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from seminas.options import Options, opt
from seminas.predictors.graphs import GraphBatch
from seminas.predictors.neural import NeuralPredictor, linear
from seminas.predictors.ranking import ALL_LOSSES


@dataclass(frozen=True)
class GNNParams(Options):
    """The options of :class:`GNNPredictor`, declared and checked (see :mod:`seminas.options`)."""

    hidden: int = opt(32, low=1, doc="vertex state width")
    layers: int = opt(3, low=1, doc="message-passing layers")
    readout_hidden: int = opt(32, low=1, doc="width of the hidden layer after the readout")
    epochs: int = opt(100, low=1, doc="training epochs per fit")
    lr: float = opt(2e-3, above=0, doc="Adam learning rate")
    weight_decay: float = opt(1e-4, low=0, doc="L2 penalty")
    batch_size: int = opt(64, low=1, doc="mini-batch size (at most the training set)")
    loss: str = opt("mse", choices=ALL_LOSSES, doc="training loss: MSE, a ranking loss or "
                    "LambdaRank")
    max_steps: int = opt(300, low=0, doc="gradient steps per fit at most (0: no cap)")
    pretrain_epochs: int = opt(0, low=0, doc="epochs of free-label pretraining (0: none)")
    pretrain_batch_size: int = opt(256, low=1, doc="mini-batch size of pretraining")


class _Layer(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mix = linear(3 * hidden, hidden)
        self.out = linear(hidden, hidden)

    def forward(self, h: torch.Tensor, adj: torch.Tensor, adj_t: torch.Tensor) -> torch.Tensor:
        incoming = torch.bmm(adj_t, h)  # sum over predecessors u -> v
        outgoing = torch.bmm(adj, h)  # sum over successors v -> w
        update = self.out(torch.relu(self.mix(torch.cat([h, incoming, outgoing], -1))))
        return h + torch.relu(update)


class _Encoder(nn.Module):
    """Vertex types -> GIN layers -> sum readout of every depth -> one hidden layer."""

    def __init__(self, num_types: int, hidden: int, layers: int, readout_hidden: int) -> None:
        super().__init__()
        self.embed = linear(num_types, hidden)
        self.layers = nn.ModuleList(_Layer(hidden) for _ in range(layers))
        self.readout = linear(hidden * (layers + 1), readout_hidden)

    def forward(self, adj: torch.Tensor, onehot: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask.unsqueeze(-1)
        h = self.embed(onehot) * keep
        reads = [h.sum(1)]
        adj_t = adj.transpose(1, 2)
        for layer in self.layers:
            h = layer(h, adj, adj_t) * keep
            reads.append(h.sum(1))
        return torch.relu(self.readout(torch.cat(reads, -1)))


class GNNPredictor(NeuralPredictor):
    """``fit(graphs, y)`` / ``predict(graphs)`` on :class:`~seminas.predictors.graphs.GraphBatch`
    rows (``encoding = "graph"``)."""

    Options = GNNParams  # its options, declared (the registry-walking test checks them)
    encoding = "graph"

    def __init__(self, seed: int = 0, params: GNNParams | None = None, **options: Any) -> None:
        from dataclasses import asdict

        from seminas.options import check_keys

        check_keys(GNNParams, options, "the GNN predictor")
        p = GNNParams(**{**asdict(params or GNNParams()), **options})
        self.params = p
        self.hidden = p.hidden
        self.layers = p.layers
        self.readout_hidden = p.readout_hidden
        self.epochs = p.epochs
        self.lr = float(p.lr)
        self.weight_decay = float(p.weight_decay)
        self.batch_size = p.batch_size
        self.loss = p.loss
        self.max_steps = p.max_steps
        self.pretrain_epochs = p.pretrain_epochs
        self.pretrain_batch_size = p.pretrain_batch_size
        self.seed = int(seed)
        self._init_state()

    def _tensors(self, X: Any) -> tuple[torch.Tensor, ...]:
        if not isinstance(X, GraphBatch):
            raise TypeError(
                f"the GNN reads graphs (a GraphBatch: seminas.predictors.encoding.encode_for), "
                f"got {type(X).__name__}"
            )
        types = torch.as_tensor(X.types.astype(np.int64))
        mask = types >= 0
        onehot = torch.zeros((*types.shape, X.num_types), dtype=torch.float32)
        onehot.scatter_(-1, types.clamp(min=0).unsqueeze(-1), 1.0)
        onehot *= mask.unsqueeze(-1)
        adj = torch.as_tensor(X.adjacency, dtype=torch.float32)
        return adj, onehot, mask.to(torch.float32)

    def _layout(self, tensors: tuple[torch.Tensor, ...]) -> tuple[int, int]:
        return int(tensors[1].shape[1]), int(tensors[1].shape[2])

    def _trunk(self, layout: tuple[int, int]) -> tuple[nn.Module, int]:
        _, num_types = layout
        return _Encoder(num_types, self.hidden, self.layers, self.readout_hidden), \
            self.readout_hidden
