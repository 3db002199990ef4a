"""The ``seminas`` command line. Every user error ends as one line on stderr and exit code 2."""

# One module per command group (search, bench, study, data, supernet, ...), each adding its
# parsers and owning its printing; seminas.cli.progress is the only progress display. Nothing
# below this package imports it (pyproject.toml, [tool.importlinter]).

from __future__ import annotations

import argparse
import sys

from seminas.cli.input import Parser
from seminas.errors import SeminasError


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seminas")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The whole parser: every command group adds its own subcommands, in the order of --help."""
    from seminas.cli import (
        bench,
        dashboard,
        data,
        naap440,
        oneshot,
        plugins,
        predictor_study,
        search,
        space,
        study,
        supernet,
        tts,
        zero_cost,
    )
    from seminas.cli.input import prepare_parser

    parser = Parser(prog="seminas", description=__doc__)
    parser.add_argument("--version", action="version", version=f"seminas {_version()}")
    parser.add_argument(
        "--data-dir",
        help="benchmark data directory, then the only one read (default: $SEMINAS_DATA, the "
        "per-user data dir, ...; NAS-Bench-201 falls back to the table shipped with seminas; "
        "see `seminas data where`)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    data.add_parser(sub)
    space.add_parser(sub)
    search.add_parsers(sub)  # query, search
    study.add_commands(sub)  # resume, show, plot, export, worker
    dashboard.add_parser(sub)
    supernet.add_parser(sub)  # mobilenet ...
    tts.add_parser(sub)  # tts pipeline, tts train-supernet
    bench.add_parsers(sub)  # bench, experiment
    predictor_study.add_parser(sub)
    plugins.add_parser(sub)
    zero_cost.add_parser(sub)  # zero-cost study
    naap440.add_parser(sub)  # naap440 study
    oneshot.add_parser(sub)  # oneshot supernet, oneshot search
    prepare_parser(parser)  # --data-dir after the subcommand too; output kinds; given options
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors are one line and exit 2, Ctrl-C 130, SIGTERM 143."""
    from seminas.cli.input import check_args, one_line_warnings

    with one_line_warnings():  # e.g. a plugin's entry point ignored while listing names
        parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with one_line_warnings():  # "warning: ...", no source path or code line
            check_args(args)  # seeds, output paths: before any work
            return int(args.func(args) or 0)
    except SeminasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C; SIGTERM where a command maps it (bench)
        print(getattr(exc, "message", "") or "interrupted", file=sys.stderr)
        from seminas.lifecycle import exit_code

        return exit_code(exc)  # 130, or 143 for SIGTERM
    except BrokenPipeError:
        return 0


__all__ = ["build_parser", "main"]
