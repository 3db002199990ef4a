"""The 11 candidate operations of the TTS space as layers on ``(B, T, hidden)``.

Each operation is a whole pre-LayerNorm residual block, as in the paper code
(``tts/operations.py``): ``x + Dropout(op(LayerNorm(x)))``. Self-attention blocks carry their own
position-wise feed-forward block (a convolution of kernel 9 to ``4 * hidden`` channels, ReLU,
a linear layer back), the convolution and LSTM blocks have none. Encoder variants see the whole
sentence: centred convolutions, unmasked self-attention, a bidirectional LSTM (``hidden`` units
per direction and a linear layer back to ``hidden``, as the paper code). Decoder variants are
causal: convolutions padded on the left only, self-attention with a future mask, a
unidirectional LSTM, so that step ``t`` sees only steps ``<= t``.

``pad_mask`` (B, T) is True at padding. Encoder blocks zero padded positions before anything
that mixes positions (convolution, LSTM via packing, attention keys), so the outputs at real
positions do not depend on how much padding follows; every block returns zeros at padding.
Decoder blocks need no mask for that: padding comes after the real steps and causality keeps
it out of them.

Free-running decoding recomputes the decoder over the whole prefix at each step (see
:mod:`seminas.tts.inference`), so no block keeps incremental state: that costs O(T^2) per
utterance instead of O(T), negligible at the search's sizes (tens of decoder steps, hidden 64).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seminas.spaces.tts import op_kind


def _zero_pad(x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
    return x if pad_mask is None else x.masked_fill(pad_mask.unsqueeze(-1), 0.0)


class Conv1dTime(nn.Module):
    """A 1-d convolution over time on (B, T, C): centred, or causal (left padding only)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, causal: bool, bias: bool = True):
        super().__init__()
        self.kernel = kernel
        self.causal = causal
        self.conv = nn.Conv1d(c_in, c_out, kernel, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = self.kernel - 1 if self.causal else (self.kernel - 1) // 2
        right = 0 if self.causal else self.kernel - 1 - left
        y = F.pad(x.transpose(1, 2), (left, right))
        return self.conv(y).transpose(1, 2)


class ConvBlock(nn.Module):
    """LayerNorm, convolution, ReLU, dropout, residual."""

    def __init__(self, hidden: int, kernel: int, causal: bool, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.conv = Conv1dTime(hidden, hidden, kernel, causal)
        # the paper code's initialisation (ConvS2S): variance 4 (1 - p) / (k * c)
        std = math.sqrt(4 * (1.0 - dropout) / (kernel * hidden))
        nn.init.normal_(self.conv.conv.weight, mean=0.0, std=std)
        nn.init.zeros_(self.conv.conv.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.conv(_zero_pad(self.norm(x), pad_mask))
        return _zero_pad(x + self.dropout(F.relu(y)), pad_mask)


class FeedForward(nn.Module):
    """Convolution (kernel ``kernel``) to ``4 * hidden`` channels, ReLU, linear back."""

    def __init__(self, hidden: int, kernel: int, causal: bool, dropout: float):
        super().__init__()
        self.inner = Conv1dTime(hidden, 4 * hidden, kernel, causal)
        self.outer = nn.Linear(4 * hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        return self.outer(self.dropout(F.relu(self.inner(_zero_pad(x, pad_mask)))))


def causal_mask(steps: int, device: torch.device) -> torch.Tensor:
    """(steps, steps) bool, True where a query step would see a later step."""
    return torch.ones(steps, steps, dtype=torch.bool, device=device).triu(1)


class AttentionBlock(nn.Module):
    """Self-attention block, then a feed-forward block (both pre-LayerNorm, residual)."""

    def __init__(self, hidden: int, heads: int, causal: bool, dropout: float, ffn_kernel: int = 9):
        super().__init__()
        self.causal = causal
        self.norm1 = nn.LayerNorm(hidden)
        self.attention = nn.MultiheadAttention(
            hidden, heads, dropout=dropout, bias=False, batch_first=True
        )
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = FeedForward(hidden, ffn_kernel, causal, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.norm1(x)
        if self.causal:
            a, _ = self.attention(
                y, y, y, attn_mask=causal_mask(x.shape[1], x.device), need_weights=False
            )
        else:
            a, _ = self.attention(y, y, y, key_padding_mask=pad_mask, need_weights=False)
        x = _zero_pad(x + self.dropout(a), pad_mask)
        x = x + self.dropout(self.ffn(self.norm2(x), pad_mask))
        return _zero_pad(x, pad_mask)


class LSTMBlock(nn.Module):
    """LayerNorm, LSTM (bidirectional in the encoder, with a linear layer back to ``hidden``),
    dropout, residual."""

    def __init__(self, hidden: int, causal: bool, dropout: float):
        super().__init__()
        self.bidirectional = not causal
        self.norm = nn.LayerNorm(hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=self.bidirectional)
        self.project = nn.Linear(2 * hidden, hidden) if self.bidirectional else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.norm(x)
        if self.bidirectional and pad_mask is not None:
            lengths = (~pad_mask).sum(1).cpu()
            packed = pack_padded_sequence(y, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            y, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        else:
            y, _ = self.lstm(y)
        if self.project is not None:
            y = self.project(y)
        return _zero_pad(x + self.dropout(y), pad_mask)


def make_op(name: str, hidden: int, causal: bool, dropout: float, ffn_kernel: int = 9) -> nn.Module:
    """The block for operation ``name`` of :data:`seminas.spaces.tts.OPS`."""
    kind, value = op_kind(name)
    if kind == "conv":
        return ConvBlock(hidden, value, causal, dropout)
    if kind == "attention":
        return AttentionBlock(hidden, value, causal, dropout, ffn_kernel)
    return LSTMBlock(hidden, causal, dropout)


class CrossAttentionBlock(nn.Module):
    """The fixed (not searched) encoder-decoder attention of a decoder layer: LayerNorm,
    multi-head attention over the encoder output, dropout, residual. Returns the per-head
    weights (B, heads, T_dec, T_in), from which the diagonal focus rate is computed."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.attention = nn.MultiheadAttention(
            hidden, heads, dropout=dropout, bias=False, batch_first=True
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_pad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        a, weights = self.attention(
            self.norm(x),
            memory,
            memory,
            key_padding_mask=memory_pad,
            need_weights=True,
            average_attn_weights=False,
        )
        return x + self.dropout(a), weights
