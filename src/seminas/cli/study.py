"""The study commands of the ``seminas`` CLI that run a study: ``search --study``, resume,
worker, and the search summary every search prints (``show``, ``plot`` and ``export`` are in
:mod:`seminas.cli.study_views`). Errors are :class:`~seminas.errors.SeminasError` (one line,
exit 2). Ctrl-C exits 130 and SIGTERM (how SLURM, Kubernetes or ``kill`` stop a job) exits 143,
both after recording the interruption in the study and printing how to continue.
"""

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

DEFAULT_WORKER_WAIT = 5.0  # seconds a worker waits for a study that is being created


def _stopped_by(exc: BaseException) -> tuple[str, int]:
    """How to name an interruption, and the exit code (``128 + signal``: 130 or 143)."""
    from seminas.lifecycle import exit_code

    code = exit_code(exc)
    return ("terminated (SIGTERM)" if code == 128 + signal.SIGTERM else "interrupted"), code


# -- shared pieces ---------------------------------------------------------------------------
def print_result(
    args: argparse.Namespace, result: Any, evaluator: Any, study: str | None = None
) -> None:
    """The search's final summary (or its JSON with ``--json``), with or without a study."""
    data = result.to_dict()
    if getattr(args, "out", None):
        Path(args.out).write_text(json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data, indent=2))
        return
    best = result.best
    if study is not None:
        print(f"study         {study}")
    print(f"strategy      {result.strategy} (seed {result.seed})")
    print(f"queries       {len(result.trials)} of {result.budget}")
    failures = result.diagnostics.get("failures") or []
    if failures:
        print(f"failed        {len(failures)} (given up after their retries; not charged)")
    if best is None:
        print("best          none: no evaluation succeeded")
        return
    print(f"best          {json.dumps(best.arch)}")
    print(f"  id          {best.arch_id}")
    print(f"  search      {best.search_metric:.4f}  ({evaluator.search_metric_name})")
    report = "missing" if best.report_metric is None else f"{best.report_metric:.4f}"
    print(f"  report      {report}  ({evaluator.report_metric_name})")
    print(f"  found at    query {best.number + 1}")
    session = " (this session)" if study is not None else ""
    print(f"wall time     {result.wall_seconds:.1f} s{session}")
    costs = [t.cost_seconds for t in result.trials if t.cost_seconds is not None]
    if costs and result.evaluator.get("class") == "TrainingEvaluator":
        print(f"per query     {sum(costs) / len(costs):.1f} s of training on average "
              f"({sum(costs):.0f} s in all)")


def exit_status(result: Any) -> int:
    """0, or 2 after one line on stderr when the search stopped because evaluations kept
    failing (what finished was printed and, in a study, is saved)."""
    stopped = result.diagnostics.get("stopped")
    if stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return 2
    return 0


def study_info(evaluator: Any) -> dict[str, Any]:
    """Descriptive facts about the evaluator that a study keeps for display."""
    return {
        "evaluator": evaluator.describe(),
        "metrics": {
            "search": evaluator.search_metric_name,
            "report": evaluator.report_metric_name,
        },
    }


def _study_executor(args: argparse.Namespace, study: Any) -> Any:
    """The executor a study's search evaluates on, or None (in this process / by workers)."""
    from seminas.cli.execution import make_executor_from_args, wants_executor

    if args.workers_external:
        return None
    if args.workers is not None and args.workers != study.parallelism:
        raise SeminasError(
            f"study {study.location} runs with {study.parallelism} worker(s) (strategies that "
            f"fill every worker propose differently with more): use --workers "
            f"{study.parallelism}, or a new --study file"
        )
    train = study.config["evaluator"].get("evaluator") == "train"
    if not wants_executor(args, train, study.parallelism):
        return None
    return make_executor_from_args(args, workers=study.parallelism)


def _run(args: argparse.Namespace, study: Any, evaluator: Any) -> int:
    from seminas.cli.progress import SearchBar, progress_for
    from seminas.lifecycle import stop_signals
    from seminas.study import run_study

    try:
        executor = _study_executor(args, study)
    except BaseException:
        study.close()
        raise
    try:
        with stop_signals(), progress_for(args.quiet) as progress:
            bar = SearchBar(progress, study.budget, width=24)
            result = run_study(
                study,
                evaluator,
                local=not args.workers_external,
                on_event=bar.on_event,
                on_start=bar.on_start,
                executor=executor,
            )
        print_result(args, result, evaluator, study.location)
        status = exit_status(result)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see stop_signals)
        done = study.storage.counts()["done"]
        what, code = _stopped_by(exc)
        print(
            f"{what}: {done} of {study.budget} queries are saved in {study.location}; "
            f"continue with `seminas resume {study.location}`",
            file=sys.stderr,
        )
        return code
    finally:
        if executor is not None:
            executor.close()
        study.close()
    return status


# -- commands ---------------------------------------------------------------------------------
def search_with_study(
    args: argparse.Namespace, strategy: Any, evaluator: Any, preset: str | None
) -> int:
    """``seminas search … --study FILE``: create the study, or continue it if the config is
    the same (a different one is refused, naming the differences)."""
    from seminas.study import Study, evaluator_spec, make_config

    if not args.study:
        raise SeminasError("--workers-external needs --study FILE (workers share the study)")
    spec = evaluator_spec(
        args.space,
        dataset=args.dataset,
        fidelity=args.fidelity,
        nb101_file=args.nb101_file,
        epochs=args.epochs,
        seed=args.seed,
        evaluator=getattr(args, "evaluator", "table"),
        data=getattr(args, "data", None),
        network=getattr(args, "network", None),
        channels=getattr(args, "channels", None),
        cells=getattr(args, "cells", None),
    )
    parallelism = 1 if args.workers_external else (getattr(args, "workers", None) or 1)
    config = make_config(strategy, spec, args.budget, args.seed, preset, parallelism)
    study, created = Study.create_or_open(
        args.study, config, study_info(evaluator), journal=args.study_journal
    )
    try:
        _record_how_it_runs(study, args)
    except BaseException:
        study.close()
        raise
    if not created and not args.quiet:
        done = study.storage.counts()["done"]
        print(
            f"continuing study {args.study}: {done} of {study.budget} queries done",
            file=sys.stderr,
        )
    return _run(args, study, evaluator)


def _record_how_it_runs(study: Any, args: argparse.Namespace) -> None:
    """Keep how the search runs (not part of its config: it does not change the search), so
    that ``resume`` runs it the same way unless told otherwise."""
    study.storage.set_state("run", {"workers_external": bool(args.workers_external)})


def cmd_resume(args: argparse.Namespace) -> int:
    from seminas.study import Study

    study = Study.open(args.study)
    try:
        kept = ""
        if args.workers_external is None:  # as the study was run last
            run = study.storage.get_state("run") or {}
            args.workers_external = bool(run.get("workers_external", False))
            if args.workers_external:
                kept = (", evaluated by `seminas worker` processes as before "
                        "(--no-workers-external evaluates here)")
        _record_how_it_runs(study, args)
        if not args.quiet:
            done = study.storage.counts()["done"]
            print(
                f"resuming study {args.study}: {done} of {study.budget} queries done{kept}",
                file=sys.stderr,
            )
        from seminas.cli.execution import simulated_evaluator
        from seminas.cli.progress import progress_for

        with progress_for(args.quiet) as progress:  # a table converted once on this machine
            evaluator = simulated_evaluator(
                args, study.evaluator(data_dir=args.data_dir, progress=progress)
            )
    except BaseException:
        study.close()
        raise
    return _run(args, study, evaluator)


def cmd_worker(args: argparse.Namespace) -> int:
    from seminas.cli.progress import progress_for
    from seminas.lifecycle import stop_signals
    from seminas.study import run_worker

    study = _open_when_created(args.study, args.wait)
    try:
        with progress_for(args.quiet) as progress:  # a table converted once on this machine
            evaluator = study.evaluator(data_dir=args.data_dir, progress=progress)
        if not args.quiet:
            print(
                f"worker on {args.study}: evaluating its pending queries until the study is "
                f"complete (Ctrl-C stops)",
                file=sys.stderr,
            )

        def on_trial(row: Any, kept: bool) -> None:
            if not args.quiet:
                what = "done" if kept else "dropped (its claim had expired)"
                print(f"query {row.number + 1}: {row.arch_id} {what}", file=sys.stderr)

        try:
            with stop_signals():
                stats = run_worker(
                    study,
                    evaluator,
                    lease=args.lease,
                    poll=args.poll,
                    idle_timeout=args.idle_timeout,
                    max_trials=args.max_trials,
                    simulate_time=args.simulate_time,
                    on_trial=on_trial,
                )
        except KeyboardInterrupt as exc:
            what, code = _stopped_by(exc)
            print(f"worker {what}: its unfinished claim is back in the queue", file=sys.stderr)
            return code
    finally:
        study.close()
    out = {
        "worker": stats.worker,
        "evaluated": stats.evaluated,
        "dropped": stats.lost,
        "seconds": round(stats.seconds, 3),
    }
    if stats.leases_lost:
        out["leases_lost"] = stats.leases_lost
    print(json.dumps(out))
    return 0


def _open_when_created(path: str, wait: float) -> Any:
    """The study at ``path``, waiting up to ``wait`` seconds while it is still being created
    (its file exists, its study is not written yet); after that the study is taken to be one
    whose creation was interrupted, and the error says how to continue it."""
    from seminas.study import Study
    from seminas.study.storage import StudyNotReady

    deadline = time.monotonic() + max(0.0, wait)
    delay = 0.05
    while True:
        try:
            return Study.open(path)
        except StudyNotReady as exc:
            if time.monotonic() >= deadline:
                waited = f" (waited {wait:g} s)" if wait > 0 else ""
                raise StudyNotReady(f"{exc}{waited}") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# -- parser -----------------------------------------------------------------------------------
def add_search_options(search: argparse.ArgumentParser) -> None:
    """The study options of ``seminas search``."""
    search.add_argument(
        "--study",
        metavar="FILE",
        help="keep everything in this study file (created on first use); running the same "
        "command again, or `seminas resume FILE`, continues it exactly",
    )
    search.add_argument(
        "--workers-external",
        action="store_true",
        help="with --study: evaluate nothing here, `seminas worker FILE` processes do it",
    )
    search.add_argument(
        "--study-journal",
        choices=["wal", "delete"],
        default="wal",
        help="SQLite journal of a new study: wal (default; all processes on one host) or "
        "delete (a file on a network disk shared by several machines)",
    )


def add_commands(sub: Any) -> None:
    """Register resume, show, plot, export and worker on the CLI's subparsers."""
    from seminas.cli import study_views

    resume = sub.add_parser("resume", help="continue an interrupted study exactly")
    resume.add_argument("study", metavar="FILE")
    resume.add_argument("--json", action="store_true", help="print the result as JSON")
    resume.add_argument("--out", help="also write the result JSON to this file")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    resume.add_argument(
        "--workers-external",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="evaluate nothing here: `seminas worker FILE` processes do it (default: as the "
        "study was run last)",
    )
    from seminas.cli.execution import add_execution_options

    add_execution_options(resume)
    resume.set_defaults(func=cmd_resume)

    study_views.add_parsers(sub)  # show, plot, export

    from seminas.options import number

    worker = sub.add_parser("worker", help="evaluate a study's pending queries")
    worker.add_argument("study", metavar="FILE")
    worker.add_argument(
        "--lease", type=number(float, above=0, what="a number of seconds"), default=60.0,
        help="seconds a claim survives without a heartbeat (default 60)",
    )
    worker.add_argument("--poll", type=number(float, above=0, what="a number of seconds"),
                        default=0.2, help="seconds between looks for work")
    worker.add_argument(
        "--idle-timeout", type=number(float, low=0, what="a number of seconds"),
        help="stop after this many seconds without work (default: when the study is complete)",
    )
    worker.add_argument("--max-trials", type=positive_int, help="stop after this many queries")
    worker.add_argument(
        "--simulate-time", type=number(float, low=0), default=0.0, metavar="SCALE",
        help="sleep cost_seconds x SCALE after each tabular query (simulated training time)",
    )
    worker.add_argument(
        "--wait", type=number(float, low=0, what="a number of seconds"),
        default=DEFAULT_WORKER_WAIT, metavar="SECONDS",
        help="how long to wait for a study file whose creation is still under way "
        f"(default {DEFAULT_WORKER_WAIT:g})",
    )
    worker.add_argument("--quiet", action="store_true")
    worker.set_defaults(func=cmd_worker)
