"""What the search reads off a TTS network: encoder-decoder attention under teacher forcing,
and autoregressive (free-running) synthesis.

Which attention: the paper code (``utils.select_attn``) takes, per utterance, the head of each
decoder layer whose focus (the sum over decoder steps of the largest weight) is highest, then
the layer whose selected head focuses most -- that is, the (layer, head) of highest focus.
:func:`select_attention` does that on the utterance's real steps and characters;
``layer=i`` takes instead the mean over heads of decoder layer ``i``.

Randomness: both functions run the network in eval mode, where the only random part left is
the mel pre-net's dropout, which stays on at inference (see :mod:`seminas.tts.model`). Its masks
are drawn once per call from a ``torch.Generator`` seeded with ``seed`` (one mask per decoder
step, fixed while the prefix is recomputed), so a call is deterministic for a seed and a batch.

Cost: free-running decoding recomputes the decoder over the whole prefix at every step (the
operations keep no incremental state), O(steps^2) per utterance instead of O(steps) -- a few
times the cost of caching at the tens of steps a CPU search decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seminas.errors import SeminasError
from seminas.tts.batch import PAD_ID, TTSBatch
from seminas.tts.model import TransformerTTS, batch_to


def focus(attention: np.ndarray) -> float:
    """Sum over decoder steps of the largest weight (the paper's focus rate, unnormalised)."""
    return float(attention.max(axis=-1).sum()) if attention.size else 0.0


def select_attention(layers: Sequence[np.ndarray], layer: int | None = None) -> np.ndarray:
    """(steps, T_in) from per-layer weights (heads, steps, T_in) of one utterance: the
    (layer, head) of highest focus (paper code), or the head mean of ``layer``."""
    if layer is not None:
        if not -len(layers) <= layer < len(layers):
            raise SeminasError(
                f"decoder layer {layer} does not exist (the decoder has {len(layers)})"
            )
        return layers[layer].mean(axis=0)
    best, best_focus = layers[0][0], -1.0
    for weights in layers:
        for head in weights:
            f = focus(head)
            if f > best_focus:
                best, best_focus = head, f
    return best


@contextmanager
def _evaluating(model: TransformerTTS):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _generator(model: TransformerTTS, seed: int) -> torch.Generator:
    return torch.Generator(device=model.prenet_out.weight.device).manual_seed(int(seed))


def teacher_forced_attention(
    model: TransformerTTS, arch: Any, batch: TTSBatch, *, seed: int = 0, layer: int | None = None
) -> list[np.ndarray]:
    """Per utterance, the selected encoder-decoder attention (steps, T_in) of a teacher-forced
    pass, trimmed to its ``ceil(frames / r)`` steps and its characters."""
    batch = batch_to(batch, model.prenet_out.weight.device)
    with _evaluating(model):
        out = model(
            batch.text, batch.text_lengths, batch.mel, batch.mel_lengths, arch,
            generator=_generator(model, seed),
        )  # fmt: skip
    r = model.reduction
    layers = [a.cpu().numpy() for a in out.attentions]
    result = []
    for b in range(len(batch)):
        steps = -(-int(batch.mel_lengths[b]) // r)
        chars = int(batch.text_lengths[b])
        result.append(select_attention([w[b, :, :steps, :chars] for w in layers], layer))
    return result


@dataclass
class FreeRunResult:
    """One synthesised utterance.

    ``mel``: (frames, n_mels) after the post-net (``mel_before``: before it), frames =
    ``steps * r``; ``attention``: the selected encoder-decoder attention (steps, T_in);
    ``layers``: every decoder layer's weights (heads, steps, T_in); ``stop_probs``: (steps,);
    ``stopped``: whether the stop probability passed the threshold within ``max_steps``.
    """

    mel: np.ndarray
    mel_before: np.ndarray
    attention: np.ndarray
    layers: list[np.ndarray]
    stop_probs: np.ndarray
    stopped: bool
    steps: int


def _pad_texts(texts: Sequence[Sequence[int] | torch.Tensor], device: torch.device):
    rows = [torch.as_tensor(t, dtype=torch.int64).reshape(-1) for t in texts]
    if not rows or any(len(r) == 0 for r in rows):
        raise SeminasError("free-running synthesis needs at least one non-empty text")
    lengths = torch.tensor([len(r) for r in rows], device=device)
    text = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.int64, device=device)
    for i, r in enumerate(rows):
        text[i, : len(r)] = r
    return text, lengths


def free_running_batch(
    model: TransformerTTS,
    arch: Any,
    texts: Sequence[Sequence[int] | torch.Tensor],
    max_steps: int,
    *,
    seed: int = 0,
    threshold: float = 0.5,
    use_stop: bool = True,
    layer: int | None = None,
) -> list[FreeRunResult]:
    """Synthesise each text (character ids, no padding) autoregressively, batched: an utterance
    stops at the first step whose stop probability exceeds ``threshold`` (when ``use_stop``),
    or after ``max_steps`` steps. ``use_stop=False`` always decodes ``max_steps`` steps (the
    paper code scores the search with the target's length that way)."""
    if max_steps < 1:
        raise SeminasError(f"max_steps must be at least 1, got {max_steps}")
    device = model.prenet_out.weight.device
    text, lengths = _pad_texts(texts, device)
    batch, r = text.shape[0], model.reduction
    with _evaluating(model):
        arch = model.resolve(arch)
        memory, memory_pad = model.encode(text, lengths, arch)
        masks = model.prenet_masks(batch, max_steps, _generator(model, seed))
        inputs = memory.new_zeros(batch, 1, model.n_mels)
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        steps = torch.full((batch,), max_steps, dtype=torch.int64, device=device)
        for t in range(max_steps):
            frames, stop, attentions = model.decode(
                inputs, memory, memory_pad, arch, prenet_masks=masks
            )
            if use_stop:
                hit = (torch.sigmoid(stop[:, t]) > threshold) & ~done
                steps[hit] = t + 1
                done |= hit
                if bool(done.all()):
                    break
            if t + 1 < max_steps:
                inputs = torch.cat([inputs, frames[:, (t + 1) * r - 1 : (t + 1) * r]], dim=1)
        probs = torch.sigmoid(stop).cpu().numpy()
        results = []
        for b in range(batch):
            n, chars = int(steps[b]), int(lengths[b])
            before = frames[b : b + 1, : n * r]
            after = model.apply_postnet(before)[0]
            per_layer = [a[b, :, :n, :chars].cpu().numpy() for a in attentions]
            results.append(
                FreeRunResult(
                    mel=after.cpu().numpy(),
                    mel_before=before[0].cpu().numpy(),
                    attention=select_attention(per_layer, layer),
                    layers=per_layer,
                    stop_probs=probs[b, :n],
                    stopped=bool(done[b]),
                    steps=n,
                )
            )
    return results


def free_running(
    model: TransformerTTS,
    arch: Any,
    text_ids: Sequence[int] | torch.Tensor,
    max_steps: int,
    **options: Any,
) -> FreeRunResult:
    """:func:`free_running_batch` for one text."""
    return free_running_batch(model, arch, [text_ids], max_steps, **options)[0]
