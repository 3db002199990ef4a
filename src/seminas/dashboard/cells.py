"""Architectures as pictures: a NAS-Bench-201 cell (4 nodes, an operation on each of its 6
edges) or a NAS-Bench-101 cell (a DAG of up to 7 operations) as a self-contained SVG; an
architecture of another space as its token list. Plain SVG text, so the page needs no library
and a test can read the operations back."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from html import escape
from typing import Any

from seminas.errors import InvalidArchitectureError
from seminas.spaces.nb201 import EDGES, parse_string

# NAS-Bench-201 operations: colour and dash pattern of their edges
NB201_STYLE = {
    "none": ("#9e9e9e", "4 4"),
    "skip_connect": ("#212121", ""),
    "nor_conv_1x1": ("#1f77b4", ""),
    "nor_conv_3x3": ("#d62728", ""),
    "avg_pool_3x3": ("#2ca02c", ""),
}
# NAS-Bench-101 vertex operations: short label and fill
NB101_STYLE = {
    "input": ("input", "#eeeeee"),
    "output": ("output", "#eeeeee"),
    "conv3x3-bn-relu": ("conv 3x3", "#f8d0d0"),
    "conv1x1-bn-relu": ("conv 1x1", "#d0e2f8"),
    "maxpool3x3": ("max-pool 3x3", "#d5f0d0"),
}
_EDGE_COLOUR = "#424242"  # NAS-Bench-101 edges
_FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def cell_svg(arch: Any, encoding: Sequence[int] | None = None) -> str:
    """The picture of one architecture in its space's native notation: an NB201 string, an
    NB101 ``{"matrix", "ops"}`` cell, or anything else (drawn as its tokens)."""
    if isinstance(arch, str):
        try:
            return nb201_svg(parse_string(arch), title=arch)
        except InvalidArchitectureError:
            pass
    if isinstance(arch, dict) and "matrix" in arch and "ops" in arch:
        return nb101_svg(arch["matrix"], arch["ops"])
    return tokens_svg(arch, encoding)


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' {_FONT}>"
    )
    colours = sorted({c for c, _ in NB201_STYLE.values()} | {_EDGE_COLOUR})
    arrows = "".join(
        f"<marker id='arrow-{c[1:]}' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='6' "
        f"markerHeight='6' orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='{c}'/></marker>"
        for c in colours
    )
    parts = [head, f"<title>{escape(title)}</title>", f"<defs>{arrows}</defs>", *body, "</svg>"]
    return "\n".join(parts) + "\n"


def _label(x: float, y: float, text: str, colour: str = "#212121", size: int = 11) -> str:
    """Text with a white halo, readable where it crosses an edge."""
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='middle' "
        f"fill='{colour}' stroke='white' stroke-width='4' paint-order='stroke'>"
        f"{escape(text)}</text>"
    )


def _edge(x0: float, x1: float, y: float, bend: float, colour: str, dash: str = "",
          inset: float = 0.0) -> tuple[str, float, float]:
    """A left-to-right edge between two nodes on the line ``y``: straight when ``bend`` is 0,
    else an arc ``bend`` px above (negative) or below; returns the path and its midpoint."""
    a, b = x0 + inset, x1 - inset
    cx, cy = (a + b) / 2, y + 2 * bend
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    path = (
        f"<path d='M{a:.1f},{y:.1f} Q{cx:.1f},{cy:.1f} {b:.1f},{y:.1f}' fill='none' "
        f"stroke='{colour}' stroke-width='2'{dash_attr} marker-end='url(#arrow-{colour[1:]})'/>"
    )
    return path, cx, y + bend  # a quadratic curve's midpoint is half-way to its control point


def nb201_svg(ops: Sequence[str], title: str | None = None) -> str:
    """A NAS-Bench-201 cell: nodes 0 (input) to 3 (output) on a line; edge ``j -> i`` carries
    the operation ``ops[k]`` in the order of :data:`seminas.spaces.nb201.EDGES`."""
    if len(ops) != len(EDGES):
        raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} operations, got {len(ops)}")
    xs, y, r = [50.0, 210.0, 370.0, 530.0], 105.0, 16.0
    bends = {1: 0.0, 2: -55.0, 3: 70.0}  # by span: neighbours straight, then above, below
    body = []
    labels = []
    for (source, target), op in zip(EDGES, ops, strict=True):
        colour, dash = NB201_STYLE.get(op, ("#212121", ""))
        span = target - source
        path, mx, my = _edge(xs[source], xs[target], y, bends[span], colour, dash, inset=r)
        body.append(path)
        below = bends[span] > 0  # the label sits beside its edge, not across it
        labels.append(_label(mx, my + 15 if below else my - 6, op, colour))
    for i, x in enumerate(xs):
        body.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r:.0f}' fill='white' stroke='#212121' "
            f"stroke-width='1.5'/>"
        )
        body.append(f"<text x='{x:.1f}' y='{y + 4:.1f}' font-size='12' "
                    f"text-anchor='middle'>{i}</text>")
    body.append(_label(xs[0], y + 34, "input", "#616161", 10))
    body.append(_label(xs[-1], y + 34, "output", "#616161", 10))
    return _svg(580, 200, title or "|".join(ops), body + labels)


def nb101_svg(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """A NAS-Bench-101 cell: its vertices in order on a line (the matrix is upper-triangular,
    so every edge points right), edges between neighbours straight, longer ones as arcs
    alternately above and below."""
    n = len(ops)
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise ValueError(f"a {n}-vertex NAS-Bench-101 cell needs a {n}x{n} matrix")
    step, w, h = 120.0, 92.0, 30.0
    xs = [20 + w / 2 + i * step for i in range(n)]
    longest = max([j - i for i in range(n) for j in range(i + 1, n) if matrix[i][j]] or [1])
    y = 30 + 22.0 * longest  # room for the highest arc (see the bends below)
    body = []
    long_edges = sorted(
        (j - i, i, j) for i in range(n) for j in range(i + 2, n) if matrix[i][j]
    )
    for i in range(n - 1):
        if matrix[i][i + 1]:
            body.append(_edge(xs[i], xs[i + 1], y, 0.0, _EDGE_COLOUR, inset=w / 2)[0])
    for k, (span, i, j) in enumerate(long_edges):
        side = -1 if k % 2 == 0 else 1  # above, below, above, ...
        body.append(_edge(xs[i], xs[j], y + side * h / 2, side * 22.0 * span, _EDGE_COLOUR,
                          inset=w / 4)[0])
    for x, op in zip(xs, ops, strict=True):
        text, fill = NB101_STYLE.get(op, (str(op), "#ffffff"))
        body.append(
            f"<rect x='{x - w / 2:.1f}' y='{y - h / 2:.1f}' width='{w:.0f}' height='{h:.0f}' "
            f"rx='6' fill='{fill}' stroke='#424242' stroke-width='1.2'/>"
        )
        body.append(f"<text x='{x:.1f}' y='{y + 4:.1f}' font-size='11' "
                    f"text-anchor='middle'>{escape(text)}</text>")
    title = json.dumps({"matrix": [list(r) for r in matrix], "ops": list(ops)})
    return _svg(40 + w + (n - 1) * step, 2 * y, title, body)


def tokens_svg(arch: Any, encoding: Sequence[int] | None = None) -> str:
    """Any other architecture: its native notation and its token list, as text."""
    native = arch if isinstance(arch, str) else json.dumps(arch)
    lines = textwrap.wrap(native, 72) or [""]
    if encoding is not None:
        lines += textwrap.wrap("tokens: " + " ".join(str(int(t)) for t in encoding), 72)
    body = [
        f"<text x='10' y='{20 + 16 * i}' font-size='12' font-family='DejaVu Sans Mono, "
        f"monospace'>{escape(line)}</text>"
        for i, line in enumerate(lines)
    ]
    return _svg(600, 16 * len(lines) + 16, native, body)
