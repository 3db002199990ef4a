"""Seeds on the command line: ``7``, ``0-99`` or ``0,3,5-7``, so that a whole study of many
seeds is one short, reproducible argument (and the regenerate command of a summary too)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from seminas.errors import SeminasError
from seminas.options import SEED_MAX

MAX_SEEDS = 1_000_000

_SEED_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(text: str) -> list[int]:
    """Seeds from the CLI form ``7``, ``0-99`` or ``0,3,5-7`` (ranges inclusive, duplicates
    dropped, order kept) -- so a whole study is one short, reproducible argument."""
    expected = (
        "expected non-negative integers as a seed (7), an inclusive range (0-99) "
        "or a comma-separated list of both (0,3,5-7)"
    )
    seeds: list[int] = []
    seen: set[int] = set()
    items = str(text).split(",")
    for item in items:
        match = _SEED_ITEM.match(item.strip())
        if match is None:
            raise SeminasError(f"invalid seeds {text!r}: bad item {item.strip()!r}; {expected}")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise SeminasError(f"invalid seeds {text!r}: range {lo}-{hi} is reversed; {expected}")
        if hi > SEED_MAX:
            raise SeminasError(f"invalid seeds {text!r}: seeds go up to {SEED_MAX} (2**32 - 1)")
        if len(seeds) + (hi - lo + 1) > MAX_SEEDS:
            raise SeminasError(f"invalid seeds {text!r}: more than {MAX_SEEDS:,} seeds")
        for seed in range(lo, hi + 1):
            if seed not in seen:
                seen.add(seed)
                seeds.append(seed)
    return seeds


def format_seeds(seeds: Iterable[int]) -> str:
    """The shortest :func:`parse_seeds` text for ``seeds`` (sorted), for regenerate commands."""
    ordered = sorted(set(int(s) for s in seeds))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)
