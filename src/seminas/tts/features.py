"""Log-mel features of a corpus, computed once and cached, normalised with training statistics,
and served as length-bucketed :class:`~seminas.tts.batch.TTSBatch`es.

- Log-mel: ``librosa.feature.melspectrogram`` (power, :class:`FeatureConfig`), natural log of
  the power floored at ``floor``, shape (frames, n_mels). Leading and trailing silence is
  trimmed first with ``librosa.effects.trim`` (top_db 23, as the paper code's preprocessing):
  the espeak recordings end in about 390 ms of silence (14 % of a clip), which would teach the
  stop token to fire late and inflate every expected length.
- Normalisation: per mel band, mean and standard deviation over the training frames only, so
  nothing of the validation or test recordings leaks into training.
- Cache: one ``.npz`` per (corpus, settings) in the directory passed in, named by a hash of the
  corpus directory, every wav's name, size and modification time, the sample rate and the
  settings; it holds the raw (unnormalised) log-mels of every utterance computed so far, so
  another split of the same corpus computes only what is missing. A changed wav gets a new file.
- Batches: utterances sorted by length and cut into batches, then the batch order and the order
  inside each batch shuffled with the seed: little padding, deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from seminas.progress import NO_PROGRESS, Progress
from seminas.tts.batch import PAD_ID, FeatureConfig, TTSBatch
from seminas.tts.corpus import Corpus, Splits, Utterance
from seminas.tts.text import text_to_ids

TRIM_TOP_DB = 23.0  # decibels below the loudest frame that count as silence (paper code: 23)
TRIM_FRAME, TRIM_HOP = 1024, 256  # the trim's analysis frames: our mel frames (paper: 512/128)
MIN_STD = 1e-3  # a band's standard deviation is floored here (a constant band divides by it)
SPLIT_NAMES = ("train", "validation", "test")


def log_mel(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(frames, n_mels) natural-log mel power of ``wave`` (samples at ``cfg.sample_rate``)."""
    import librosa

    power = librosa.feature.melspectrogram(
        y=np.asarray(wave, np.float32), sr=cfg.sample_rate, n_fft=cfg.n_fft,
        hop_length=cfg.hop_length, win_length=cfg.win_length, n_mels=cfg.n_mels, fmin=cfg.fmin,
        fmax=cfg.fmax, power=2.0,
    )  # fmt: skip
    return np.log(np.maximum(power, cfg.floor)).T.astype(np.float32)


def trim(wave: np.ndarray) -> np.ndarray:
    """``wave`` without its leading and trailing silence (see the module docstring)."""
    import librosa

    trimmed, _ = librosa.effects.trim(
        wave, top_db=TRIM_TOP_DB, frame_length=TRIM_FRAME, hop_length=TRIM_HOP
    )
    return trimmed


@dataclass(frozen=True)
class Item:
    """One utterance's ids and normalised log-mel frames."""

    id: str
    text: str  # the normalized text of metadata.csv
    ids: np.ndarray  # int64 (N,), the end-of-text mark last
    mel: np.ndarray  # float32 (T, n_mels), normalised with the training statistics


def cache_key(corpus: Corpus, cfg: FeatureConfig) -> str:
    """What the cached log-mels depend on: the corpus's files and the settings."""
    wavs = []
    for u in corpus.utterances:
        st = u.wav.stat()
        wavs.append((u.id, u.wav.name, st.st_size, st.st_mtime_ns))
    blob = json.dumps({
        "root": str(corpus.root.resolve()), "rate": corpus.sample_rate, "cfg": asdict(cfg),
        "trim": [TRIM_TOP_DB, TRIM_FRAME, TRIM_HOP], "wavs": wavs,
    }, sort_keys=True)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class FeatureSet:
    """The features of every utterance of ``splits`` (see the module docstring).

    ``computed`` is the number of utterances whose log-mel this build computed (0 when the
    cache had them all); ``mean``/``std`` are the training statistics, per band."""

    def __init__(
        self,
        corpus: Corpus,
        splits: Splits,
        cache_dir: str | os.PathLike,
        cfg: FeatureConfig | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.cfg = cfg or FeatureConfig()
        if self.cfg.sample_rate != corpus.sample_rate:
            raise ValueError(f"features at {self.cfg.sample_rate} Hz of a corpus read at "
                             f"{corpus.sample_rate} Hz")  # fmt: skip
        self.corpus = corpus
        self.splits = splits
        everything = list(splits.train) + list(splits.validation) + list(splits.test)
        self.cache_file = Path(cache_dir) / f"tts-features-{cache_key(corpus, self.cfg)}.npz"
        self.computed = 0
        mels = self._load_or_compute(everything, progress)
        train = np.concatenate([mels[u.id] for u in splits.train])
        self.mean = train.mean(axis=0).astype(np.float32)
        self.std = np.maximum(train.std(axis=0), MIN_STD).astype(np.float32)
        self.items = {
            u.id: Item(u.id, u.normalized, np.asarray(text_to_ids(u.normalized), np.int64),
                       (mels[u.id] - self.mean) / self.std)
            for u in everything
        }  # fmt: skip

    def _load_or_compute(self, utts: list[Utterance], progress: Progress) -> dict[str, np.ndarray]:
        cached: dict[str, np.ndarray] = {}
        if self.cache_file.is_file():
            try:
                with np.load(self.cache_file, allow_pickle=False) as saved:
                    cached = {k: saved[k] for k in saved.files}
            except (OSError, ValueError, EOFError):  # a damaged cache is recomputed
                cached = {}
        todo = [u for u in utts if u.id not in cached]
        if not todo:
            return cached
        progress.start("log-mel features", len(todo), "utterances")
        try:
            for u in todo:
                cached[u.id] = log_mel(trim(self.corpus.load(u)), self.cfg)
                progress.advance(1)
        finally:
            progress.finish()
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own per process: ranks of a data-parallel run may compute at once
        tmp = self.cache_file.with_name(f"{self.cache_file.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **cached)
        tmp.replace(self.cache_file)
        self.computed = len(todo)
        return cached

    @property
    def n_mels(self) -> int:
        return self.cfg.n_mels

    def normalize(self, log_mel: np.ndarray) -> np.ndarray:
        """Natural-log mel power to the network's normalised frames."""
        return (np.asarray(log_mel) - self.mean) / self.std

    def denormalize(self, mel: np.ndarray) -> np.ndarray:
        """Normalised frames back to natural-log mel power (for Griffin-Lim and MCD)."""
        return np.asarray(mel) * self.std + self.mean

    def split(self, name: str) -> list[Item]:
        """The items of split ``name`` (``train``, ``validation`` or ``test``), in split order."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}: one of {', '.join(SPLIT_NAMES)}")
        return [self.items[u.id] for u in getattr(self.splits, name)]

    def batches(
        self,
        items: str | Sequence[Item],
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
    ) -> list[TTSBatch]:
        """``items`` (or the split of that name) in batches of similar length; with ``shuffle``
        the batch order and each batch's order are drawn from ``seed``, else batches go from
        the shortest to the longest utterances."""
        if isinstance(items, str):
            items = self.split(items)
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: must be at least 1")
        order = sorted(range(len(items)), key=lambda i: (items[i].mel.shape[0], items[i].id))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if shuffle:
            rng = np.random.default_rng([seed, 13])
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
            chunks = [[c[j] for j in rng.permutation(len(c))] for c in chunks]
        return [collate([items[i] for i in c]) for c in chunks]


def collate(items: Sequence[Item]) -> TTSBatch:
    """Pad ``items`` into one batch (ids with ``PAD_ID``, frames with zeros)."""
    n = max(len(it.ids) for it in items)
    t = max(it.mel.shape[0] for it in items)
    text = torch.full((len(items), n), PAD_ID, dtype=torch.int64)
    mel = torch.zeros(len(items), t, items[0].mel.shape[1])
    for b, it in enumerate(items):
        text[b, : len(it.ids)] = torch.from_numpy(it.ids)
        mel[b, : it.mel.shape[0]] = torch.from_numpy(it.mel)
    return TTSBatch(
        text,
        torch.tensor([len(it.ids) for it in items]),
        mel,
        torch.tensor([it.mel.shape[0] for it in items]),
        [it.id for it in items],
    )
