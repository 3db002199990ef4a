"""The SemiNAS / NAO controller: encoder -> embedding -> predictor, and an attention decoder.

Sizes default to the paper's. The encoder maps a token sequence to per-token outputs on the unit
sphere and their (re-normalised) mean, the architecture embedding. The predictor regresses a
standardised accuracy from the embedding; the decoder, started from the embedding and attending
over the encoder outputs, reconstructs the tokens. Moving the encoder outputs along the gradient of
the prediction and decoding yields new architectures that the predictor rates higher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ControllerShape:
    vocab_size: int
    seq_len: int
    embedding_size: int = 64
    hidden_size: int = 64
    mlp_hidden: int = 16
    dropout: float = 0.1
    mlp_dropout: float = 0.1
    # "linear" regresses standardised targets; "sigmoid" squashes the output to (0, 1) for
    # min-max-scaled targets, as the paper's ImageNet controller does
    predictor_output: str = "linear"


class Encoder(nn.Module):
    def __init__(self, shape: ControllerShape) -> None:
        super().__init__()
        self.embedding = nn.Embedding(shape.vocab_size, shape.embedding_size)
        self.dropout = nn.Dropout(shape.dropout)
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
    def __init__(self, shape: ControllerShape) -> None:
        super().__init__()
        self.down = nn.Linear(shape.hidden_size, shape.mlp_hidden)
        self.up = nn.Linear(shape.mlp_hidden, shape.hidden_size)
        self.dropout = nn.Dropout(shape.mlp_dropout)
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
    def __init__(self, shape: ControllerShape) -> None:
        super().__init__()
        self.shape = shape
        self.embedding = nn.Embedding(shape.vocab_size, shape.hidden_size)
        self.dropout = nn.Dropout(shape.dropout)
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
    """Encoder, predictor and decoder trained jointly."""

    def __init__(self, shape: ControllerShape) -> None:
        super().__init__()
        self.shape = shape
        self.encoder = Encoder(shape)
        self.predictor = Predictor(shape)
        self.decoder = Decoder(shape)

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
