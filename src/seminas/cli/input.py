"""Command-line input shared by every ``seminas`` subcommand: the parser class, argument types,
the benchmark options, and the checks made before any work.

:func:`seminas.cli.build_parser` calls :func:`prepare_parser` once the parser is built and
:func:`seminas.cli.main` calls :func:`check_args` right after parsing, so that:

- ``--data-dir`` is accepted after the subcommand as well as before it;
- every ``--out`` is checked for its kind (a file, or a directory to fill) before anything runs,
  rather than after a whole search has run;
- every ``--seed`` lies in 0..2**32-1;
- benchmark options that do not apply to the chosen space and evaluator (``--epochs`` on a
  NAS-Bench-201 table, ``--dataset`` on NAS-Bench-101) are refused in one line;
- warnings print as one ``warning: ...`` line, without source paths or code.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seminas.errors import SeminasError
from seminas.options import Given, check_output_dir, check_output_file, check_seed, given_options


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (budgets, workers, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value

# What each command's --out names: a file written at the end, or a directory it fills. A command
# not listed here is judged by its help text ("directory"/"folder": a directory).
OUTPUT_KINDS = {
    "seminas search": "file",
    "seminas resume": "file",
    "seminas bench": "dir",
    "seminas plot": "dir",
    "seminas study-predictor": "dir",
    "seminas mobilenet pipeline": "dir",
    "seminas mobilenet train-supernet": "file",
    "seminas mobilenet search": "file",
    "seminas mobilenet train": "file",
    "seminas tts pipeline": "dir",
    "seminas tts train-supernet": "file",
    "seminas zero-cost study": "dir",
    "seminas naap440 study": "dir",
    "seminas naap440 early": "dir",
    "seminas oneshot supernet": "dir",
    "seminas oneshot search": "dir",
    "seminas oneshot report": "dir",
}

# The benchmark options of query/search/bench: the namespace key, the flag, and the evaluator
# option it feeds (a space's table or an evaluator kind takes the options its entry declares).
BENCHMARK_FLAGS = {
    "dataset": "--dataset",
    "fidelity": "--fidelity",
    "nb101_file": "--nb101-file",
    "epochs": "--epochs",
}


def add_benchmark_options(p: argparse.ArgumentParser) -> None:
    """``--space``, ``--dataset``, ``--fidelity``, ``--nb101-file``, ``--epochs`` of query,
    search and bench (every registered space, built-in or installed plugin)."""
    from seminas.registry import space_names

    p.add_argument("--space", choices=space_names(), default="nb201")
    p.add_argument(
        "--dataset",
        help="nb201: cifar10 (default), cifar100 or ImageNet16-120; another space: its own",
    )
    p.add_argument("--fidelity", type=int, help="nb201: 200 (default) or 12 epochs")
    p.add_argument("--nb101-file", help="official nasbench_only108/full .tfrecord")
    p.add_argument("--epochs", type=int, default=108, help="nb101: 4, 12, 36 or 108")


def leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser that runs a command (the ones without subcommands of their own)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    for action in subs:
        seen: set[int] = set()
        for child in action.choices.values():
            if id(child) not in seen:  # aliases map to the same parser
                seen.add(id(child))
                yield from leaf_parsers(child)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def output_kind(parser: argparse.ArgumentParser) -> str | None:
    """``"file"``, ``"dir"`` or None (no ``--out``) for one command's parser."""
    action = _option(parser, "--out")
    if action is None:
        return None
    if parser.prog in OUTPUT_KINDS:
        return OUTPUT_KINDS[parser.prog]
    text = f"{action.help or ''} {action.metavar or ''}".lower()
    return "dir" if ("director" in text or "folder" in text or "dir" == text.strip()) else "file"


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    """Give every command ``--data-dir`` (after the subcommand too) and its output kind, and
    record which benchmark options the user writes."""
    top = _option(parser, "--data-dir")
    for leaf in leaf_parsers(parser):
        if _option(leaf, "--data-dir") is None and top is not None:
            leaf.add_argument("--data-dir", default=argparse.SUPPRESS, help=top.help)
        kind = output_kind(leaf)
        if kind is not None:
            leaf.set_defaults(_out_kind=kind)
        mark_given(leaf, *BENCHMARK_FLAGS.values())


def check_args(args: argparse.Namespace) -> None:
    """The checks every command shares, before it starts: seeds, output paths."""
    if getattr(args, "seed", None) is not None:
        args.seed = check_seed(args.seed, "--seed")
    out = getattr(args, "out", None)
    kind = getattr(args, "_out_kind", None)
    if out and kind == "file":
        check_output_file(out, "--out")
    elif out and kind == "dir":
        check_output_dir(out, "--out")


def refuse_inapplicable(args: argparse.Namespace, evaluator: str | None = "table") -> None:
    """Refuse benchmark options given on the command line that the chosen space's evaluator
    does not take (``--epochs`` on a NAS-Bench-201 table, ``--fidelity`` on NAS-Bench-101,
    ``--dataset`` with ``--evaluator train``), naming the ones it does take."""
    given = given_options(args) & set(BENCHMARK_FLAGS)
    if not given:
        return
    from seminas.registry import evaluator_entry, space_entry

    space = space_entry(args.space)
    kind = evaluator_entry(evaluator or "table")
    takes = set(kind.option_defaults(space))
    for dest in sorted(given - takes):
        usable = [BENCHMARK_FLAGS[k] for k in BENCHMARK_FLAGS if k in takes]
        what = f"{space.name} with --evaluator {kind.name}"
        raise SeminasError(
            f"{BENCHMARK_FLAGS[dest]} does not apply to {what}"
            + (f" (it takes {', '.join(usable)})" if usable else "")
            + "; drop it"
        )


def check_query_args(args: argparse.Namespace) -> None:
    """``seminas query``: one way to name the architecture, and options of the right space."""
    named = [
        f
        for f, v in (
            ("--arch", args.arch),
            ("--index", args.index),
            ("--hash", getattr(args, "hash", None)),
        )
        if v is not None
    ]
    if len(named) > 1:
        raise SeminasError(
            f"give one of {' / '.join(named)}, not several: they name one architecture each"
        )
    if args.space != "nb101":
        for flag, dest in (("--subset", "subset"), ("--hash", "hash")):
            if getattr(args, dest, None):
                raise SeminasError(
                    f"{flag} is for nb101; a {args.space} query takes --arch or --index"
                )
    elif args.index is not None:
        raise SeminasError("--index is for nb201; an nb101 query takes --hash or --arch")
    if args.space != "nb201":
        for flag, dest in (("--run-seed", "run_seed"), ("--at-epoch", "at_epoch")):
            if getattr(args, dest, None) is not None:
                raise SeminasError(
                    f"{flag} is for nb201 tables imported from official files; an "
                    f"{args.space} query takes --seed (nb101: which run) instead"
                )
    refuse_inapplicable(args, "table")


def mark_given(parser: argparse.ArgumentParser, *flags: str) -> None:
    """Record when the user writes one of ``flags`` (see :func:`seminas.options.given_options`):
    the option's action is swapped for a :class:`~seminas.options.Given` with the same settings."""
    for flag in flags:
        action = _option(parser, flag)
        if action is None or isinstance(action, Given):
            continue
        is_flag = isinstance(action, argparse._StoreTrueAction)
        if not is_flag and not isinstance(action, argparse._StoreAction):
            continue
        parser._remove_action(action)
        for group in parser._action_groups:
            if action in group._group_actions:
                group._group_actions.remove(action)
        for s in action.option_strings:
            parser._option_string_actions.pop(s, None)
        kwargs: dict[str, Any] = {
            "dest": action.dest,
            "help": action.help,
            "default": action.default,
            "action": Given,
        }
        if is_flag:
            kwargs["flag"] = True
        else:
            kwargs.update(type=action.type, metavar=action.metavar, choices=action.choices)
        parser.add_argument(*action.option_strings, **kwargs)


def _one_line(
    message: Any, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    return f"warning: {message}\n"


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings print as ``warning: MESSAGE`` (no source path, no code line) while the CLI runs."""
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line  # type: ignore[assignment]
    try:
        yield
    finally:
        warnings.formatwarning = previous


__all__ = [
    "BENCHMARK_FLAGS",
    "OUTPUT_KINDS",
    "Parser",
    "add_benchmark_options",
    "check_args",
    "check_query_args",
    "leaf_parsers",
    "mark_given",
    "one_line_warnings",
    "output_kind",
    "positive_int",
    "prepare_parser",
    "refuse_inapplicable",
]
