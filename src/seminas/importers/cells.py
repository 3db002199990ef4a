"""Recognising complete cells while a big pickle streams by, and handing them to the builder.

:class:`CellCollector` is the ``on_items`` hook of :class:`~.safe_pickle.StreamingUnpickler`. It
recognises the two layouts a cell takes in the single-file formats:

- NAS-Bench-201 ``.pth`` and NATS-Bench ``.pickle.pbz2``: ``arch2infos[index] = {hp: ArchResults}``
  (the dict receiving ``'less'``/``'full'`` or ``'12'``/``'200'`` with ArchResults values);
- NASLib: ``table[cell] = {dataset: info}`` (the dict receiving ``dataset: info`` items).

Each recognised cell is converted at once and then forgotten by the unpickler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from seminas.benchmarks.nb201_table import N_CELLS
from seminas.errors import SeminasError
from seminas.importers import arch_results, naslib
from seminas.importers.builder import TableBuilder

ARCH_RESULTS = "nb201-results"
NASLIB = "naslib"


class CellCollector:
    """Feeds the cells of one file into ``builder``; ``on_cell()`` is called after each."""

    def __init__(
        self,
        builder: TableBuilder,
        source: str,
        on_cell: Callable[[], None] | None = None,
    ) -> None:
        self.builder = builder
        self.source = source
        self.layout: str | None = None
        self.cells = 0
        self._on_cell = on_cell

    def _layout(self, layout: str) -> None:
        if self.layout is None:
            self.layout = layout
        elif self.layout != layout:
            raise SeminasError(f"{self.source} mixes NAS-Bench-201 and NASLib layouts")

    def __call__(self, unpickler: Any, target: Any, items: list) -> bool:
        if len(items) < 2 or not isinstance(items[1], dict):  # dict, not Mapping: this is hot
            return False
        first = items[1]
        if arch_results.is_arch_results(first):
            self._layout(ARCH_RESULTS)
            key = unpickler.key_below()
            where = f"{self.source}: cell {key}"
            index, arch, runs = arch_results.cell_of(
                dict(zip(items[::2], items[1::2], strict=True)), where
            )
            if key is not None and key != index:
                raise SeminasError(f"{where}: its ArchResults say it is cell {index}")
            index = self.builder.check_index(index, arch, where)
        elif naslib.is_cell_info(items[0], first):
            self._layout(NASLIB)
            key = unpickler.key_below()
            where = f"{self.source}: cell {key!r:.100}"
            arch = naslib.arch_string(key, where)
            index = self.builder.lookup(arch, where)
            runs = naslib.runs_of(dict(zip(items[::2], items[1::2], strict=True)), where)
        else:
            return False
        self.builder.add_cell(index, runs, where)
        self.cells += 1
        if self._on_cell is not None:
            self._on_cell()
        return True

    def check_top(self, top: Any) -> list[int] | None:
        """Checks of the file's top level once it is read; returns the cells it declares as
        evaluated (NAS-Bench-201 layout), for the missing-cells check."""
        if self.layout is None:
            kind = type(top).__name__
            keys = list(top)[:4] if isinstance(top, Mapping) else []
            raise SeminasError(
                f"{self.source} is a pickle but holds no NAS-Bench-201 results (top level: "
                f"{kind}{' with keys ' + ', '.join(map(repr, keys)) if keys else ''}); "
                f"not a benchmark file seminas can import"
            )
        if self.layout == NASLIB or not isinstance(top, Mapping):
            return None
        return check_meta(top, self.builder, self.source)


def check_meta(top: Mapping[str, Any], builder: TableBuilder, source: str) -> list[int] | None:
    """``meta_archs`` must be NAS-Bench-201's official order; returns ``evaluated_indexes``."""
    meta = top.get("meta_archs")
    if meta is not None:
        if not isinstance(meta, (list, tuple)):
            raise SeminasError(f"{source}: 'meta_archs' is not a list of architectures")
        if len(meta) != N_CELLS:
            raise SeminasError(
                f"{source}: 'meta_archs' lists {len(meta):,} architectures, NAS-Bench-201 has "
                f"{N_CELLS:,}: not a NAS-Bench-201 topology table (NATS-Bench's size space, "
                f"sss, is not supported)"
            )
        for i, (got, want) in enumerate(zip(meta, builder.official, strict=True)):
            if got != want:
                raise SeminasError(
                    f"{source}: 'meta_archs'[{i}] is {got!r:.100}, NAS-Bench-201's cell {i} is "
                    f"{want!r}: not a NAS-Bench-201 topology table (NATS-Bench's size space is "
                    f"not supported)"
                )
    total = top.get("total_archs")
    if total is not None and total != N_CELLS:
        raise SeminasError(f"{source}: 'total_archs' is {total!r}, expected {N_CELLS}")
    declared = top.get("evaluated_indexes")
    if declared is None:
        return None
    if not isinstance(declared, (list, tuple, set, frozenset)):
        raise SeminasError(f"{source}: 'evaluated_indexes' is not a list of cells")
    return [int(i) for i in declared]
