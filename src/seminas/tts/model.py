"""Transformer-TTS whose 6 encoder and 6 decoder layers are searched: one class for both the
weight-sharing supernet and a standalone network of one architecture.

Layout (hidden size ``hidden``; the search uses 64 and the paper code's final model 256):

- encoder: character embedding (times sqrt(hidden)), an encoder pre-net (``encoder_prenet``
  centred convolutions of kernel 5 with ReLU, then a linear layer, as Transformer-TTS; the
  paper code has none, ``encoder_prenet=0``), sinusoidal positions times a learned scale, the
  6 searched layers (:mod:`seminas.tts.ops`), a final LayerNorm;
- decoder: the mel pre-net of the paper code (linear to ``prenet_hidden``, ReLU, dropout 0.5,
  twice, then a linear layer to ``hidden`` and ReLU; its dropout stays on at inference, as in
  Tacotron and the paper code), sinusoidal positions times a learned scale, 6 decoder layers,
  a final LayerNorm, a linear layer to ``reduction`` frames and one to a stop logit per step,
  and a post-net (``postnet`` convolutions of kernel 5 with tanh, residual; the paper code has
  none, ``postnet=0``).
- decoder layer: the searched causal operation, then the fixed encoder-decoder attention
  (``attn_heads`` heads, default 2, the heads of the baseline's operation) -- one attention per
  decoder layer, shared by all 11 operations of the supernet's layer. The paper code gives each
  operation its own attention (1 head for convolutions and LSTM); sharing it trains the
  attention at every step instead of 1 step in 11, which is what makes alignment learnable
  in a CPU-sized search. A self-attention operation's feed-forward block therefore comes before
  the encoder-decoder attention here, not after as in the paper code.

Reduction factor ``reduction`` (r): each decoder step emits r frames and reads the last frame
of the previous step (zeros at step 0). The paper uses r = 1; the default here is 4 (about 46 ms
per step at hop 256, close to one character per step), which a CPU-sized model can align.

A supernet (``supernet=True``) holds all 11 operations at every layer and runs the path of the
``arch`` given to :meth:`TransformerTTS.forward`; a standalone network holds only its own. The
parameter names are the same in both (``...layers.3.ops.k9...``), so :func:`inherit` copies a
path by name and computes exactly what the supernet computes on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seminas.errors import SeminasError
from seminas.spaces.tts import OPS, TTSArch, TTSSpace
from seminas.tts.batch import PAD_ID, TTSBatch
from seminas.tts.ops import Conv1dTime, CrossAttentionBlock, make_op

SEARCH_HIDDEN = 64  # the paper's supernet
FINAL_HIDDEN = 256  # the paper code's final (standalone) model
_SPACE = TTSSpace()


def sinusoid(steps: int, dim: int, device: torch.device) -> torch.Tensor:
    """(steps, dim) sine/cosine positions (the tensor2tensor layout: sines, then cosines)."""
    half = dim // 2
    rate = torch.exp(
        torch.arange(half, dtype=torch.float32, device=device)
        * -(math.log(10000.0) / max(1, half - 1))
    )
    angle = torch.arange(steps, dtype=torch.float32, device=device)[:, None] * rate[None, :]
    out = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
    return F.pad(out, (0, dim - 2 * half))


def lengths_to_pad(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, steps) bool, True from ``lengths[b]`` on."""
    return torch.arange(steps, device=lengths.device)[None, :] >= lengths[:, None]


@dataclass
class TTSOutput:
    """One teacher-forced (or prefix) pass.

    ``mel_before``/``mel_after``: (B, S * r, n_mels) frames before and after the post-net;
    ``stop_logits``: (B, S), one per decoder step; ``attentions``: per decoder layer, the
    encoder-decoder attention weights (B, heads, S, N).
    """

    mel_before: torch.Tensor
    mel_after: torch.Tensor
    stop_logits: torch.Tensor
    attentions: list[torch.Tensor] = field(default_factory=list)


class SearchedLayer(nn.Module):
    """One searchable position: all operations (supernet) or one, keyed by name."""

    def __init__(
        self, names: tuple[str, ...], hidden: int, causal: bool, dropout: float, ffn_kernel: int
    ):
        super().__init__()
        self.ops = nn.ModuleDict(
            {n: make_op(n, hidden, causal, dropout, ffn_kernel) for n in names}
        )

    def forward(self, x: torch.Tensor, op: str, pad_mask: torch.Tensor | None) -> torch.Tensor:
        return self.ops[op](x, pad_mask)


class DecoderLayer(nn.Module):
    """A searched causal operation, then the fixed encoder-decoder attention."""

    def __init__(
        self, names: tuple[str, ...], hidden: int, heads: int, dropout: float, ffn_kernel: int
    ):
        super().__init__()
        self.ops = nn.ModuleDict({n: make_op(n, hidden, True, dropout, ffn_kernel) for n in names})
        self.cross = CrossAttentionBlock(hidden, heads, dropout)

    def forward(
        self, x: torch.Tensor, op: str, memory: torch.Tensor, memory_pad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cross(self.ops[op](x, None), memory, memory_pad)


class TransformerTTS(nn.Module):
    """See the module docstring. ``arch`` (a :class:`TTSArch`, its string, or 12 op names) is
    required for a standalone network and must be left out of a supernet's constructor."""

    def __init__(
        self,
        vocab_size: int,
        n_mels: int = 80,
        hidden: int = SEARCH_HIDDEN,
        reduction: int = 4,
        supernet: bool = False,
        arch: Any = None,
        *,
        attn_heads: int = 2,
        prenet_hidden: int = 32,
        prenet_dropout: float = 0.5,
        encoder_prenet: int = 3,
        postnet: int = 5,
        dropout: float = 0.1,
        ffn_kernel: int = 9,
    ) -> None:
        super().__init__()
        if vocab_size < 2 or n_mels < 1 or reduction < 1:
            raise SeminasError(
                f"invalid TTS model sizes vocab_size={vocab_size}, n_mels={n_mels}, "
                f"reduction={reduction}: need vocab_size >= 2, n_mels >= 1, reduction >= 1"
            )
        if hidden % 8 or hidden % attn_heads:
            raise SeminasError(
                f"hidden size {hidden} must be a multiple of 8 (the most heads an operation has) "
                f"and of attn_heads={attn_heads}"
            )
        if supernet == (arch is not None):
            raise SeminasError(
                "a TTS supernet takes no arch (give it to forward); a standalone network needs one"
            )
        self.arch = None if supernet else _SPACE.validate(arch)
        self.supernet = supernet
        self.config: dict[str, Any] = dict(
            vocab_size=vocab_size, n_mels=n_mels, hidden=hidden, reduction=reduction,
            attn_heads=attn_heads, prenet_hidden=prenet_hidden, prenet_dropout=prenet_dropout,
            encoder_prenet=encoder_prenet, postnet=postnet, dropout=dropout, ffn_kernel=ffn_kernel,
        )  # fmt: skip
        self.n_mels, self.hidden, self.reduction = n_mels, hidden, reduction
        self.prenet_dropout = prenet_dropout
        # the mel pre-net's dropout also at inference (Tacotron, paper code); tests may turn it off
        self.prenet_dropout_at_inference = True

        def names(i: int) -> tuple[str, ...]:
            return OPS if self.arch is None else (self.arch.ops[i],)

        # -- encoder
        self.embedding = nn.Embedding(vocab_size, hidden, padding_idx=PAD_ID)
        nn.init.normal_(self.embedding.weight, 0.0, hidden**-0.5)
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.encoder_prenet = nn.ModuleList(
            Conv1dTime(hidden, hidden, 5, causal=False) for _ in range(encoder_prenet)
        )
        self.encoder_prenet_out = nn.Linear(hidden, hidden) if encoder_prenet else None
        self.encoder_alpha = nn.Parameter(torch.ones(1))
        self.encoder_layers = nn.ModuleList(
            SearchedLayer(names(i), hidden, False, dropout, ffn_kernel) for i in range(6)
        )
        self.encoder_norm = nn.LayerNorm(hidden)
        # -- decoder
        self.prenet = nn.ModuleList(
            [nn.Linear(n_mels, prenet_hidden), nn.Linear(prenet_hidden, prenet_hidden)]
        )
        self.prenet_out = nn.Linear(prenet_hidden, hidden, bias=False)
        self.decoder_alpha = nn.Parameter(torch.ones(1))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(names(6 + i), hidden, attn_heads, dropout, ffn_kernel) for i in range(6)
        )
        self.decoder_norm = nn.LayerNorm(hidden)
        self.mel_out = nn.Linear(hidden, reduction * n_mels)
        self.stop_out = nn.Linear(hidden, 1)
        chans = [n_mels] + [hidden] * (postnet - 1) + [n_mels] if postnet else []
        self.postnet = nn.ModuleList(
            Conv1dTime(chans[i], chans[i + 1], 5, causal=False) for i in range(len(chans) - 1)
        )
        self.dropout = nn.Dropout(dropout)

    # -- architecture ------------------------------------------------------------------------
    def resolve(self, arch: Any = None) -> TTSArch:
        """The path to run: ``arch`` (validated), or a standalone network's own."""
        if arch is None:
            if self.arch is None:
                raise SeminasError("a TTS supernet needs the arch whose path to run")
            return self.arch
        arch = _SPACE.validate(arch)
        if self.arch is not None and arch != self.arch:
            raise SeminasError(
                f"this network is {self.arch}; it cannot run {arch} (use a supernet for that)"
            )
        return arch

    # -- encoder -----------------------------------------------------------------------------
    def encode(
        self, text: torch.Tensor, text_lengths: torch.Tensor, arch: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(memory (B, N, hidden), pad mask (B, N)) of padded character ids."""
        ops = self.resolve(arch).encoder
        if text.numel() and (
            int(text.max()) >= self.embedding.num_embeddings or int(text.min()) < 0
        ):
            raise SeminasError(
                f"character ids must lie in 0..{self.embedding.num_embeddings - 1} (the model's "
                f"vocab_size), got {int(text.min())}..{int(text.max())}: build the model with "
                f"the text module's vocab_size"
            )
        pad = lengths_to_pad(text_lengths.to(text.device), text.shape[1])
        x = self.embedding(text) * math.sqrt(self.hidden)
        for conv in self.encoder_prenet:
            x = self.dropout(F.relu(conv(x.masked_fill(pad.unsqueeze(-1), 0.0))))
        if self.encoder_prenet_out is not None:
            x = self.encoder_prenet_out(x)
        x = x + self.encoder_alpha * sinusoid(x.shape[1], self.hidden, x.device)
        x = self.dropout(x).masked_fill(pad.unsqueeze(-1), 0.0)
        for layer, op in zip(self.encoder_layers, ops, strict=True):
            x = layer(x, op, pad)
        return self.encoder_norm(x).masked_fill(pad.unsqueeze(-1), 0.0), pad

    # -- decoder -----------------------------------------------------------------------------
    def prenet_masks(
        self, batch: int, steps: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mel pre-net's two dropout masks for ``steps`` steps (already scaled by
        1 / (1 - p)), drawn from ``generator`` -- so free-running decoding can fix each step's
        mask once and stay deterministic for a seed."""
        p = self.prenet_dropout
        shape = (batch, steps, self.prenet[0].out_features)
        device = self.prenet_out.weight.device
        return tuple(  # type: ignore[return-value]
            (torch.rand(shape, generator=generator, device=device) >= p).float() / (1.0 - p)
            for _ in range(2)
        )

    def decoder_inputs(self, mel: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing inputs (B, S, n_mels): zeros, then the last frame of each step."""
        steps = math.ceil(mel.shape[1] / self.reduction)
        mel = F.pad(mel, (0, 0, 0, steps * self.reduction - mel.shape[1]))
        last = mel[:, self.reduction - 1 :: self.reduction][:, : steps - 1]
        return torch.cat([mel.new_zeros(mel.shape[0], 1, mel.shape[2]), last], dim=1)

    def decode(
        self,
        inputs: torch.Tensor,
        memory: torch.Tensor,
        memory_pad: torch.Tensor,
        arch: Any = None,
        prenet_masks: tuple[torch.Tensor, torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Causal decoder over input frames (B, S, n_mels): (frames (B, S * r, n_mels) before
        the post-net, stop logits (B, S), per-layer attention (B, heads, S, N))."""
        ops = self.resolve(arch).decoder
        batch, steps = inputs.shape[:2]
        nonzero = inputs.abs().sum(-1, keepdim=True).ne(0).float()  # the go frame gives 0
        use_dropout = self.training or self.prenet_dropout_at_inference
        if use_dropout and prenet_masks is None:
            prenet_masks = self.prenet_masks(batch, steps, generator)
        x = inputs
        for i, linear in enumerate(self.prenet):
            x = F.relu(linear(x))
            if use_dropout:
                x = x * prenet_masks[i][:, :steps]  # type: ignore[index]
        x = F.relu(self.prenet_out(x)) * nonzero
        x = x + self.decoder_alpha * sinusoid(steps, self.hidden, x.device)
        x = self.dropout(x)
        attentions = []
        for layer, op in zip(self.decoder_layers, ops, strict=True):
            x, weights = layer(x, op, memory, memory_pad)
            attentions.append(weights)
        x = self.decoder_norm(x)
        frames = self.mel_out(x).reshape(batch, steps * self.reduction, self.n_mels)
        return frames, self.stop_out(x).squeeze(-1), attentions

    def apply_postnet(
        self, frames: torch.Tensor, frame_pad: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Residual post-net over whole utterances (B, T, n_mels); padded frames are zeroed
        first so they do not reach real ones."""
        if not self.postnet:
            return frames
        x = frames if frame_pad is None else frames.masked_fill(frame_pad.unsqueeze(-1), 0.0)
        y = x
        for i, conv in enumerate(self.postnet):
            y = conv(y)
            if i < len(self.postnet) - 1:
                y = self.dropout(torch.tanh(y))
        return x + y

    # -- teacher forcing ---------------------------------------------------------------------
    def forward(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        mel: torch.Tensor,
        mel_lengths: torch.Tensor,
        arch: Any = None,
        *,
        prenet_masks: tuple[torch.Tensor, torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> TTSOutput:
        """Teacher-forced pass over a padded batch (see :class:`seminas.tts.batch.TTSBatch`)."""
        arch = self.resolve(arch)
        memory, memory_pad = self.encode(text, text_lengths, arch)
        inputs = self.decoder_inputs(mel)
        frames, stop, attentions = self.decode(
            inputs, memory, memory_pad, arch, prenet_masks=prenet_masks, generator=generator
        )
        frame_pad = lengths_to_pad(mel_lengths.to(frames.device), frames.shape[1])
        return TTSOutput(frames, self.apply_postnet(frames, frame_pad), stop, attentions)


def batch_to(batch: TTSBatch, device: torch.device) -> TTSBatch:
    """``batch`` with its tensors on ``device`` (itself when they are there already)."""
    if batch.text.device == torch.device(device):
        return batch
    return TTSBatch(
        batch.text.to(device),
        batch.text_lengths.to(device),
        batch.mel.to(device),
        batch.mel_lengths.to(device),
        list(batch.ids),
    )


def inherit(supernet: TransformerTTS, arch: Any) -> TransformerTTS:
    """A standalone network of ``arch`` holding the supernet's weights of that path (it computes
    exactly what the supernet computes on the path), in the supernet's train/eval mode."""
    if not supernet.supernet:
        raise SeminasError("inherit needs a supernet (a TransformerTTS built with supernet=True)")
    child = TransformerTTS(**supernet.config, arch=_SPACE.validate(arch))
    source = supernet.state_dict()
    child.load_state_dict({k: source[k].clone() for k in child.state_dict()})
    child.prenet_dropout_at_inference = supernet.prenet_dropout_at_inference
    child.train(supernet.training)
    return child.to(next(supernet.parameters()).device)
