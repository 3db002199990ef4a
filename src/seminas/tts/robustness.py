"""The robustness set: hard inputs built from the TEST sentences only, text only (no recording
exists for them), where an autoregressive TTS tends to skip or repeat words.

From the test sentences in split order (their normalized text and recorded, trimmed frames):

- ``long``: three consecutive test sentences joined by a space into one input (sentences 1-3,
  4-6, ...; a last group of fewer than three is left out: 16 inputs from the Harvard corpus's
  50 test sentences, 33 from 100);
- ``repeat``: every other test sentence from the first, its longest word (the first of the
  longest, punctuation aside) written :data:`REPEATS` times in a row in its place, the
  punctuation that followed it kept after the last copy (25 inputs from 50);
- ``single-word``: the longest word of every fifth test sentence from the first, alone
  (10 inputs from 50).

Each input carries the number of frames it should take: the recorded frames of its source
sentences (long), or the source's frames scaled by the ratio of the characters the network sees
(repeat, single word). Alignment failure allows twice that (:mod:`seminas.tts.metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from seminas.tts.text import normalize_characters

REPEATS = 4
LONG_GROUP = 3  # sentences joined into one long input
REPEAT_EVERY = 2  # every other test sentence gets a repeated word
WORD_EVERY = 5  # every fifth gives a single-word input
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$")  # leading punctuation, the word, trailing punctuation


@dataclass(frozen=True)
class HardInput:
    """One robustness input: ``expected_frames`` is the mel frames it should take."""

    id: str
    kind: str  # "long", "repeat" or "single-word"
    text: str
    expected_frames: float


def _chars(text: str) -> int:
    return max(len(normalize_characters(text)), 1)


def _longest_word(words: list[str]) -> int:
    """The index of the first of the longest words (their letters, punctuation aside)."""
    lengths = [len(_WORD.match(w).group(2)) for w in words]
    return lengths.index(max(lengths))


def robustness_set(test: Sequence[tuple[str, str, int]]) -> list[HardInput]:
    """Hard inputs from ``(id, normalized text, recorded frames)`` of the test sentences, in
    split order (see the module docstring); the same test sentences give the same set."""
    out = []
    for i in range(0, len(test) - LONG_GROUP + 1, LONG_GROUP):
        group = test[i : i + LONG_GROUP]
        out.append(HardInput(
            "long-" + "+".join(g[0] for g in group), "long",
            " ".join(g[1] for g in group), float(sum(g[2] for g in group)),
        ))  # fmt: skip
    for uid, text, frames in test[::REPEAT_EVERY]:
        words = text.split()
        at = _longest_word(words)
        lead, word, trail = _WORD.match(words[at]).groups()
        copies = [lead + word] + [word] * (REPEATS - 2) + [word + trail]
        new = " ".join(words[:at] + copies + words[at + 1 :])
        out.append(HardInput(f"repeat-{uid}", "repeat", new,
                             frames * _chars(new) / _chars(text)))  # fmt: skip
    for uid, text, frames in test[::WORD_EVERY]:
        words = text.split()
        word = _WORD.match(words[_longest_word(words)]).group(2)
        out.append(HardInput(f"word-{uid}", "single-word", word,
                             frames * _chars(word) / _chars(text)))  # fmt: skip
    return out
