"""``seminas show``, ``plot`` and ``export``: a study's results. They only read: the study is
opened read-only, so they work on a read-only file, folder or file system."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from seminas.cli.input import positive_int
from seminas.errors import SeminasError


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

    if args.all and args.best:
        raise SeminasError("export either --best [--top K] or --all, not both")
    with Study.open(args.study, read_only=True) as study:
        if args.all:
            from seminas.study.report import trial_summary

            out = [trial_summary(t) for t in study.done()]
        else:
            out = best_entries(study, args.top)
    print(json.dumps(out, indent=2))
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

    export = sub.add_parser("export", help="the best architectures as JSON, native notation")
    export.add_argument("study", metavar="FILE")
    export.add_argument("--best", action="store_true", help="the best architectures (default)")
    export.add_argument("--top", type=positive_int, default=1, help="how many, with --best")
    export.add_argument("--all", action="store_true", help="every finished query, in order")
    export.set_defaults(func=cmd_export)
