"""``seminas show``, ``plot`` and ``export``: a study's results. They only read: the study is
opened read-only, so they work on a read-only file, folder or file system. ``export --optuna
URL`` writes the study into an Optuna storage instead (once, or ``--follow`` while it runs),
through :mod:`seminas.integrations.optuna_export`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from seminas.cli.input import positive_int
from seminas.errors import SeminasError
from seminas.options import number

_DEFAULT_INTERVAL = 2.0  # seconds; optuna_export.DEFAULT_INTERVAL, without importing Optuna


def _console(**kwargs: Any) -> Any:
    """A rich console whose broken pipe (``seminas show | head -1``) ends the command quietly
    with exit 0, like ``print`` does in :func:`seminas.cli.main` (rich itself exits 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(**kwargs)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cmd_show(args: argparse.Namespace) -> int:
    from rich.table import Table

    from seminas.study import Study
    from seminas.study.report import summary

    with Study.open(args.study, read_only=True) as study:
        data = summary(study, top=args.top)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    console = _console()
    if not console.is_terminal:  # a file or a pipe: room for whole architecture strings
        console = _console(width=180)
    q = data["queries"]
    ev = data["evaluator"]
    bench = ", ".join(f"{k} {v}" for k, v in ev.items() if k != "space" and v is not None)
    preset = f" (preset {data['preset']})" if data["preset"] else ""
    console.print(f"study     {data['study']}  ({data['state']})", markup=False)
    if data.get("stopped"):  # why it ended before its budget
        console.print(f"          {data['stopped']}", markup=False, highlight=False)
    console.print(
        f"search    {data['strategy']}{preset}, seed {data['seed']}, on {ev['space']}"
        + (f" ({bench})" if bench else "")
    )
    others = ", ".join(f"{v} {k}" for k, v in q.items() if k != "done" and v)
    console.print(
        f"queries   {q['done']} of {data['budget']} done" + (f" ({others})" if others else "")
    )
    best = Table(title="best architectures", title_justify="left")
    for col in ("rank", "query", "iter", "architecture", "search", "report"):
        if col == "architecture":
            best.add_column(col, overflow="fold")
        else:
            best.add_column(col, justify="right", no_wrap=True)
    for b in data["best"]:
        arch = b["arch"] if isinstance(b["arch"], str) else json.dumps(b["arch"])
        best.add_row(
            str(b["rank"]),
            str(b["query"]),
            str(b["iteration"]),
            arch,
            _fmt(b["search_metric"], 3),
            _fmt(b["report_metric"], 3),
        )
    console.print(best)
    metrics = data["metrics"]
    if metrics:
        console.print(f"search: {metrics.get('search')}; report: {metrics.get('report')}")
    phases = Table(title="time per phase (search processes)", title_justify="left")
    phases.add_column("phase")
    phases.add_column("seconds", justify="right")
    phases.add_column("share", justify="right")
    total = sum(data["phase_seconds"].values()) or 1.0
    for phase, sec in data["phase_seconds"].items():
        phases.add_row(phase, f"{sec:.1f}", f"{100 * sec / total:.0f}%")
    console.print(phases)
    if data["worker_seconds"]:
        work = ", ".join(f"{k} {v:.1f} s" for k, v in data["worker_seconds"].items())
        console.print(f"workers   {work}")
    if data["evaluation_cost_seconds"] is not None:
        hours = data["evaluation_cost_seconds"] / 3600
        console.print(f"training time the queries stand for: {hours:.1f} h")
    if data["predictor"]:
        taus = "  ".join(
            f"{p['iteration']}: {_fmt(p['kendall_tau'], 2)}" for p in data["predictor"]
        )
        console.print(f"predictor Kendall tau on its own proposals, per iteration:  {taus}")
    sessions = Table(title="sessions", title_justify="left")
    for col in ("id", "kind", "status", "evaluated", "replayed", "seconds"):
        sessions.add_column(col, justify="left" if col in ("kind", "status") else "right")
    for s in data["sessions"]:
        sessions.add_row(
            str(s["id"]),
            s["kind"],
            s["status"],
            str(s["evaluated"]),
            str(s["replayed"]),
            _fmt(s["seconds"], 1),
        )
    console.print(sessions)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from seminas.study import Study
    from seminas.study.report import kendall_by_iteration, plot

    with Study.open(args.study, read_only=True) as study:
        done = study.done()
        if not done:
            raise SeminasError(f"study {args.study} has no finished query to plot yet")
        name = getattr(study.storage, "study_name", None)  # a study on a database server
        path = Path(args.study.removeprefix("sqlite:///"))
        default = Path(f"{name}-plots") if name else path.parent / f"{path.stem}-plots"
        out = Path(args.out) if args.out else default
        try:
            paths = plot(study, out)
        except OSError as exc:
            hint = "" if args.out else "; choose another folder with --out DIR"
            raise SeminasError(
                f"cannot write the plots to {out}: {exc.strerror or exc}{hint}"
            ) from None
        taus = kendall_by_iteration(done)
        complete = study.complete() or bool(study.storage.get_state("stopped"))
    for p in paths:
        print(p)
    if not taus:
        if complete:
            note = "no predictions recorded: this strategy does not predict accuracy"
        else:  # a running or interrupted study: its first iteration has no predictions
            note = (f"no predictions yet: {len(done)} of {study.budget} queries are finished "
                    f"and none was proposed by a predictor; predictions.png needs an iteration "
                    f"after the first with finished queries, plot again later")
        print(f"({note})", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from seminas.study import Study
    from seminas.study.report import best_entries

    if args.optuna is not None:
        return _export_to_optuna(args)
    for flag, given in (
        ("--follow", args.follow),
        ("--optuna-study", args.optuna_study is not None),
        ("--interval", args.interval is not None),
    ):
        if given:
            raise SeminasError(f"{flag} is for writing an Optuna storage: give --optuna URL too")
    if args.all and args.best:
        raise SeminasError("export either --best [--top K] or --all, not both")
    with Study.open(args.study, read_only=True) as study:
        if args.all:
            from seminas.study.report import trial_summary

            out = [trial_summary(t) for t in study.done()]
        else:
            out = best_entries(study, args.top or 1)
    print(json.dumps(out, indent=2))
    return 0


def _export_to_optuna(args: argparse.Namespace) -> int:
    """``export --optuna URL``: the finished queries written into an Optuna storage (once, or
    with ``--follow`` until the search is complete), then one summary line."""
    if args.all or args.best or args.top is not None:
        raise SeminasError("--optuna writes every finished query: drop --best, --top and --all")
    if args.interval is not None and not args.follow:
        raise SeminasError("--interval is the pause between two passes of --follow: add --follow")
    try:
        import optuna

        from seminas.integrations import optuna_export
    except ImportError:
        raise SeminasError("--optuna needs Optuna: pip install 'seminas[optuna]'") from None
    from seminas.study import Study

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" on stderr
    if not args.follow:
        with Study.open(args.study, read_only=True) as study:
            result = optuna_export.export_to_optuna(study, args.optuna, args.optuna_study)
        print(result.summary())
        return 0
    return _follow(args, optuna_export)


def _open_read_only(location: str, wait: float) -> Any:
    """The study, read-only, waiting up to ``wait`` seconds for a search that is still
    creating it (a mirror started together with its search: the file may not exist yet)."""
    from seminas.study import Study
    from seminas.study.storage import StudyError, StudyNotReady

    deadline = time.monotonic() + wait
    while True:
        try:
            return Study.open(location, read_only=True)
        except StudyError as exc:
            being_created = isinstance(exc, StudyNotReady) or (
                "://" not in location and not Path(location).exists()
            )
            if not being_created or time.monotonic() >= deadline:
                raise
        time.sleep(0.1)


def _follow(args: argparse.Namespace, optuna_export: Any) -> int:
    """``export --optuna URL --follow``: a live mirror with a progress bar; Ctrl-C (exit 130)
    or SIGTERM (143) stop it, keeping what it wrote."""
    from seminas.cli.progress import RichProgress, progress_for
    from seminas.cli.study import DEFAULT_WORKER_WAIT
    from seminas.lifecycle import exit_code, stop_signals

    interval = optuna_export.DEFAULT_INTERVAL if args.interval is None else args.interval
    shown = optuna_export.optuna_url(args.optuna)[1]  # a bad URL: one line before any wait
    if not args.quiet:
        print(
            f"mirroring study {args.study} into {shown} every {interval:g} s until its search "
            f"is complete (Ctrl-C stops)",
            file=sys.stderr,
        )
    seen: dict[str, Any] = {"written": 0, "name": args.optuna_study, "started": False}
    try:
        with stop_signals(), progress_for(args.quiet) as progress:

            def on_sync(result: Any, study: Any) -> None:
                written = result.added + result.existing
                if not seen["started"]:
                    progress.start("optuna mirror", study.budget, "queries")
                    seen["started"] = True
                best = study.best(1)
                shown_best = f"{best[0].search_metric:.3f}" if best else "-"
                note = f"best {shown_best}  {result.unfinished} pending or running"
                if isinstance(progress, RichProgress):
                    progress.update(done=written, note=note)
                else:
                    progress.advance(written - seen["written"], note)
                seen.update(written=written, name=result.study_name)

            result = optuna_export.follow(
                args.study,
                args.optuna,
                args.optuna_study,
                interval=interval,
                on_sync=on_sync,
                open_study=lambda where: _open_read_only(where, DEFAULT_WORKER_WAIT),
            )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see stop_signals)
        code = exit_code(exc)
        what = "terminated (SIGTERM)" if code == 128 + signal.SIGTERM else "interrupted"
        name = f" study {seen['name']!r}" if seen["name"] else ""
        print(
            f"{what}: {seen['written']} queries of {args.study} are in {shown}{name}; run the "
            f"same command again to continue",
            file=sys.stderr,
        )
        return code
    print(result.summary())
    return 0


# -- parser -----------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """Register show, plot and export on the CLI's subparsers."""
    show = sub.add_parser("show", help="a study's summary: best architectures, time per phase")
    show.add_argument("study", metavar="FILE")
    show.add_argument("--top", type=positive_int, default=5, help="best architectures shown")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=cmd_show)

    plot = sub.add_parser("plot", help="PNGs: best so far vs queries; predicted vs true")
    plot.add_argument("study", metavar="FILE")
    plot.add_argument("--out", metavar="DIR", help="output folder (default: FILE's stem-plots)")
    plot.set_defaults(func=cmd_plot)

    export = sub.add_parser(
        "export", help="the best architectures as JSON; or the study into an Optuna storage"
    )
    export.add_argument("study", metavar="FILE")
    export.add_argument("--best", action="store_true", help="the best architectures (default)")
    export.add_argument("--top", type=positive_int, help="how many, with --best (default 1)")
    export.add_argument("--all", action="store_true", help="every finished query, in order")
    export.add_argument(
        "--optuna", metavar="URL",
        help="write every finished query into this Optuna storage (sqlite:///optuna.db, "
        "postgresql://USER@HOST/DB) for optuna-dashboard; again later adds only the new ones",
    )
    export.add_argument(
        "--optuna-study", metavar="NAME",
        help="the Optuna study to write (default: the study's file stem or server name)",
    )
    export.add_argument(
        "--follow", action="store_true",
        help="with --optuna: keep mirroring while the search runs, until it is complete",
    )
    export.add_argument(
        "--interval", type=number(float, above=0, what="a number of seconds"),
        metavar="SECONDS",
        help=f"with --follow: seconds between two passes (default {_DEFAULT_INTERVAL:g})",
    )
    export.add_argument("--quiet", action="store_true", help="no progress bar (with --follow)")
    export.set_defaults(func=cmd_export)
