"""An architecture's alignment on a set of utterances: DFR, focus rate and input coverage,
averaged over utterances, from a free-running pass for each utterance's true number of decoder
steps (the stop token ignored; the paper code's search score) or a teacher-forced pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seminas.tts.batch import TTSBatch
from seminas.tts.inference import free_running_batch, select_attention, teacher_forced_attention
from seminas.tts.metrics import mean_alignment


def attentions(model: Any, arch: Any, batches: Sequence[TTSBatch], mode: str, seed: int = 0):
    """Per utterance, the selected attention (steps, characters)."""
    r = model.reduction
    out = []
    for batch in batches:
        if mode == "teacher":
            out.extend(teacher_forced_attention(model, arch, batch, seed=seed))
            continue
        steps = [-(-int(n) // r) for n in batch.mel_lengths]
        texts = [batch.text[b, : int(batch.text_lengths[b])] for b in range(len(batch))]
        results = free_running_batch(model, arch, texts, max(steps), seed=seed, use_stop=False)
        for res, n in zip(results, steps, strict=False):
            out.append(select_attention([layer[:, :n] for layer in res.layers]))
    return out


def alignment_scores(
    model: Any, arch: Any, batches: Sequence[TTSBatch], mode: str = "free", seed: int = 0
) -> dict[str, float]:
    """Mean DFR, focus rate and coverage of ``arch`` on ``batches``."""
    return mean_alignment(attentions(model, arch, batches, mode, seed))
