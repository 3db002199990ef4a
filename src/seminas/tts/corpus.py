"""A speech corpus in the LJSpeech layout -- ``metadata.csv`` with lines ``id|text|normalized
text`` and ``wavs/<id>.wav`` -- read and checked before any training, and split.

Every file is checked when the corpus is read, so a bad corpus fails at once, on one line that
names the file: a missing directory or ``metadata.csv``, a malformed line (its number and
content), a duplicate id, a missing or unreadable wav, a sample rate other than the expected one
or more than one channel. ``resample=True`` accepts the last two instead: samples are converted
with soxr and the channels averaged when the audio is loaded. Audio is read (soundfile) only
when asked for, one utterance at a time.

Splits: the shared Harvard corpus (exactly the ids HS001..HS720) uses HS001-HS620 for
training, HS621-HS670 for validation and HS671-HS720 for test (the sentences come in lists of
ten, so the split follows list boundaries). Any other corpus (LJSpeech: 13,100 utterances) is
permuted with the seed: the first 100 are the validation set, the next 100 the test set, and
the next ``utterances`` (all the rest by default) the training set -- ``utterances=1500`` is
the paper's low-resource setting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seminas.errors import SeminasError

SAMPLE_RATE = 22050
_HARVARD_IDS = frozenset(f"HS{i:03d}" for i in range(1, 721))
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
HELD_OUT = 100  # validation and test utterances of a corpus other than the Harvard one


@dataclass(frozen=True)
class Utterance:
    """One line of ``metadata.csv`` and its recording (not read until :meth:`Corpus.load`)."""

    id: str
    text: str
    normalized: str
    wav: Path


@dataclass(frozen=True)
class Corpus:
    """The checked utterances of a corpus directory, in ``metadata.csv`` order."""

    root: Path
    utterances: tuple[Utterance, ...]
    sample_rate: int
    resample: bool

    def __len__(self) -> int:
        return len(self.utterances)

    def load(self, utt: Utterance) -> np.ndarray:
        """The utterance's samples (float32, mono, at ``sample_rate``)."""
        import soundfile

        try:
            wave, rate = soundfile.read(str(utt.wav), dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors vary by format
            raise SeminasError(f"{utt.wav} is not a readable WAV file ({exc})") from None
        wave = wave.mean(axis=1)  # mono already unless resample=True let a stereo file in
        if rate != self.sample_rate:
            import soxr

            wave = soxr.resample(wave, rate, self.sample_rate).astype(np.float32)
        return wave


@dataclass(frozen=True)
class Splits:
    """Training, validation and test utterances (disjoint)."""

    train: tuple[Utterance, ...]
    validation: tuple[Utterance, ...]
    test: tuple[Utterance, ...]


def read_corpus(
    path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, resample: bool = False
) -> Corpus:
    """Read and check ``path``: every metadata line well formed, every wav present, mono and
    at ``sample_rate`` (or converted with soxr when ``resample``). Each problem is one line."""
    import soundfile

    root = Path(path).expanduser()
    meta = root / "metadata.csv"
    if not root.is_dir():
        raise SeminasError(f"corpus directory {root} does not exist: give --data DIR with "
                           f"metadata.csv and wavs/ (the LJSpeech layout)")  # fmt: skip
    if not meta.is_file():
        raise SeminasError(f"{meta} is missing: a corpus in the LJSpeech layout has metadata.csv "
                           f"(lines id|text|normalized text) and wavs/<id>.wav")  # fmt: skip
    try:
        lines = meta.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise SeminasError(f"{meta} is not UTF-8 text ({exc.reason} at byte {exc.start}): "
                           f"save it as UTF-8") from None  # fmt: skip
    items = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 3 and not fields[2]:
            fields = fields[:2]  # an empty normalized text: the text stands for it
        if len(fields) not in (2, 3) or not _ID.match(fields[0]) or not fields[-1]:
            raise SeminasError(f"{meta} line {number} is not 'id|text|normalized text' (an id "
                               f"of letters, digits, '_', '-' or '.'; 2 or 3 fields): "
                               f"{line[:80]!r}")  # fmt: skip
        uid = fields[0]
        if uid in seen:
            raise SeminasError(f"{meta} line {number}: id {uid!r} appears twice")
        seen.add(uid)
        wav = root / "wavs" / f"{uid}.wav"
        if not wav.is_file():
            raise SeminasError(f"{wav} is missing (listed in {meta} line {number})")
        try:
            info = soundfile.info(str(wav))
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors vary by format
            raise SeminasError(f"{wav} is not a readable WAV file ({exc})") from None
        if info.frames == 0:
            raise SeminasError(f"{wav} holds no samples: re-export it or drop its line from "
                               f"{meta}")  # fmt: skip
        if not resample and info.samplerate != sample_rate:
            raise SeminasError(f"{wav} is {info.samplerate} Hz, the corpus must be {sample_rate} "
                               f"Hz: pass --resample to convert it with soxr")  # fmt: skip
        if not resample and info.channels != 1:
            raise SeminasError(f"{wav} has {info.channels} channels, the corpus must be mono: "
                               f"pass --resample to average the channels")  # fmt: skip
        items.append(Utterance(uid, fields[1], fields[-1], wav))
    if not items:
        raise SeminasError(f"{meta} lists no utterances")
    return Corpus(root, tuple(items), sample_rate, resample)


def is_harvard(corpus: Corpus) -> bool:
    """Whether ``corpus`` is the shared Harvard corpus (ids HS001..HS720, nothing else), whose
    split is fixed."""
    return {u.id for u in corpus.utterances} == _HARVARD_IDS


def split_corpus(corpus: Corpus, utterances: int | None = None, seed: int = 0) -> Splits:
    """Training, validation and test utterances (see the module docstring). On the Harvard
    corpus ``utterances`` keeps the first N training sentences; elsewhere it is the size of the
    training set drawn after the 200 held-out utterances."""
    if utterances is not None and utterances < 1:
        raise SeminasError(f"--utterances {utterances}: give a positive number of training "
                           f"utterances (or none for all)")  # fmt: skip
    if is_harvard(corpus):
        number = {u.id: int(u.id[2:]) for u in corpus.utterances}
        train = tuple(u for u in corpus.utterances if number[u.id] <= 620)
        if utterances is not None:
            if utterances > len(train):
                raise SeminasError(f"--utterances {utterances}: the Harvard corpus has "
                                   f"{len(train)} training utterances")  # fmt: skip
            train = train[:utterances]
        return Splits(
            train,
            tuple(u for u in corpus.utterances if 621 <= number[u.id] <= 670),
            tuple(u for u in corpus.utterances if number[u.id] >= 671),
        )
    need = 2 * HELD_OUT + (utterances or 1)
    if len(corpus) < need:
        raise SeminasError(f"{corpus.root} has {len(corpus)} utterances; {need} are needed "
                           f"({HELD_OUT} validation, {HELD_OUT} test, "
                           f"{utterances or 1} or more training)")  # fmt: skip
    order = np.random.default_rng([seed, 7]).permutation(len(corpus))
    items = [corpus.utterances[i] for i in order]
    rest = items[2 * HELD_OUT :]
    train = rest if utterances is None else rest[:utterances]
    return Splits(tuple(train), tuple(items[:HELD_OUT]), tuple(items[HELD_OUT : 2 * HELD_OUT]))
