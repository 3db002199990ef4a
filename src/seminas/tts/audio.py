"""Waveforms from log-mels (Griffin-Lim through librosa) and WAV files (soundfile), so a person
can listen to what a network generates next to the recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seminas.tts.batch import FeatureConfig


def mel_to_wave(log_mel: np.ndarray, cfg: FeatureConfig, iterations: int = 60) -> np.ndarray:
    """Samples from (frames, n_mels) natural-log mel power, by Griffin-Lim (60 iterations as
    the paper code), peak-normalised to 0.95."""
    import librosa

    power = np.exp(np.asarray(log_mel, np.float64)).T
    wave = librosa.feature.inverse.mel_to_audio(
        power, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0, n_iter=iterations,
    )  # fmt: skip
    peak = float(np.abs(wave).max()) or 1.0
    return (0.95 * wave / peak).astype(np.float32)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono WAV."""
    import soundfile

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(wave, np.float32), sample_rate, subtype="PCM_16")
