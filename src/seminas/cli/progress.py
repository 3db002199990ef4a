"""The command line's one progress display: rich bars on stderr for :mod:`seminas.progress`.

Library code only reports (``start`` / ``advance`` / ``finish`` on a
:class:`~seminas.progress.Progress`); every command that shows progress opens
:func:`progress_for` and hands what it yields to the library. Bars are drawn only when stderr
is a terminal and ``--quiet`` was not given, so scripts, pipes and logs see only the command's
own output, and errors stay one line. No other module of seminas draws a bar.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seminas.progress import NO_PROGRESS, Progress


class RichProgress(Progress):
    """One rich row per phase (``start``); the live display begins at the first phase and ends
    with :meth:`close`. ``transient``: the rows vanish at the end instead of staying."""

    def __init__(self, transient: bool = False) -> None:
        self._transient = transient
        self._bar: Any = None
        self._task: Any = None

    def _open(self) -> Any:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar
            from rich.table import Column

            self._bar = Bar(
                TextColumn("{task.description}", style="bold", markup=False,
                           table_column=Column(no_wrap=True)),
                BarColumn(),
                _counts_column(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=self._transient,
            )
            self._bar.start()
        return self._bar

    def start(self, what: str, total: float | None = None, unit: str = "") -> None:
        bar = self._open()
        self.finish()
        self._task = bar.add_task(what, total=total, unit=unit, note="")

    def advance(self, n: float = 1, note: str | None = None) -> None:
        self.update(advance=n, note=note)

    def update(
        self,
        *,
        advance: float | None = None,
        done: float | None = None,
        what: str | None = None,
        note: str | None = None,
    ) -> None:
        """Move the current row by ``advance`` or to ``done``; rename it, change its note.
        (Beyond the protocol: for CLI code that knows absolute counts, like a search.)"""
        if self._task is None:
            return
        fields = {} if note is None else {"note": note}
        self._bar.update(self._task, advance=advance, completed=done, description=what, **fields)

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop_task(self._task)  # its clock stops; the row stays until close()
            self._task = None

    def close(self) -> None:
        """End the live display (rows stay on the terminal unless transient)."""
        self.finish()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _counts_column() -> Any:
    """The counts column (a class built on first use: rich is imported only when bars show)."""
    from rich.progress import DownloadColumn, ProgressColumn
    from rich.table import Column
    from rich.text import Text

    class Counts(ProgressColumn):
        """``20/100 queries  best 91.154``, or ``12.3/45.6 MB`` for a phase counted in bytes."""

        _bytes = DownloadColumn()

        def render(self, task: Any) -> Any:
            unit = task.fields.get("unit", "")
            note = task.fields.get("note", "")
            if unit == "bytes":
                text = self._bytes.render(task)
                if note:
                    text.append(f"  {note}")
                return text
            done = f"{task.completed:g}"
            counts = done if task.total is None else f"{done}/{task.total:g}"
            return Text(" ".join(p for p in (counts, unit) if p) + (f"  {note}" if note else ""),
                        style="progress.download")

    return Counts(table_column=Column(no_wrap=True))


def shows_progress(quiet: bool = False) -> bool:
    """Whether a command draws bars: stderr is a terminal and ``--quiet`` was not given."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_for(quiet: bool = False, transient: bool = False) -> Iterator[Progress]:
    """The progress a command hands to library code: a :class:`RichProgress` when bars are
    shown (closed when the block ends, also on errors), else
    :data:`~seminas.progress.NO_PROGRESS`."""
    if not shows_progress(quiet):
        yield NO_PROGRESS
        return
    bar = RichProgress(transient=transient)
    try:
        yield bar
    finally:
        bar.close()


class SearchBar:
    """A search's row: its phase (``replay: …`` while a resumed study fast-forwards), queries
    done of the budget, the best search metric so far. ``on_event`` and ``on_start`` are the
    callbacks of :func:`seminas.strategies.run_search` and :func:`seminas.study.run_study`."""

    def __init__(self, progress: Progress, budget: int, width: int = 16) -> None:
        self._progress = progress
        self._width = width
        self._done = 0
        self._backend: Any = None
        progress.start(self._label("starting"), budget, "queries")
        progress.advance(0, "best -")

    def _label(self, phase: str) -> str:
        return f"{phase:<{self._width}}"

    def on_start(self, backend: Any) -> None:
        self._backend = backend

    def on_event(self, ctx: Any) -> None:
        best = ctx.best_search_metric()
        phase = ctx.phase
        if self._backend is not None and self._backend.replaying:
            phase = f"replay: {phase}"
        note = f"best {'-' if best is None else f'{best:.3f}'}"
        done = len(ctx.trials)
        if isinstance(self._progress, RichProgress):
            self._progress.update(done=done, what=self._label(phase), note=note)
        else:
            self._progress.advance(done - self._done, note)
        self._done = done
