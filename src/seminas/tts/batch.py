"""What the TTS data side hands the model side: the feature settings and one padded batch.

Both sides import only this module from each other, so the corpus reader (``corpus``,
``features``) and the network (``model``, ``train``) can change independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAD_ID = 0  # padding of character ids; id 1 is the end-of-text mark appended to every input


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel settings (22,050 Hz as LJSpeech; 80 mel bands, hop 256 = 11.6 ms)."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    # natural log of mel power, floored at this power (silence is about log(1e-5) = -11.5)
    floor: float = 1e-5


@dataclass
class TTSBatch:
    """Utterances padded to the longest in the batch.

    - ``text``: (B, N) int64 character ids, ``PAD_ID`` after ``text_lengths[b]``;
    - ``mel``: (B, T, n_mels) float32 log-mel frames, zeros after ``mel_lengths[b]``;
    - ``ids``: the utterance ids (``HS001`` ...), in batch order.
    """

    text: torch.Tensor
    text_lengths: torch.Tensor
    mel: torch.Tensor
    mel_lengths: torch.Tensor
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)
