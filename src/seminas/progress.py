"""How library code says how far a long operation is, without drawing anything.

Long operations (a bench, a predictor study, an import, a supernet's training, an enumeration)
take a ``progress: Progress`` argument and call :meth:`Progress.start`, :meth:`Progress.advance`
and :meth:`Progress.finish`. The base class does nothing, so library users and tests get silence
by default; the command line hands in the one rich-drawn implementation
(``seminas.cli.progress``), and a notebook or a service can hand in its own (a subclass, or
:class:`CallbackProgress` around three functions).
"""

from __future__ import annotations

from collections.abc import Callable


class Progress:
    """Receives progress reports; every method is a no-op here. Subclass to show them."""

    def start(self, what: str, total: float | None = None, unit: str = "") -> None:
        """A new phase begins: ``what`` names it, ``total`` is its size in ``unit`` (or unknown)."""

    def advance(self, n: float = 1, note: str | None = None) -> None:
        """``n`` more units of the current phase are done; ``note`` is a short status, if any."""

    def finish(self) -> None:
        """The current phase is over (also called when it stops early)."""


NO_PROGRESS = Progress()


class CallbackProgress(Progress):
    """A :class:`Progress` that forwards each report to a function, when one is given."""

    def __init__(
        self,
        on_start: Callable[[str, float | None, str], None] | None = None,
        on_advance: Callable[[float, str | None], None] | None = None,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self._on_start = on_start
        self._on_advance = on_advance
        self._on_finish = on_finish

    def start(self, what: str, total: float | None = None, unit: str = "") -> None:
        if self._on_start is not None:
            self._on_start(what, total, unit)

    def advance(self, n: float = 1, note: str | None = None) -> None:
        if self._on_advance is not None:
            self._on_advance(n, note)

    def finish(self) -> None:
        if self._on_finish is not None:
            self._on_finish()
