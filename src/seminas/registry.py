"""Registries: every search space, strategy, evaluator kind and predictor seminas can use by name.

One mechanism serves the built-ins and other packages alike. Each kind of thing is a Python
entry-point group:

==========================  ==================================================================
``seminas.spaces``          a :class:`SpaceEntry`: how to build the space, its tabular benchmark
                            and that table's options, its trainable network, its predictor
                            features and catalog, its ``seminas query`` handler
``seminas.strategies``      a :class:`~seminas.strategies.base.Strategy` subclass
``seminas.evaluators``      an :class:`EvaluatorEntry`: an evaluator kind (``--evaluator``) and
                            the options a study stores to rebuild it
``seminas.predictors``      a predictor class or factory, called as ``factory(seed=..., **options)``
                            and giving an object with ``fit(X, y) -> self`` and ``predict(X)``
==========================  ==================================================================

The built-ins are :class:`importlib.metadata.EntryPoint` objects declared below; an installed
distribution adds its own in its metadata (``[project.entry-points."seminas.spaces"]`` in its
``pyproject.toml``; see ``docs/extending.md``). Both are discovered by the same function and
loaded by the same ``EntryPoint.load`` on first use, so listing names imports nothing: asking
for ``rs`` never imports the torch models of the controller strategies. A name that a plugin
shares with a built-in is ignored with a :class:`RegistryWarning` (the built-in wins).

``register_*`` adds an entry in this process only (tests, notebooks); processes started by a
bench or an executor do not see it, so a package meant for ``seminas bench`` declares entry
points instead.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from seminas.errors import SeminasError

if TYPE_CHECKING:
    from seminas.benchmarks.base import Evaluator
    from seminas.progress import Progress
    from seminas.spaces.base import SearchSpace
    from seminas.strategies.base import Strategy

T = TypeVar("T")
# A callable, or where importing it should wait until it is used, its "module:attribute" name.
Ref = Any

SPACES = "seminas.spaces"
STRATEGIES = "seminas.strategies"
EVALUATORS = "seminas.evaluators"
PREDICTORS = "seminas.predictors"

# The evaluator options the command line passes to every evaluator (``--dataset``, ``--epochs``,
# ...); a space's table and an evaluator kind each take the ones they declare.
CLI_OPTIONS = (
    "dataset",
    "fidelity",
    "nb101_file",
    "epochs",
    "seed",
    "data",
    "network",
    "channels",
    "cells",
)


class RegistryWarning(UserWarning):
    """An installed plugin's entry point was ignored (its name is taken)."""


class PluginError(SeminasError):
    """A registered entry could not be loaded, or is not what its group holds."""


def resolve(ref: Ref) -> Any:
    """The object a :data:`Ref` names: ``"pkg.module:attr.sub"`` is imported, anything else is
    returned as it is."""
    if not isinstance(ref, str):
        return ref
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise PluginError(f"bad reference {ref!r}: expected 'package.module:attribute'")
    obj: Any = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with the keyword arguments it accepts (all of them if it takes ``**kw``), so
    that a plugin's factory need not declare ``data_dir`` or ``progress`` it does not use."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature (a builtin): pass everything
        return fn(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return fn(*args, **kwargs)
    names = {p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return fn(*args, **{k: v for k, v in kwargs.items() if k in names})


# -- what a registry holds ----------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkEntry:
    """How to build a trainable PyTorch network of a space's architecture.

    ``build(arch, num_classes=..., in_channels=..., **settings) -> nn.Module``; ``sizes`` maps
    the named sizes (``cpu``, ``standard``) to the width/depth ``settings`` (or is a reference to
    such a mapping, or to a function returning it, imported when used); ``width`` and ``depth``
    name the settings that
    ``--channels`` and ``--cells`` override.
    """

    build: Ref
    sizes: Ref
    width: str
    depth: str

    def settings(self, size: str) -> dict[str, int]:
        sizes = resolve(self.sizes)
        if callable(sizes):
            sizes = sizes()
        if size not in sizes:
            raise SeminasError(f"unknown network size {size!r}: choose {' or '.join(sizes)}")
        return dict(sizes[size])


@dataclass(frozen=True)
class SpaceEntry:
    """Everything seminas knows about one search space, found by its ``name``.

    - ``space()``: a fresh space (the whole space; a table may restrict its own copy).
    - ``table(data_dir=..., progress=..., **options)``: its tabular benchmark, an
      :class:`~seminas.benchmarks.base.Evaluator` (``evaluator="table"``), taking the options
      named in ``table_options`` (with their defaults; a study stores exactly these);
      ``progress`` is a :class:`~seminas.progress.Progress` to report long work to, or None.
      ``check_table_options(options) -> options`` normalises them or raises a
      :class:`~seminas.errors.SeminasError` before any work starts.
    - ``network``: a :class:`NetworkEntry` for real training (``evaluator="train"``).
    - ``features(archs) -> float32 [n, f]``: the flat encoding predictors (GBDT, MLP) read;
      without it, the one-hot of the space's tokens. ``catalog(space) -> Catalog | None``:
      every cell with its features, for strategies that rank the whole space.
      ``space_class`` (the space's type) makes sure both only meet their own space's objects.
    - ``query(args) -> (evaluator, record)``: ``seminas query`` for this space; without it,
      ``--arch`` is parsed as the space's native notation (JSON or a plain string) and
      ``--index`` asks the table's ``arch_at``.

    Any callable may be given as a ``"module:attribute"`` string, imported on first use, so an
    entry module stays cheap to import.
    """

    name: str
    space: Ref
    description: str = ""
    aliases: tuple[str, ...] = ()
    table: Ref | None = None
    table_options: Mapping[str, Any] = field(default_factory=dict)
    check_table_options: Ref | None = None
    network: NetworkEntry | None = None
    features: Ref | None = None
    catalog: Ref | None = None
    space_class: Ref | None = None
    query: Ref | None = None

    def make_space(self) -> SearchSpace:
        return resolve(self.space)()

    def owns(self, space: Any) -> bool:
        """Whether ``space`` is this entry's space (by name, and by type where declared)."""
        if getattr(space, "name", None) != self.name:
            return False
        return self.space_class is None or isinstance(space, resolve(self.space_class))

    def table_spec(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The table's options from ``options`` (``None`` or missing: the default)."""
        return _options_with_defaults(self.table_options, options)

    def make_table(
        self,
        options: Mapping[str, Any] | None = None,
        data_dir: str | os.PathLike | None = None,
        progress: Progress | None = None,
    ) -> Evaluator:
        if self.table is None:
            raise SeminasError(
                f"search space {self.name!r} has no tabular benchmark: choose another "
                f"--evaluator ({', '.join(evaluator_names_for(self))})"
            )
        spec = self.checked_table_options(options or {})  # wrong options: one line, no work
        return _call(resolve(self.table), data_dir=data_dir, progress=progress, **spec)

    def checked_table_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.table_spec(options)
        if self.check_table_options is None:
            return spec
        return dict(resolve(self.check_table_options)(spec))


@dataclass(frozen=True)
class EvaluatorEntry:
    """An evaluator kind (``--evaluator NAME``).

    ``build(space_entry, options, data_dir=..., progress=...) -> Evaluator``; ``options`` maps
    each option the kind takes to its default (``None``: the space's ``table_options``): a
    study stores them to rebuild the evaluator on create and resume. ``requires`` is what a space
    must provide (``"table"``, ``"network"`` or ``None``); ``spaces`` limits the kind to the named
    spaces (``None``: any that provides what it requires).
    """

    name: str
    build: Ref
    options: Mapping[str, Any] | None = None
    description: str = ""
    requires: str | None = None
    spaces: tuple[str, ...] | None = None

    def supports(self, space: SpaceEntry) -> bool:
        if self.spaces is not None and space.name not in self.spaces:
            return False
        if self.requires == "table":
            return space.table is not None
        if self.requires == "network":
            return space.network is not None
        return True

    def check_space(self, space: SpaceEntry) -> None:
        if self.supports(space):
            return
        if self.spaces is not None and space.name not in self.spaces:
            why = f"it works with {', '.join(self.spaces)} only"
        elif self.requires == "network":
            why = "it needs a trainable network, which the space has not"
            trainable = space_names_where(lambda s: s.network is not None)
            why += f" (spaces with one: {', '.join(trainable)})"
        else:
            why = f"it needs the space's {self.requires}, which the space has not"
        raise SeminasError(
            f"evaluator {self.name!r} cannot evaluate search space {space.name!r}: {why}; "
            f"{space.name} can use: {', '.join(evaluator_names_for(space)) or 'none'}"
        )

    def option_defaults(self, space: SpaceEntry) -> Mapping[str, Any]:
        return space.table_options if self.options is None else self.options


def _options_with_defaults(
    defaults: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = options.get(key)
        if value is None:
            value = default
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        out[key] = value
    return out


# -- one registry -------------------------------------------------------------------------------
def _ep(name: str, value: str, group: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


class Registry(Generic[T]):
    """The named entries of one entry-point group: built-ins first, then installed plugins."""

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, str],
        check: Callable[[str, Any], T],
    ) -> None:
        self.kind = kind
        self.group = group
        self._builtins = {n: _ep(n, v, group) for n, v in builtins.items()}
        self._check = check
        self._points: dict[str, EntryPoint] | None = None
        self._added: dict[str, Any] = {}
        self._loaded: dict[str, T] = {}

    def _discover(self) -> dict[str, EntryPoint]:
        if self._points is None:
            points = dict(self._builtins)
            found = sorted(entry_points(group=self.group), key=lambda e: (e.name, e.value))
            for ep in found:
                taken = points.get(ep.name)
                if taken is None:
                    points[ep.name] = ep
                elif taken.value != ep.value:
                    warnings.warn(
                        f"ignoring {self.kind} {ep.name!r} = {ep.value!r} of "
                        f"{_dist_name(ep)}: the name is taken by {taken.value!r}",
                        RegistryWarning,
                        stacklevel=3,
                    )
            self._points = points
        return self._points

    def names(self) -> list[str]:
        """Every registered name, built-ins in their order, then the others sorted. Imports
        nothing but the installed distributions' metadata."""
        names = list(self._discover())
        return names + [n for n in self._added if n not in names]

    def __contains__(self, name: object) -> bool:
        return name in self._added or name in self._discover()

    def is_builtin(self, name: str) -> bool:
        return name in self._builtins

    def origin(self, name: str) -> str:
        """Where an entry comes from: ``seminas``, a distribution's name, or ``this process``."""
        if name in self._added:
            return "this process"
        ep = self._discover().get(name)
        if ep is None:
            return "unknown"
        return "seminas" if name in self._builtins else _dist_name(ep)

    def get(self, name: str) -> T:
        """The entry called ``name``, loaded (and checked) on first use."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._added:
            obj = self._added[name]
        else:
            ep = self._discover().get(name)
            if ep is None:
                raise SeminasError(
                    f"unknown {self.kind} {name!r}: choose from {', '.join(self.names())}"
                )
            obj = self._load(ep)
        checked = self._check(name, obj)
        self._loaded[name] = checked
        return checked

    def _load(self, ep: EntryPoint) -> Any:
        if ep.name in self._builtins:
            return ep.load()  # a broken built-in is a bug: its traceback is the report
        try:
            return ep.load()
        except Exception as exc:  # noqa: BLE001 -- a third-party package: one clear line
            raise PluginError(
                f"{self.kind} {ep.name!r} of {_dist_name(ep)} ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def add(self, name: str, obj: Any, replace: bool = False) -> None:
        """Register ``obj`` in this process (built-in names cannot be replaced)."""
        if name in self._builtins:
            raise SeminasError(f"{self.kind} {name!r} is built in and cannot be replaced")
        if not replace and name in self:
            raise SeminasError(f"{self.kind} {name!r} is already registered ({self.origin(name)})")
        self._check(name, obj)
        self._added[name] = obj
        self._loaded.pop(name, None)

    def remove(self, name: str) -> None:
        """Undo :meth:`add`."""
        self._added.pop(name, None)
        self._loaded.pop(name, None)

    def refresh(self) -> None:
        """Forget discovered plugins (after installing one into the running process)."""
        self._points = None
        self._loaded = {n: v for n, v in self._loaded.items() if n in self._builtins}


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an installed package"
    try:
        return f"{dist.metadata['Name']} {dist.version}"
    except Exception:  # noqa: BLE001 -- metadata is only for the message
        return "an installed package"


# -- checks on load ----------------------------------------------------------------------------
def _check_space(name: str, obj: Any) -> SpaceEntry:
    if not isinstance(obj, SpaceEntry):
        raise PluginError(
            f"search space {name!r} must be a seminas.registry.SpaceEntry, got {type(obj).__name__}"
        )
    if obj.name != name:
        raise PluginError(f"search space entry point {name!r} holds the entry of {obj.name!r}")
    return obj


def _check_strategy(name: str, obj: Any) -> type[Strategy]:
    from seminas.strategies.base import Strategy

    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise PluginError(f"strategy {name!r} must be a subclass of seminas.strategies.Strategy")
    if getattr(obj, "name", None) != name:
        raise PluginError(
            f"strategy {name!r} is registered under another name than its class's "
            f"name {getattr(obj, 'name', None)!r}: studies rebuild strategies by that name"
        )
    return obj


def _check_evaluator(name: str, obj: Any) -> EvaluatorEntry:
    if not isinstance(obj, EvaluatorEntry):
        raise PluginError(
            f"evaluator {name!r} must be a seminas.registry.EvaluatorEntry, got "
            f"{type(obj).__name__}"
        )
    if obj.name != name:
        raise PluginError(f"evaluator entry point {name!r} holds the entry of {obj.name!r}")
    return obj


def _check_predictor(name: str, obj: Any) -> Callable[..., Any]:
    if not callable(obj):
        raise PluginError(
            f"predictor {name!r} must be a class or factory, got {type(obj).__name__}"
        )
    return obj


# -- the built-ins ------------------------------------------------------------------------------
# Spaces and evaluator kinds live in seminas.builtins (cheap to import: heavy modules are named
# by strings there); strategies and predictors are their classes, imported when first used.
_SPACES = {
    "nb201": "seminas.builtins:NB201",
    "nb101": "seminas.builtins:NB101",
}
_STRATEGIES = {
    "seminas": "seminas.strategies.seminas:SemiNAS",
    "nao": "seminas.strategies.seminas:NAO",
    "re": "seminas.strategies.evolution:RegularizedEvolution",
    "rs": "seminas.strategies.random_search:RandomSearch",
    "gbdt": "seminas.strategies.gbdt:GBDTNAS",
    "semi-gbdt": "seminas.strategies.gbdt:SemiGBDT",
    "weaknas": "seminas.strategies.weaknas:WeakNAS",
    "predictor-ls": "seminas.strategies.screened:ScreenedLocalSearch",
    "semi-predictor-ls": "seminas.strategies.screened:SemiScreenedLocalSearch",
    "predictor-re": "seminas.strategies.screened:ScreenedEvolution",
    "seminas-rerank": "seminas.strategies.reranked:RerankedSemiNAS",
    "acenas": "seminas.strategies.acenas:AceNAS",
    "semi-acenas": "seminas.strategies.acenas:SemiAceNAS",
}
_EVALUATORS = {
    "table": "seminas.builtins:TABLE",
    "train": "seminas.builtins:TRAIN",
}
_PREDICTORS = {
    "mlp": "seminas.predictors.mlp:MLPPredictor",
    "gbdt": "seminas.predictors.gbdt:GBDTPredictor",
    "gnn": "seminas.predictors.gnn:GNNPredictor",
    "ensemble": "seminas.predictors.ensemble:EnsemblePredictor",
    "semi": "seminas.predictors.semi:SemiSupervisedPredictor",
}

spaces: Registry[SpaceEntry] = Registry("search space", SPACES, _SPACES, _check_space)
strategies: Registry[type] = Registry("strategy", STRATEGIES, _STRATEGIES, _check_strategy)
evaluators: Registry[EvaluatorEntry] = Registry(
    "evaluator", EVALUATORS, _EVALUATORS, _check_evaluator
)
predictors: Registry[Callable[..., Any]] = Registry(
    "predictor", PREDICTORS, _PREDICTORS, _check_predictor
)


# -- look-ups ------------------------------------------------------------------------------------
def space_names() -> list[str]:
    return spaces.names()


def space_names_where(keep: Callable[[SpaceEntry], bool]) -> list[str]:
    """The spaces whose entry passes ``keep`` (a plugin that fails to load is left out)."""
    out = []
    for name in spaces.names():
        try:
            if keep(spaces.get(name)):
                out.append(name)
        except PluginError:
            continue
    return out


def space_entry(name: str) -> SpaceEntry:
    """The entry of a space by name or alias (case and surrounding blanks ignored)."""
    return spaces.get(resolve_space_name(name))


def resolve_space_name(name: str) -> str:
    """The registered name of ``name``: itself, or the space that lists it as an alias."""
    key = str(name).strip()
    if key in spaces:
        return key
    lowered = key.lower()
    for candidate in spaces.names():
        if candidate.lower() == lowered:
            return candidate
    for candidate in spaces.names():
        try:
            entry = spaces.get(candidate)
        except PluginError as exc:  # a broken plugin must not hide the others' aliases
            warnings.warn(str(exc), RegistryWarning, stacklevel=2)
            continue
        if lowered in (a.lower() for a in entry.aliases):
            return candidate
    raise SeminasError(f"unknown search space {name!r}: choose from {', '.join(space_names())}")


def space_entry_for(space: Any) -> SpaceEntry | None:
    """The entry of a space object (``None`` for a space nobody registered)."""
    name = getattr(space, "name", None)
    if not isinstance(name, str) or name not in spaces:
        return None
    entry = spaces.get(name)
    return entry if entry.owns(space) else None


def strategy_names() -> list[str]:
    return strategies.names()


def strategy_class(name: str) -> type[Strategy]:
    return strategies.get(name)


def evaluator_names() -> list[str]:
    return evaluators.names()


def evaluator_entry(name: str | None) -> EvaluatorEntry:
    return evaluators.get(name or "table")


def evaluator_names_for(space: SpaceEntry) -> list[str]:
    """The evaluator kinds that can evaluate ``space``."""
    out = []
    for name in evaluators.names():
        try:
            if evaluators.get(name).supports(space):
                out.append(name)
        except PluginError:
            continue
    return out


def predictor_names() -> list[str]:
    return predictors.names()


def make_predictor(name: str, seed: int = 0, **options: Any) -> Any:
    """A fresh, unfitted predictor: ``fit(X, y) -> self`` then ``predict(X)``."""
    return predictors.get(name)(seed=seed, **options)


# -- evaluators from names and options ------------------------------------------------------------
def evaluator_spec(space: str, evaluator: str | None = "table", **options: Any) -> dict[str, Any]:
    """What a study stores to rebuild an evaluator: the space's name, the kind (unless it is the
    table) and every option the kind takes, defaults filled in. Options the kind does not take
    are dropped when they are among the command line's :data:`CLI_OPTIONS`; others are an
    error (a typo in the Python API)."""
    entry = space_entry(space)
    kind = evaluator_entry(evaluator)
    kind.check_space(entry)
    defaults = kind.option_defaults(entry)
    unknown = sorted(set(options) - set(defaults) - set(CLI_OPTIONS))
    if unknown:
        raise SeminasError(
            f"unknown option(s) {', '.join(unknown)} for evaluator {kind.name!r} on "
            f"{entry.name}; it takes: {', '.join(defaults) or 'none'}"
        )
    spec: dict[str, Any] = {"space": entry.name}
    if kind.name != "table":
        spec["evaluator"] = kind.name
    spec.update(_options_with_defaults(defaults, options))
    return spec


def make_evaluator(
    space: str,
    evaluator: str | None = "table",
    *,
    data_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Evaluator:
    """The evaluator of kind ``evaluator`` for ``space`` with ``options`` (see
    :func:`evaluator_spec`); ``data_dir`` is this machine's data directory, ``progress`` a
    :class:`seminas.progress.Progress` for long first-time work (converting a table, an
    enumeration); None: silent."""
    spec = evaluator_spec(space, evaluator, **options)
    name = spec.pop("space")
    kind = evaluator_entry(spec.pop("evaluator", "table"))
    return _call(resolve(kind.build), space_entry(name), spec, data_dir=data_dir, progress=progress)


# -- in-process registration ---------------------------------------------------------------------
def register_space(entry: SpaceEntry, replace: bool = False) -> None:
    spaces.add(entry.name, entry, replace)


def register_strategy(cls: type[Strategy], replace: bool = False) -> None:
    strategies.add(cls.name, cls, replace)


def register_evaluator(entry: EvaluatorEntry, replace: bool = False) -> None:
    evaluators.add(entry.name, entry, replace)


def register_predictor(name: str, factory: Callable[..., Any], replace: bool = False) -> None:
    predictors.add(name, factory, replace)


def describe() -> dict[str, list[dict[str, str]]]:
    """Every registered name with where it comes from (``seminas plugins``)."""
    out: dict[str, list[dict[str, str]]] = {}
    for label, reg in (
        ("spaces", spaces),
        ("strategies", strategies),
        ("evaluators", evaluators),
        ("predictors", predictors),
    ):
        out[label] = [{"name": n, "origin": reg.origin(n)} for n in reg.names()]
    return out


__all__ = [
    "CLI_OPTIONS",
    "EvaluatorEntry",
    "NetworkEntry",
    "PluginError",
    "Registry",
    "RegistryWarning",
    "SpaceEntry",
    "describe",
    "evaluator_entry",
    "evaluator_names",
    "evaluator_names_for",
    "evaluator_spec",
    "make_evaluator",
    "make_predictor",
    "predictor_names",
    "register_evaluator",
    "register_predictor",
    "register_space",
    "register_strategy",
    "resolve",
    "resolve_space_name",
    "space_entry",
    "space_entry_for",
    "space_names",
    "space_names_where",
    "strategy_class",
    "strategy_names",
]
