"""The Transformer-TTS search space of SemiNAS's text-to-speech experiment (paper, Sec. 4.3).

An architecture picks one of 11 operations for each of 12 layers: 6 encoder layers, then 6
decoder layers. The operations are a convolution of kernel 1, 5, 9, 13, 17, 21 or 25
(``k1`` ... ``k25``), multi-head self-attention with 2, 4 or 8 heads (``h2``, ``h4``, ``h8``) and an
``lstm``. The same names stand for the causal variants in the decoder (see
:mod:`seminas.tts.ops`). That is 11^12, about 3.1e12 architectures.

Notation: ``enc:k5,h8,k1,k1,lstm,h2|dec:h2,k9,k9,lstm,k1,h4``. ``validate`` also reads a list of
12 names and the paper code's notation, 12 operation numbers 1..11 separated by spaces
(``"10 10 4 3 6 3 9 2 4 2 11 6"``). Tokens: 0 is the decoder's start token and operation k of
:data:`OPS` is token k + 1, which makes the tokens the same numbers as the paper code's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seminas.errors import InvalidArchitectureError
from seminas.spaces.base import SearchSpace

CONV_KERNELS: tuple[int, ...] = (1, 5, 9, 13, 17, 21, 25)
ATTENTION_HEADS: tuple[int, ...] = (2, 4, 8)
OPS: tuple[str, ...] = (
    tuple(f"k{k}" for k in CONV_KERNELS) + tuple(f"h{h}" for h in ATTENTION_HEADS) + ("lstm",)
)
ENCODER_LAYERS = 6
DECODER_LAYERS = 6
NUM_LAYERS = ENCODER_LAYERS + DECODER_LAYERS

# The paper code trains the Transformer-TTS baseline with its self-attention op of 2 heads
# (operation 8) in every layer, so that is the baseline here.
BASELINE_OP = "h2"
# The architectures the paper code ships for its final training (tts/runs/*.sh), in its notation.
PAPER_ARCHS: dict[str, str] = {
    "low_resource": "10 10 4 3 6 3 9 2 4 2 11 6",
    "robustness": "8 6 3 2 11 7 9 1 4 11 6 2",
}


def op_kind(op: str) -> tuple[str, int]:
    """The kind and size of an operation: ``"k9"`` -> ``("conv", 9)``, ``"h4"`` ->
    ``("attention", 4)``, ``"lstm"`` -> ``("lstm", 0)``."""
    if op == "lstm":
        return "lstm", 0
    if op in OPS:
        return ("conv" if op[0] == "k" else "attention"), int(op[1:])
    raise InvalidArchitectureError(f"unknown TTS operation {op!r} (allowed: {', '.join(OPS)})")


@dataclass(frozen=True)
class TTSArch:
    """12 operation names: the 6 encoder layers, then the 6 decoder layers."""

    ops: tuple[str, ...]

    @property
    def encoder(self) -> tuple[str, ...]:
        return self.ops[:ENCODER_LAYERS]

    @property
    def decoder(self) -> tuple[str, ...]:
        return self.ops[ENCODER_LAYERS:]

    def __str__(self) -> str:
        return to_string(self.ops)


def to_string(ops: Sequence[str]) -> str:
    return f"enc:{','.join(ops[:ENCODER_LAYERS])}|dec:{','.join(ops[ENCODER_LAYERS:])}"


def _check_ops(ops: Sequence[Any]) -> tuple[str, ...]:
    ops = tuple(ops)
    if len(ops) != NUM_LAYERS:
        raise InvalidArchitectureError(
            f"a TTS architecture has {NUM_LAYERS} layers ({ENCODER_LAYERS} encoder, "
            f"{DECODER_LAYERS} decoder), got {len(ops)}"
        )
    for i, op in enumerate(ops):
        if op not in OPS:
            raise InvalidArchitectureError(
                f"layer {i}: unknown TTS operation {op!r} (allowed: {', '.join(OPS)})"
            )
    return ops  # type: ignore[return-value]


_PART_RE = re.compile(r"^\s*(enc|dec)\s*:(.*)$")


def parse_string(text: str) -> tuple[str, ...]:
    """Read ``enc:...|dec:...``, 12 names separated by commas/spaces, or 12 paper numbers."""
    body = text.strip()
    if "|" in body or ":" in body:
        parts = body.split("|")
        found: dict[str, list[str]] = {}
        for part in parts:
            m = _PART_RE.match(part)
            if m is None or m.group(1) in found:
                raise InvalidArchitectureError(
                    f"invalid TTS architecture {text!r}: write it as 'enc:<6 ops>|dec:<6 ops>', "
                    f"e.g. '{to_string((BASELINE_OP,) * NUM_LAYERS)}'"
                )
            found[m.group(1)] = [p.strip() for p in m.group(2).split(",")]
        if set(found) != {"enc", "dec"}:
            raise InvalidArchitectureError(
                f"invalid TTS architecture {text!r}: it needs both an 'enc:' and a 'dec:' part"
            )
        for side, n in (("enc", ENCODER_LAYERS), ("dec", DECODER_LAYERS)):
            if len(found[side]) != n:
                raise InvalidArchitectureError(
                    f"invalid TTS architecture {text!r}: the {side} part needs {n} operations, "
                    f"got {len(found[side])}"
                )
        return _check_ops(found["enc"] + found["dec"])
    words = [w for w in re.split(r"[,\s]+", body) if w]
    if words and all(w.isdigit() for w in words):  # the paper code's numbers, 1..11
        ops = []
        for w in words:
            if not 1 <= int(w) <= len(OPS):
                raise InvalidArchitectureError(
                    f"invalid TTS architecture {text!r}: operation number {w} is not in "
                    f"1..{len(OPS)}"
                )
            ops.append(OPS[int(w) - 1])
        return _check_ops(ops)
    return _check_ops(words)


class TTSSpace(SearchSpace[TTSArch]):
    """The 12-layer Transformer-TTS space (see the module docstring)."""

    name = "tts"
    seq_len = NUM_LAYERS
    vocab_size = len(OPS) + 1

    # -- identity and validity ---------------------------------------------------------------
    def validate(self, arch: Any) -> TTSArch:
        if isinstance(arch, TTSArch):
            return TTSArch(_check_ops(arch.ops))
        if isinstance(arch, str):
            return TTSArch(parse_string(arch))
        if isinstance(arch, (list, tuple)):
            return TTSArch(_check_ops(arch))
        raise InvalidArchitectureError(
            f"cannot read {arch!r} as a TTS architecture: give its string "
            f"(e.g. '{to_string((BASELINE_OP,) * NUM_LAYERS)}') or a list of {NUM_LAYERS} "
            f"operation names"
        )

    def arch_id(self, arch: TTSArch) -> str:
        return to_string(arch.ops)

    # -- tokens ------------------------------------------------------------------------------
    def encode(self, arch: TTSArch) -> list[int]:
        return [OPS.index(op) + 1 for op in arch.ops]

    def decode(self, tokens: Sequence[int]) -> TTSArch:
        tokens = [int(t) for t in tokens]
        if len(tokens) != NUM_LAYERS:
            raise InvalidArchitectureError(
                f"TTS token sequence must have length {NUM_LAYERS}, got {len(tokens)}"
            )
        for pos, tok in enumerate(tokens):
            if not 1 <= tok <= len(OPS):
                raise InvalidArchitectureError(
                    f"token {tok} at position {pos} is not an operation (allowed 1..{len(OPS)})"
                )
        return TTSArch(tuple(OPS[t - 1] for t in tokens))

    def token_mask(self) -> np.ndarray:
        mask = np.zeros((self.seq_len, self.vocab_size), dtype=bool)
        mask[:, 1:] = True
        return mask

    def position_labels(self) -> list[tuple[str, dict[int, Any]]]:
        names = [f"enc{i + 1}" for i in range(ENCODER_LAYERS)]
        names += [f"dec{i + 1}" for i in range(DECODER_LAYERS)]
        return [(name, {k + 1: op for k, op in enumerate(OPS)}) for name in names]

    # -- sampling ----------------------------------------------------------------------------
    def sample_one(self, rng: np.random.Generator) -> TTSArch:
        return TTSArch(tuple(OPS[int(k)] for k in rng.integers(len(OPS), size=NUM_LAYERS)))

    def neighbours(self, arch: TTSArch) -> list[TTSArch]:
        out = []
        for i in range(NUM_LAYERS):
            for op in OPS:
                if op != arch.ops[i]:
                    out.append(TTSArch(arch.ops[:i] + (op,) + arch.ops[i + 1 :]))
        return out

    # -- native notation ---------------------------------------------------------------------
    def to_native(self, arch: TTSArch) -> str:
        return to_string(arch.ops)

    def from_native(self, obj: Any) -> TTSArch:
        return self.validate(obj)

    @property
    def size(self) -> int:
        return len(OPS) ** NUM_LAYERS

    # -- named architectures -----------------------------------------------------------------
    def baseline_arch(self) -> TTSArch:
        """Transformer TTS: self-attention in every layer (2 heads, as the paper code's
        baseline run)."""
        return TTSArch((BASELINE_OP,) * NUM_LAYERS)

    def paper_arch(self, setting: str) -> TTSArch:
        """The architecture the paper reports for ``setting`` (``low_resource``/``robustness``)."""
        if setting not in PAPER_ARCHS:
            raise InvalidArchitectureError(
                f"unknown paper setting {setting!r} (allowed: {', '.join(PAPER_ARCHS)})"
            )
        return self.validate(PAPER_ARCHS[setting])
