"""Progress: library code reports through seminas.progress.Progress and prints nothing; the
command line's one display (seminas.cli.progress) draws it on stderr, only for a terminal."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from seminas.cli.progress import RichProgress, SearchBar, progress_for
from seminas.progress import NO_PROGRESS, CallbackProgress


def recorder() -> tuple[CallbackProgress, list[tuple]]:
    calls: list[tuple] = []
    progress = CallbackProgress(
        on_start=lambda what, total, unit: calls.append(("start", what, total, unit)),
        on_advance=lambda n, note: calls.append(("advance", n, note)),
        on_finish=lambda: calls.append(("finish",)),
    )
    return progress, calls


def test_no_bars_when_quiet_or_not_a_terminal(monkeypatch):
    with progress_for(quiet=True) as progress:
        assert progress is NO_PROGRESS
    with progress_for() as progress:  # pytest's stderr is not a terminal
        assert progress is NO_PROGRESS
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with progress_for(quiet=True) as progress:
        assert progress is NO_PROGRESS
    with progress_for() as progress:  # a terminal: bars
        assert isinstance(progress, RichProgress)


def test_rich_progress_draws_one_row_per_phase(capsys):
    bar = RichProgress()
    bar.start("NAS-Bench-101: hashing cells", 10, "cells")
    bar.advance(3, "[not markup]")
    bar.start("converting x.tfrecord", 2048, "bytes")
    bar.advance(1024)
    bar.finish()
    bar.close()
    err = capsys.readouterr().err  # not a terminal: rich prints the final rows once
    assert "NAS-Bench-101: hashing cells" in err and "3/10 cells  [not markup]" in err
    assert "converting x.tfrecord" in err and "/2.0 kB" in err
    bar.advance(5)  # after close: ignored, no error


def test_transient_rows_vanish(capsys):
    bar = RichProgress(transient=True)
    bar.start("reading a.pth", 10, "bytes")
    bar.close()
    assert "reading a.pth" not in capsys.readouterr().err


@pytest.mark.parametrize("rich", [False, True])
def test_search_bar_follows_a_search(rich, capsys):
    progress, calls = recorder()
    target = RichProgress() if rich else progress
    bar = SearchBar(target, budget=5, width=10)
    backend = SimpleNamespace(replaying=True)
    bar.on_start(backend)
    ctx = SimpleNamespace(trials=[1, 2], phase="pretrain", best_search_metric=lambda: 91.5)
    bar.on_event(ctx)
    backend.replaying = False
    ctx = SimpleNamespace(trials=[1, 2, 3], phase="evaluation", best_search_metric=lambda: 92.0)
    bar.on_event(ctx)
    if rich:
        target.close()
        err = capsys.readouterr().err
        assert "evaluation" in err and "3/5 queries  best 92.000" in err
    else:
        assert calls == [
            ("start", "starting  ", 5, "queries"),
            ("advance", 0, "best -"),
            ("advance", 2, "best 91.500"),
            ("advance", 1, "best 92.000"),
        ]


def test_enumeration_reports_its_phases_and_prints_nothing(capsys):
    from seminas.spaces import nb101_enum as ne

    progress, calls = recorder()
    enum = ne.build(max_vertices=4, progress=progress, workers=1)
    assert [c[1] for c in calls if c[0] == "start"] == [
        "NAS-Bench-101: graph classes", "NAS-Bench-101: hashing cells"
    ]
    hashing = calls.index(next(c for c in calls if c[1:2] == ("NAS-Bench-101: hashing cells",)))
    assert calls[hashing][2] == len(enum)
    assert sum(c[1] for c in calls[hashing:] if c[0] == "advance") == len(enum)
    assert calls[-1] == ("finish",)
    ne.build(max_vertices=4, workers=1)  # default: silent
    assert capsys.readouterr() == ("", "")


def test_only_the_command_line_draws():
    """rich is imported by the command line only, and its bars by seminas.cli.progress only:
    library code reports through seminas.progress and never draws or prints a bar itself."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "seminas"
    for path in sorted(src.rglob("*.py")):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module)
        rel = path.relative_to(src).as_posix()
        if not rel.startswith("cli/"):
            assert not any(m == "rich" or m.startswith("rich.") for m in modules), rel
        elif rel != "cli/progress.py":
            assert "rich.progress" not in modules, rel
