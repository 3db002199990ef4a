"""Automatic measures of a TTS network's alignment and output (docs/tts-measures.md).

On one attention matrix ``attn`` (decoder steps x input positions, rows summing to 1), taken
to its real steps and characters, the end-of-text mark left out as in the paper code:

- **diagonal focus rate (DFR)**: the share of attention mass inside the band around the
  diagonal y = k x (x the decoder step, y the input position, k = characters / steps), the band
  being k (x - w) <= y <= k (x + w) with w = min(steps / 5, 50) steps -- one band over the whole
  matrix, not a per-step score;
- **focus rate**: the sum over steps of the largest weight over the total mass (with rows
  summing to 1: the mean largest weight);
- **input coverage**: the mean over characters of the largest weight any step gave it.

These three are the paper code's; :func:`batch_alignment` computes them on a padded batch.

Mel cepstral distortion compares mel-cepstra (an orthonormal DCT of 80-band log-mels, c1..c24;
c0, the energy, left out) along a DTW path: MCD on log-mels, not on a vocoder's mel-cepstra, so
its values are comparable between our networks, not with papers' numbers.

Alignment failure of a free-running synthesis (the stand-in for the paper's robustness error,
which people judged): no stop within twice the expected number of steps; fewer than
:data:`MIN_ATTENDED_SHARE` of the characters attended (given at least :data:`ATTENDED_WEIGHT`
by some step: words skipped, or a synthesis that ends early); or an attention position (the
input position of a step's largest weight, the end mark included) that moves back by more than
:data:`MAX_BACKWARD` or ahead by more than :data:`MAX_FORWARD` positions between two steps
(a word said again, a word skipped).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from seminas.errors import SeminasError

BAND_DIVISOR = 5  # the DFR band's half-width is the number of steps over this ...
MAX_BAND = 50  # ... but at most this many steps (paper code)
ATTENDED_WEIGHT = 0.1  # a character is attended when some step gives it this share or more
MIN_ATTENDED_SHARE = 0.8  # below it, a good part of the text was never attended
MAX_BACKWARD = 3  # positions the attention may move back in one step (a repeated word: more)
MAX_FORWARD = 8  # positions it may jump ahead in one step (a skipped word or more)
MCD_COEFFICIENTS = 24  # mel-cepstra c1..c24 (c0, the frame's energy, left out)
MEASURES = ("dfr", "focus_rate", "coverage")


def band_mask(steps: int, chars: int) -> np.ndarray:
    """(steps, chars) boolean band around the diagonal (see the module docstring)."""
    k = chars / steps
    w = min(steps / BAND_DIVISOR, MAX_BAND)
    x = np.arange(steps)[:, None]
    y = np.arange(chars)[None, :]
    return (y >= k * (x - w)) & (y <= k * (x + w))


def diagonal_focus_rate(attn: np.ndarray) -> float:
    """The share of ``attn``'s mass inside the diagonal band (0 for an empty matrix)."""
    attn = np.asarray(attn, dtype=np.float64)
    total = attn.sum()
    if attn.size == 0 or total <= 0:
        return 0.0
    return float((attn * band_mask(*attn.shape)).sum() / total)


def focus_rate(attn: np.ndarray) -> float:
    """The largest weight of each step, summed, over the total mass."""
    attn = np.asarray(attn, dtype=np.float64)
    total = attn.sum()
    return float(attn.max(axis=1).sum() / total) if attn.size and total > 0 else 0.0


def input_coverage(attn: np.ndarray) -> float:
    """The mean over input positions of the largest weight any step gave it."""
    attn = np.asarray(attn, dtype=np.float64)
    return float(attn.max(axis=0).mean()) if attn.size else 0.0


def attended_share(attn: np.ndarray, min_weight: float = ATTENDED_WEIGHT) -> float:
    """The share of input positions that some step gives at least ``min_weight``."""
    attn = np.asarray(attn, dtype=np.float64)
    return float((attn.max(axis=0) >= min_weight).mean()) if attn.size else 0.0


def without_end_mark(attn: np.ndarray) -> np.ndarray:
    """The attention on the characters only (the last column, the end-of-text mark, dropped;
    kept when it is the only column)."""
    attn = np.asarray(attn)
    return attn[:, :-1] if attn.shape[1] > 1 else attn


def alignment(attn: np.ndarray, end_mark: bool = True) -> dict[str, float]:
    """DFR, focus rate and coverage of one utterance's attention (steps, input positions);
    with ``end_mark`` its last column is the end-of-text mark, which is left out."""
    a = without_end_mark(attn) if end_mark else np.asarray(attn)
    return {"dfr": diagonal_focus_rate(a), "focus_rate": focus_rate(a),
            "coverage": input_coverage(a)}  # fmt: skip


def mean_alignment(attns: Sequence[np.ndarray]) -> dict[str, float]:
    """The measures averaged over utterances (NaN for none)."""
    rows = [alignment(a) for a in attns]
    return {k: float(np.mean([r[k] for r in rows])) if rows else math.nan for k in MEASURES}


def batch_alignment(
    attn: np.ndarray,
    out_lengths: Sequence[int] | np.ndarray,
    in_lengths: Sequence[int] | np.ndarray,
    end_mark: bool = True,
) -> dict[str, np.ndarray]:
    """The three measures, one value per utterance, of a padded (B, T_out, T_in) batch:
    utterance b has ``out_lengths[b]`` decoder steps and ``in_lengths[b]`` input positions
    (the end mark included when ``end_mark``; it is left out as in :func:`alignment`). Weights
    on padding are ignored; the result equals :func:`alignment` on each cropped matrix."""
    a = np.asarray(attn, dtype=np.float64)
    steps = np.asarray(out_lengths, dtype=np.int64)
    chars = np.asarray(in_lengths, dtype=np.int64)
    if end_mark:
        chars = np.where(chars > 1, chars - 1, chars)
    _, t_out, t_in = a.shape
    x = np.arange(t_out)[None, :, None]
    y = np.arange(t_in)[None, None, :]
    live = (x < steps[:, None, None]) & (y < chars[:, None, None])
    a = np.where(live, a, 0.0)
    total = a.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    n_steps = np.maximum(steps, 1).astype(np.float64)[:, None, None]
    k = chars[:, None, None] / n_steps
    w = np.minimum(n_steps / BAND_DIVISOR, MAX_BAND)
    band = (y >= k * (x - w)) & (y <= k * (x + w))
    dfr = (a * band).sum(axis=(1, 2)) / safe
    focus = a.max(axis=2).sum(axis=1) / safe
    coverage = a.max(axis=1).sum(axis=1) / np.maximum(chars, 1)
    empty = total <= 0
    return {"dfr": np.where(empty, 0.0, dfr), "focus_rate": np.where(empty, 0.0, focus),
            "coverage": np.where(empty, 0.0, coverage)}  # fmt: skip


def mel_cepstra(log_mel: np.ndarray, n: int = MCD_COEFFICIENTS) -> np.ndarray:
    """(frames, n) c1..cn of the orthonormal DCT of natural-log mel power frames."""
    from scipy.fft import dct

    return dct(np.asarray(log_mel, np.float64), type=2, norm="ortho", axis=1)[:, 1 : n + 1]


def mel_cepstral_distortion(generated: np.ndarray, recorded: np.ndarray) -> float:
    """MCD (dB) between two (frames, n_mels) natural-log mel power sequences, averaged along
    their DTW path (the frame counts may differ); NaN when either is empty."""
    import librosa

    a, b = mel_cepstra(generated), mel_cepstra(recorded)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    a, b = a / 2, b / 2  # cepstra of log power -> of log amplitude, as the MCD formula wants
    _, path = librosa.sequence.dtw(X=a.T, Y=b.T, metric="euclidean")
    diff = a[path[:, 0]] - b[path[:, 1]]
    return float(np.mean((10 / math.log(10)) * np.sqrt(2 * (diff**2).sum(axis=1))))


def alignment_failure(
    attn: np.ndarray, stopped: bool, steps: int, expected_steps: float
) -> list[str]:
    """Why a free-running synthesis failed (empty: it did not); see the module docstring.
    ``attn`` is its attention (steps, input positions, the end mark last), ``stopped`` whether
    the stop token fired within its ``steps`` steps, ``expected_steps`` the steps its input
    should take (e.g. the recording's frames over the frames per step)."""
    reasons = []
    if not stopped or steps > 2 * expected_steps:
        reasons.append("no stop within twice the expected length")
    full = np.asarray(attn)
    chars = without_end_mark(full)
    if chars.size and attended_share(chars) < MIN_ATTENDED_SHARE:
        reasons.append(f"fewer than {MIN_ATTENDED_SHARE:.0%} of the characters attended")
    if full.shape[0] > 1:
        moves = np.diff(full.argmax(axis=1))
        if (moves < -MAX_BACKWARD).any():
            reasons.append(f"attention moved back more than {MAX_BACKWARD} positions")
        if (moves > MAX_FORWARD).any():
            reasons.append(f"attention jumped ahead more than {MAX_FORWARD} positions")
    return reasons


def words(text: str) -> list[str]:
    """``text``'s words for WER: lowercased, punctuation dropped (apostrophes kept)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance (substitutions, insertions, deletions) over the
    reference's word count; an empty reference gives the hypothesis's word count."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(len(ref), 1)


class PocketsphinxTranscriber:
    """An off-the-shelf English recogniser (pocketsphinx's bundled en-us model) for a WER of
    generated speech. Optional: pocketsphinx is not a dependency. Worth it on LJSpeech only --
    on the espeak corpus it gets WER 0.91 on the recordings themselves."""

    RATE = 16000  # the bundled acoustic model's sample rate

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise SeminasError("pocketsphinx is not installed: pip install pocketsphinx "
                               "(an optional English recogniser for WER)") from None  # fmt: skip
        self._decoder = Decoder(samprate=self.RATE, loglevel="FATAL")

    def __call__(self, wave: np.ndarray, sample_rate: int) -> str:
        """The recognised words of ``wave`` (float samples in [-1, 1] at ``sample_rate``)."""
        import soxr

        wave = np.asarray(wave, np.float32)
        if sample_rate != self.RATE:
            wave = soxr.resample(wave, sample_rate, self.RATE)
        pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""
