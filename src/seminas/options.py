"""Options: declared where they are defined, checked by one validator, and shared CLI parsing.

Every option of a strategy, the controller, a predictor or an evaluator is a dataclass field
declared with :func:`opt`: its type is the field's annotation, its allowed range or choices are
the field's metadata. One validator (:func:`validate`) turns any violation -- a wrong type
(``true`` for a count, a list, ``null``), a value out of range, an unknown choice, an unknown
key -- into one :class:`OptionError` line that names the option, the value and what is allowed.
Classes that derive from :class:`Options` validate themselves when constructed, so the check
holds for the CLI, the bench, studies and the Python API alike.

The module also holds the parsing that every ``seminas`` subcommand shares: ``--set``, seeds,
numbers with a range, and output paths checked before any work starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from seminas.errors import SeminasError

_KEY = "seminas.option"
SEED_MAX = 2**32 - 1  # NumPy's and torch's seeds are fine beyond, but portable seeds fit 32 bits


class OptionError(SeminasError, ValueError):
    """An option value that its declaration does not allow (one line: option, value, allowed)."""

    def __init__(self, message: str, owner: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.owner = owner

    def within(self, owner: str) -> OptionError:
        """The same error, naming where the option belongs (e.g. ``strategy 're'``)."""
        return OptionError(self.message, owner)

    def __str__(self) -> str:
        return f"{self.owner}: {self.message}" if self.owner else self.message


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """What an option allows beyond its type: an inclusive (``low``/``high``) or exclusive
    (``above``/``below``) range, a set of ``choices``, or for free text a ``pattern`` (a regular
    expression the whole value must match, described by ``pattern_text``); ``doc`` says what
    it means."""

    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    label: str | None = None  # what an unknown choice is called ("WeakNAS predictor")
    pattern: str | None = None
    pattern_text: str = ""

    def range_text(self) -> str:
        if self.pattern is not None:
            return self.pattern_text or f"text matching {self.pattern}"
        if self.choices is not None:
            return "one of " + ", ".join(_show(c) for c in self.choices)
        parts = []
        if self.low is not None:
            parts.append(f">= {_num(self.low)}")
        elif self.above is not None:
            parts.append(f"> {_num(self.above)}")
        if self.high is not None:
            parts.append(f"<= {_num(self.high)}")
        elif self.below is not None:
            parts.append(f"< {_num(self.below)}")
        return " and ".join(parts)

    def in_range(self, value: Any) -> bool:
        if self.pattern is not None:
            import re

            return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None
        if self.choices is not None:
            return value in self.choices
        return (
            (self.low is None or value >= self.low)
            and (self.above is None or value > self.above)
            and (self.high is None or value <= self.high)
            and (self.below is None or value < self.below)
        )


def opt(
    default: Any = dataclasses.MISSING,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    below: float | None = None,
    choices: Iterable[Any] | None = None,
    doc: str = "",
    label: str | None = None,
    pattern: str | None = None,
    pattern_text: str = "",
) -> Any:
    """A dataclass field with its allowed values declared (the annotation gives its type).

    ``low``/``high`` are inclusive bounds, ``above``/``below`` exclusive ones; for a tuple
    option they bound each element. ``choices`` lists the allowed values of a text option;
    ``label`` names such a value in the error (``unknown WeakNAS predictor "svm"``); a text
    option whose values cannot be listed (a path) gives a ``pattern`` and its ``pattern_text``.
    """
    choices = None if choices is None else tuple(choices)
    spec = OptionSpec(low, high, above, below, choices, doc, label, pattern, pattern_text)
    return dataclasses.field(default=default, metadata={_KEY: spec})


def spec_of(field: dataclasses.Field) -> OptionSpec | None:
    """The declaration of a dataclass field, or None when it has none."""
    return field.metadata.get(_KEY)


def undeclared(cls: type) -> list[str]:
    """Fields of the dataclass ``cls`` declared without :func:`opt` (a test keeps it empty)."""
    return [f.name for f in dataclasses.fields(cls) if spec_of(f) is None]


# -- types ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Kind:
    base: type | None  # int, float, bool, str; None: a type this validator does not check
    nullable: bool = False
    sequence: bool = False  # tuple[base, ...]


def _kind(annotation: Any) -> _Kind:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = _kind(args[0]) if len(args) == 1 else _Kind(None)
        return dataclasses.replace(inner, nullable=True)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, bool, str):
            return _Kind(args[0], sequence=True)
        return _Kind(None)
    if annotation in (int, float, bool, str):
        return _Kind(annotation)
    return _Kind(None)


@functools.cache
def _kinds(cls: type) -> dict[str, _Kind]:
    hints = typing.get_type_hints(cls)
    return {f.name: _kind(hints.get(f.name, Any)) for f in dataclasses.fields(cls)}


_NOUN = {int: "a whole number", float: "a number", bool: "true or false", str: "a text"}
_PLURAL = {int: "whole numbers", float: "numbers", bool: "true/false values", str: "texts"}


def allowed_text(kind: _Kind, spec: OptionSpec | None) -> str:
    """What an option allows, in words (e.g. ``a whole number >= 1, or null``)."""
    if kind.base is None:
        return "a value of its declared type"
    rng = spec.range_text() if spec is not None else ""
    if kind.base is str and spec is not None and (
        spec.choices is not None or spec.pattern is not None
    ):
        text = rng
    else:
        text = _NOUN[kind.base] + (f" {rng}" if rng else "")
    if kind.sequence:
        text = f"a list of {_PLURAL[kind.base]}" + (f", each {rng}" if rng else "")
    if kind.nullable:
        text += ", or null"
    return text


def _scalar(value: Any, base: type) -> tuple[bool, Any]:
    """(accepted, normalised value) for one scalar of type ``base``; bool is never a number."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return (True, bool(value)) if base is bool else (False, value)
    if base is bool:
        return False, value
    if base is int:
        if isinstance(value, numbers.Integral):
            return True, int(value)
        return False, value
    if base is float:
        if not isinstance(value, numbers.Real):
            return False, value
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        return finite, value if type(value) in (int, float) else float(value)
    if base is str:
        return isinstance(value, str), value
    return True, value


def check_value(name: str, value: Any, kind: _Kind, spec: OptionSpec | None) -> Any:
    """``value`` normalised (NumPy scalars to Python, lists to tuples), or an OptionError."""
    if kind.base is None:
        return value
    if value is None:
        if kind.nullable:
            return None
        raise _refused(name, value, kind, spec)
    if kind.sequence:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _refused(name, value, kind, spec)
        items = []
        for item in value:
            ok, item = _scalar(item, kind.base)
            if not ok or (spec is not None and not spec.in_range(item)):
                raise _refused(name, value, kind, spec)
            items.append(item)
        return tuple(items)
    ok, value = _scalar(value, kind.base)
    if ok and spec is not None and spec.choices is not None and value not in spec.choices:
        what = spec.label or name
        raise OptionError(
            f"unknown {what} {_show(value)}: {name} must be {allowed_text(kind, spec)}"
        )
    if not ok or (spec is not None and not spec.in_range(value)):
        raise _refused(name, value, kind, spec)
    return value


def _refused(name: str, value: Any, kind: _Kind, spec: OptionSpec | None) -> OptionError:
    return OptionError(f"{name} must be {allowed_text(kind, spec)}, got {_show(value)}")


def refuse(name: str, value: Any, allowed: str) -> OptionError:
    """An OptionError for a constraint between options (``tournament_size`` vs population)."""
    return OptionError(f"{name} must be {allowed}, got {_show(value)}")


def validate(config: Any) -> None:
    """Check (and normalise in place) every field of the dataclass instance ``config`` against
    its annotation and declaration, then its cross-field checks (an ``_check`` method)."""
    kinds = _kinds(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        checked = check_value(f.name, value, kinds[f.name], spec_of(f))
        if checked is not value:
            object.__setattr__(config, f.name, checked)  # frozen dataclasses too
    check = getattr(config, "_check", None)
    if callable(check):
        check()


def check_keys(cls: type, given: Iterable[str], owner: str) -> None:
    """Refuse keys that are not fields of the dataclass ``cls``, naming the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise SeminasError(
            f"unknown option(s) {', '.join(unknown)} for {owner}; known: {', '.join(sorted(known))}"
        )


class Options:
    """Base of option dataclasses: constructing one validates it (see :func:`validate`).

    Subclasses may define ``_check(self)`` for constraints between options, raising
    :func:`refuse`.
    """

    def __post_init__(self) -> None:
        validate(self)


def describe_options(cls: type) -> list[dict[str, Any]]:
    """Each option of ``cls``: name, default, what it allows and its doc (for help texts)."""
    kinds = _kinds(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = spec_of(f)
        default = None if f.default is dataclasses.MISSING else f.default
        out.append(
            {
                "name": f.name,
                "default": default,
                "allowed": allowed_text(kinds[f.name], spec),
                "doc": "" if spec is None else spec.doc,
            }
        )
    return out


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _num(x: float | None) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# -- command-line parsing ------------------------------------------------------------------------
def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as a dict; VALUE is read as JSON when it parses, else a string."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SeminasError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def number(
    kind: type = float,
    low: float | None = None,
    above: float | None = None,
    high: float | None = None,
    what: str | None = None,
) -> Callable[[str], Any]:
    """An argparse ``type`` for a number with a range: ``number(float, above=0)`` is a positive
    number of seconds, ``number(int, low=0, high=SEED_MAX)`` a seed."""
    spec = OptionSpec(low=low, high=high, above=above)
    noun = what or _NOUN[kind]

    def parse(text: str) -> Any:
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if not spec.in_range(value):
            raise argparse.ArgumentTypeError(f"expected {noun} {spec.range_text()}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


seed_type = number(int, low=0, high=SEED_MAX, what="a seed (a whole number)")


def check_seed(seed: Any, what: str = "seed") -> int:
    """``seed`` as an int in 0..2**32-1, or a one-line error."""
    ok, value = _scalar(seed, int)
    if not ok or not 0 <= value <= SEED_MAX:
        raise SeminasError(f"{what} must be a whole number in 0..{SEED_MAX}, got {_show(seed)}")
    return value


# -- output paths --------------------------------------------------------------------------------
def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """A file the command will write at the end: refuse now, before any work, a directory, a
    missing parent directory, or a place that cannot be written."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise SeminasError(f"{option} {p} is a directory: give a file name")
    parent = p.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise SeminasError(f"{option} {p}: the directory {parent} {what}")
    if p.exists() and not os.access(p, os.W_OK):
        raise SeminasError(f"{option} {p} cannot be written (check its permissions)")
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise SeminasError(f"{option} {p}: cannot create files in {parent} (permissions)")
    return p


def check_output_dir(
    path: str | os.PathLike,
    option: str = "--out",
    files: Iterable[str] = (),
    dirs: Iterable[str] = (),
) -> Path:
    """A directory the command will fill (created if needed): refuse now a file in its place,
    an unwritable place, or a name inside it (``files``) taken by something other than a file
    (``dirs``: names that must be directories)."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise SeminasError(f"{option} {p} is a file, not a directory: give a directory")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise SeminasError(f"{option} {p} cannot be written (check its permissions)")
    else:
        anchor = p.parent
        while not anchor.exists() and anchor != anchor.parent:
            anchor = anchor.parent
        if not anchor.is_dir():
            raise SeminasError(f"{option} {p}: {anchor} is a file, not a directory")
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise SeminasError(f"{option} {p}: cannot create it inside {anchor} (permissions)")
    for name in files:
        inner = p / name
        if inner.exists() and not inner.is_file():
            raise SeminasError(
                f"{option} {p}: {inner} should be a file but is a directory or "
                f"something else: move it away"
            )
    for name in dirs:
        inner = p / name
        if inner.exists() and not inner.is_dir():
            raise SeminasError(
                f"{option} {p}: {inner} should be a directory but is a file: move it away"
            )
    return p


def given_options(namespace: argparse.Namespace) -> set[str]:
    """The ``dest`` names of options that the user wrote on the command line (recorded by
    :class:`Given` actions), so that options that do not apply can be refused."""
    return set(getattr(namespace, "_given", ()))


class Given(argparse.Action):
    """``store`` that also records that the option was given (see :func:`given_options`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._flag = kwargs.pop("flag", False)
        if self._flag:
            kwargs["nargs"] = 0
            kwargs.setdefault("default", False)
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True if self._flag else values)
        given = set(getattr(namespace, "_given", ()))
        given.add(self.dest)
        namespace._given = given


__all__ = [
    "Given",
    "OptionError",
    "OptionSpec",
    "Options",
    "SEED_MAX",
    "check_keys",
    "check_output_dir",
    "check_output_file",
    "check_seed",
    "check_value",
    "describe_options",
    "given_options",
    "number",
    "opt",
    "parse_overrides",
    "refuse",
    "seed_type",
    "spec_of",
    "undeclared",
    "validate",
]
