"""The SemiNAS / NAO controller: encoder -> embedding -> predictor, and an attention decoder.

Sizes default to the paper's. The encoder maps a token sequence to per-token outputs on the unit
sphere and their (re-normalised) mean, the architecture embedding. The predictor regresses a
standardised accuracy from the embedding; the decoder, started from the embedding and attending
over the encoder outputs, reconstructs the tokens. Moving the encoder outputs along the gradient of
the prediction and decoding yields new architectures that the predictor rates higher.

Randomness: a controller draws its initial weights and its dropout masks from the
``torch.Generator`` it is given (the search's own, see :mod:`seminas.randomness`), never from
torch's global generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seminas.options import Options, opt
from seminas.randomness import drawing_from

PREDICTOR_OUTPUTS = ("linear", "sigmoid")


@dataclass(frozen=True)
class ControllerShape(Options):
    vocab_size: int = opt(low=2, doc="tokens of the space's encoding (0 is the start token)")
    seq_len: int = opt(low=1, doc="tokens per architecture")
    embedding_size: int = opt(64, low=1, doc="token embedding width")
    hidden_size: int = opt(64, low=1, doc="LSTM width")
    mlp_hidden: int = opt(16, low=1, doc="width of the predictor's hidden layer")
    dropout: float = opt(0.1, low=0, below=1, doc="encoder and decoder dropout")
    mlp_dropout: float = opt(0.1, low=0, below=1, doc="predictor dropout")
    # "linear" regresses standardised targets; "sigmoid" squashes the output to (0, 1) for
    # min-max-scaled targets, as the paper's ImageNet controller does
    predictor_output: str = opt("linear", choices=PREDICTOR_OUTPUTS, doc="predictor's last layer")


class Dropout(nn.Module):
    """Dropout whose masks come from a given generator (``nn.Dropout`` draws from torch's global
    one). The arithmetic is torch's CPU dropout: a Bernoulli(1 - p) mask scaled by 1 / (1 - p),
    so for the same generator state the output equals ``nn.Dropout``'s bit for bit."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator).div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Encoder(nn.Module):
    def __init__(self, shape: ControllerShape, generator: torch.Generator) -> None:
        super().__init__()
        self.embedding = nn.Embedding(shape.vocab_size, shape.embedding_size)
        self.dropout = Dropout(shape.dropout, generator)
        self.lstm = nn.LSTM(
            shape.embedding_size, shape.hidden_size, batch_first=True, bidirectional=True
        )
        self.project = nn.Linear(2 * shape.hidden_size, shape.embedding_size)
        if shape.embedding_size != shape.hidden_size:
            raise ValueError("the residual needs embedding_size == hidden_size")

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = self.dropout(self.embedding(tokens))
        outputs, _ = self.lstm(embedded)
        outputs = F.normalize(self.project(outputs) + embedded, dim=-1)
        return outputs, arch_embedding(outputs)


def arch_embedding(outputs: torch.Tensor) -> torch.Tensor:
    return F.normalize(outputs.mean(dim=1), dim=-1)


class Predictor(nn.Module):
    def __init__(self, shape: ControllerShape, generator: torch.Generator) -> None:
        super().__init__()
        self.down = nn.Linear(shape.hidden_size, shape.mlp_hidden)
        self.up = nn.Linear(shape.mlp_hidden, shape.hidden_size)
        self.dropout = Dropout(shape.mlp_dropout, generator)
        self.out = nn.Linear(shape.hidden_size, 1)
        if shape.predictor_output not in ("linear", "sigmoid"):
            raise ValueError(f"predictor_output must be 'linear' or 'sigmoid', got "
                             f"{shape.predictor_output!r}")
        self.sigmoid = shape.predictor_output == "sigmoid"

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        h = self.dropout(F.relu(self.down(embedding)))
        h = self.dropout(F.relu(self.up(h)))
        h = (h + embedding) * math.sqrt(0.5)
        out = self.out(h).squeeze(-1)
        return torch.sigmoid(out) if self.sigmoid else out


class Decoder(nn.Module):
    def __init__(self, shape: ControllerShape, generator: torch.Generator) -> None:
        super().__init__()
        self.shape = shape
        self.embedding = nn.Embedding(shape.vocab_size, shape.hidden_size)
        self.dropout = Dropout(shape.dropout, generator)
        self.lstm = nn.LSTM(shape.hidden_size, shape.hidden_size, batch_first=True)
        self.combine = nn.Linear(2 * shape.hidden_size, shape.hidden_size)
        self.out = nn.Linear(shape.hidden_size, shape.vocab_size)

    def _step_logits(self, dec_out: torch.Tensor, enc_out: torch.Tensor) -> torch.Tensor:
        scores = torch.bmm(dec_out, enc_out.transpose(1, 2))
        context = torch.bmm(torch.softmax(scores, dim=-1), enc_out)
        combined = torch.tanh(self.combine(torch.cat([context, dec_out], dim=-1)))
        return self.out(combined)

    def forward(
        self, enc_out: torch.Tensor, arch_emb: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced log-probabilities ``[batch, seq_len, vocab]``."""
        start = torch.zeros_like(targets[:, :1])
        inputs = torch.cat([start, targets[:, :-1]], dim=1)
        state = (arch_emb.unsqueeze(0).contiguous(), arch_emb.unsqueeze(0).contiguous())
        dec_out, _ = self.lstm(self.dropout(self.embedding(inputs)), state)
        return F.log_softmax(self._step_logits(dec_out, enc_out), dim=-1)

    @torch.no_grad()
    def greedy(
        self, enc_out: torch.Tensor, arch_emb: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Greedy decoding restricted to ``mask[position]`` (bool ``[seq_len, vocab]``)."""
        batch = enc_out.shape[0]
        token = torch.zeros(batch, 1, dtype=torch.long)
        state = (arch_emb.unsqueeze(0).contiguous(), arch_emb.unsqueeze(0).contiguous())
        blocked = ~mask
        out = []
        for pos in range(self.shape.seq_len):
            dec_out, state = self.lstm(self.embedding(token), state)
            logits = self._step_logits(dec_out, enc_out)[:, 0]
            logits = logits.masked_fill(blocked[pos], float("-inf"))
            token = logits.argmax(dim=-1, keepdim=True)
            out.append(token)
        return torch.cat(out, dim=1)


class Controller(nn.Module):
    """Encoder, predictor and decoder trained jointly.

    ``generator`` supplies the initial weights (torch's default initialisation, drawn from its
    stream) and every dropout mask; without one, a fresh generator seeded with 0.
    """

    def __init__(self, shape: ControllerShape, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.shape = shape
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        with drawing_from(self.generator):
            self.encoder = Encoder(shape, self.generator)
            self.predictor = Predictor(shape, self.generator)
            self.decoder = Decoder(shape, self.generator)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised prediction ``[batch]`` and reconstruction log-probs."""
        enc_out, emb = self.encoder(tokens)
        return self.predictor(emb), self.decoder(enc_out, emb, tokens)

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor) -> torch.Tensor:
        _, emb = self.encoder(tokens)
        return self.predictor(emb)

    def ascend(
        self, tokens: torch.Tensor, step_sizes: list[float], mask: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """For each step size: decoded tokens and the predicted score after moving the encoder
        outputs by ``step * d(prediction)/d(outputs)`` (gradient taken once, at the seeds)."""
        enc_out, _ = self.encoder(tokens)
        enc_out = enc_out.detach().requires_grad_(True)
        score = self.predictor(arch_embedding(enc_out))
        (grad,) = torch.autograd.grad(score.sum(), enc_out)
        results = []
        with torch.no_grad():
            for step in step_sizes:
                moved = F.normalize(enc_out + step * grad, dim=-1)
                emb = arch_embedding(moved)
                results.append((self.decoder.greedy(moved, emb, mask), self.predictor(emb)))
        return results
