"""Characters to ids, the network's input.

The normalized text is lowercased and each character looked up in :data:`SYMBOLS`; the
end-of-text mark (id 1) is appended, id 0 is padding. Accented letters lose their accent
(``é`` -> ``e``, by Unicode decomposition) and typographic quotes and dashes become their ASCII
forms, so LJSpeech's few such characters keep their sound; every other character outside the
table is dropped, so any corpus reads. The table covers all of the Harvard corpus's and
LJSpeech's normalized text after that folding.
"""

from __future__ import annotations

import unicodedata

from seminas.tts.batch import PAD_ID

EOS_ID = 1
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_PUNCTUATION = " ',.?!-;:\"()"
_DIGITS = "0123456789"
SYMBOLS: tuple[str, ...] = tuple(_LETTERS + _PUNCTUATION + _DIGITS)
FIRST_SYMBOL_ID = 2  # ids 0 and 1 are padding and the end-of-text mark
vocab_size: int = len(SYMBOLS) + FIRST_SYMBOL_ID
_ID = {s: i + FIRST_SYMBOL_ID for i, s in enumerate(SYMBOLS)}
# typographic forms LJSpeech uses, read as the ASCII character they stand for
_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                       "\u2013": "-", "\u2014": "-", "[": "(", "]": ")"})  # fmt: skip
assert PAD_ID == 0 and EOS_ID == 1 and len(_ID) == len(SYMBOLS)


def normalize_characters(text: str) -> str:
    """``text`` lowercased, accents and typographic punctuation folded, unknown characters
    dropped: exactly the characters the network sees."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD).lower())
    return "".join(c for c in folded if c in _ID)


def text_to_ids(text: str) -> list[int]:
    """The ids of ``text``'s characters (see :func:`normalize_characters`), then the end mark."""
    return [_ID[c] for c in normalize_characters(text)] + [EOS_ID]


def ids_to_text(ids: list[int]) -> str:
    """The characters of ``ids`` (padding and the end mark left out)."""
    return "".join(SYMBOLS[i - FIRST_SYMBOL_ID] for i in ids if i >= FIRST_SYMBOL_ID)
