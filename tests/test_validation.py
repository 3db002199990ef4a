"""Validation by construction: every declared option, walked from the registries.

For every option of every registered strategy (and every predictor's options), a value of the
wrong type and a value out of its declared range are tried through the command line
(``seminas search --set KEY=VALUE``); each must end in exactly one ``error:`` line naming the
option and the value, with exit code 2. An option added without a declaration fails
:func:`test_every_option_is_declared`.
"""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from seminas.cli import main
from seminas.errors import SeminasError
from seminas.options import OptionError, Options, spec_of, undeclared, validate
from seminas.strategies import make_strategy, strategy_class, strategy_names

# Values of the wrong type for each kind of option (JSON, as typed after --set KEY=).
WRONG_TYPES = {
    int: ["abc", "true", "[1, 2]", "null", "2.5", '{"a": 1}'],
    float: ["abc", "true", "[1]", "null", '"0.5"'],
    bool: ["abc", "1", "0", "null", "[true]"],
    str: ["5", "true", "null", '["x"]'],
    "tuple": ["abc", "5", "null", "[true]", "[1.5]", '"1,2"'],
}


def _kind(cls: type, field: dataclasses.Field) -> tuple[typing.Any, bool]:
    """(int/float/bool/str/"tuple", nullable) from the field's annotation."""
    hint = typing.get_type_hints(cls)[field.name]
    args = typing.get_args(hint)
    nullable = type(None) in args
    if nullable:
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return "tuple", nullable
    return hint, nullable


def out_of_range(cls: type, field: dataclasses.Field) -> list[str]:
    """JSON values just outside the field's declared range (or choices)."""
    spec = spec_of(field)
    kind, _ = _kind(cls, field)
    assert spec is not None
    if spec.choices is not None or spec.pattern is not None:
        return ['"surely-not-a-choice"']
    values = []
    step = 1 if kind in (int, "tuple") else 0.5
    if spec.low is not None:
        values.append(spec.low - step)
    if spec.above is not None:
        values += [spec.above, spec.above - step]
    if spec.high is not None:
        values.append(spec.high + step)
    if spec.below is not None:
        values.append(spec.below)
    if kind == "tuple":
        return [json.dumps([v]) for v in values]
    return [json.dumps(v) for v in values]


def strategy_options() -> list[tuple[str, dataclasses.Field]]:
    return [
        (name, f)
        for name in strategy_names()
        for f in dataclasses.fields(strategy_class(name).Config)
        if not (name == "nao" and f.name == "unlabeled")  # NAO refuses any pseudo-labels
    ]


def option_classes() -> list[tuple[str, type]]:
    """Every options dataclass seminas builds from user input: strategies' configs, the
    controller's, predictors' (from the registry where there is one) and the training recipe."""
    from seminas.controller import ControllerShape, TrainConfig
    from seminas.predictors.gbdt import GBDTPredictor
    from seminas.predictors.mlp import MLPPredictor
    from seminas.training.recipe import Recipe

    out = [(f"strategy {n}", strategy_class(n).Config) for n in strategy_names()]
    out += [("controller shape", ControllerShape), ("controller training", TrainConfig)]
    out += [("training recipe", Recipe)]
    predictors: dict[str, typing.Any] = {"mlp": MLPPredictor, "gbdt": GBDTPredictor}
    try:
        from seminas import registry
    except ImportError:  # no registry module: the built-in predictors above
        pass
    else:
        predictors = {n: registry.predictors.get(n) for n in registry.predictor_names()}
    for name, factory in predictors.items():
        options = getattr(factory, "Options", None)
        assert options is not None, f"predictor {name!r} does not declare its Options"
        out.append((f"predictor {name}", options))
    return out


def _class_id(value: typing.Any) -> str:
    return str(getattr(value, "__name__", value))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *fragments: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# -- declarations ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "owner,cls", option_classes(), ids=lambda x: str(getattr(x, "__name__", x))
)
def test_every_option_is_declared(owner, cls):
    assert issubclass(cls, Options), f"{owner}: {cls.__name__} does not validate on construction"
    assert undeclared(cls) == [], f"{owner}: options without a declaration (use seminas.opt)"
    for f in dataclasses.fields(cls):
        kind, _ = _kind(cls, f)
        spec = spec_of(f)
        assert kind in WRONG_TYPES, f"{owner}: option {f.name} has an unchecked type {kind}"
        if kind in (int, float, "tuple"):
            bounds = (spec.low, spec.high, spec.above, spec.below)
            assert any(b is not None for b in bounds), f"{owner}: {f.name} declares no range"
        if kind is str:
            assert spec.choices or spec.pattern, (
                f"{owner}: text option {f.name} declares no choices (or pattern)"
            )


@pytest.mark.parametrize(
    "owner,cls", option_classes(), ids=lambda x: str(getattr(x, "__name__", x))
)
def test_defaults_are_valid_and_unchanged(owner, cls):
    """The declarations accept every default as it is (published results stay bit-identical)."""
    fields = dataclasses.fields(cls)
    required = {f.name: 8 for f in fields if f.default is dataclasses.MISSING}
    config = cls(**required)
    for f in fields:
        if f.default is not dataclasses.MISSING:
            value = getattr(config, f.name)
            assert value == f.default and type(value) is type(f.default), (owner, f.name)


@pytest.mark.parametrize("name", strategy_names())
def test_every_preset_passes_its_declarations(name):
    cls = strategy_class(name)
    for preset, values in cls.presets.items():
        strategy = make_strategy(name, preset)
        for key, value in values.items():  # presets are taken exactly as written
            got = getattr(strategy.config, key)
            assert got == (tuple(value) if isinstance(value, list) else value), (preset, key)


# -- every option through the command line ---------------------------------------------------------
def _search(capsys, name: str, key: str, raw: str) -> tuple[int, str, str]:
    return run(
        capsys,
        "search",
        "--space",
        "nb201",
        "--strategy",
        name,
        "--budget",
        "5",
        "--quiet",
        "--set",
        f"{key}={raw}",
    )


@pytest.mark.parametrize(
    "name,field", strategy_options(), ids=[f"{n}.{f.name}" for n, f in strategy_options()]
)
def test_wrong_type_is_one_line_naming_option_and_value(capsys, name, field):
    cls = strategy_class(name).Config
    kind, nullable = _kind(cls, field)
    tried = 0
    for raw in WRONG_TYPES[kind]:
        if raw == "null" and nullable:
            continue
        code, _, err = _search(capsys, name, field.name, raw)
        line = assert_refused(code, err, f"strategy {name!r}", field.name)
        shown = json.dumps(json.loads(raw)) if raw not in ("abc",) else '"abc"'
        assert f"got {shown}" in line, (raw, line)
        assert "must be" in line
        tried += 1
    assert tried >= 3


@pytest.mark.parametrize(
    "name,field", strategy_options(), ids=[f"{n}.{f.name}" for n, f in strategy_options()]
)
def test_out_of_range_is_one_line_naming_option_and_range(capsys, name, field):
    cls = strategy_class(name).Config
    kind, _ = _kind(cls, field)
    values = out_of_range(cls, field)
    if kind is bool:
        assert values == []  # true/false have no range; the wrong-type test covers them
        return
    assert values, f"{name}.{field.name}: no out-of-range value to try"
    for raw in values:
        code, _, err = _search(capsys, name, field.name, raw)
        line = assert_refused(code, err, f"strategy {name!r}", field.name, "must be")
        shown = json.dumps(json.loads(raw))
        assert (
            f"got {shown}" in line
            or f"unknown {spec_of(field).label or field.name} {shown}" in line
        ), line


@pytest.mark.parametrize(
    "owner,cls", option_classes(), ids=lambda x: str(getattr(x, "__name__", x))
)
def test_every_declared_option_refuses_bad_values_in_python(owner, cls):
    """The same validator holds in the Python API: constructing the options dataclass."""
    required = {f.name: 8 for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    for f in dataclasses.fields(cls):
        kind, nullable = _kind(cls, f)
        bad = [json.loads(r) if r != "abc" else "abc" for r in WRONG_TYPES[kind]]
        bad = [b for b in bad if not (b is None and nullable)]
        bad += [json.loads(r) for r in out_of_range(cls, f)]
        for value in bad:
            with pytest.raises(OptionError, match=f.name):
                cls(**{**required, f.name: value})


# -- constraints between options, unknown keys, other entry points -------------------------------
@pytest.mark.parametrize(
    "name,sets,fragment",
    [
        ("re", ["tournament_size=11"], "tournament_size must be at most population_size (10)"),
        ("re", ["population_size=2"], "tournament_size must be at most population_size (2)"),
        ("seminas", ['predictor_output="sigmoid"'], 'target_scaling must be "minmax"'),
        ("nao", ["unlabeled=5"], "NAO uses no pseudo-labels"),
        ("rs", ["batch_sise=3"], "unknown option(s) batch_sise for strategy 'rs'"),
        ("weaknas", ['predictor="svm"'], 'unknown WeakNAS predictor "svm": predictor must be'),
        ("seminas", ["dropout=2"], "dropout must be a number >= 0 and < 1, got 2"),
        ("seminas", ["initial=0"], "initial must be a whole number >= 1, got 0"),
        ("seminas", ["hidden_size=0"], "hidden_size must be a whole number >= 1, got 0"),
        ("rs", ["batch_size=abc"], 'batch_size must be a whole number >= 1, got "abc"'),
        ("rs", ["batch_size=[1,2]"], "got [1, 2]"),
        ("rs", ["batch_size=null"], "got null"),
        ("rs", ["batch_size=true"], "got true"),
        ("re", ["population_size=0"], "population_size must be a whole number >= 1, got 0"),
        ("seminas", ["epochs=-1"], "epochs must be a whole number >= 0, got -1"),
        ("seminas", ["per_iteration=0"], "per_iteration must be a whole number >= 1, got 0"),
        ("seminas", ["unlabeled=-5"], "unlabeled must be a whole number >= 0, got -5"),
        ("seminas", ["lr=NaN"], "lr must be a number > 0, got NaN"),
    ],
)
def test_named_bad_settings_are_one_line(capsys, nb201, name, sets, fragment):
    argv = ["search", "--strategy", name, "--budget", "5", "--quiet"]
    for item in sets:
        argv += ["--set", item]
    code, _, err = run(capsys, *argv)
    assert_refused(code, err, fragment)


def test_python_api_validates_on_construction():
    from seminas.strategies.random_search import RandomSearchConfig

    with pytest.raises(OptionError, match="batch_size must be a whole number >= 1, got 0"):
        RandomSearchConfig(batch_size=0)
    with pytest.raises(OptionError, match="strategy 'rs': batch_size"):
        make_strategy("rs", batch_size=True)
    with pytest.raises(OptionError, match="strategy 're': tournament_size"):
        make_strategy("re", "nb201", tournament_size=50)
    config = make_strategy("weaknas", mlp_hidden=[3, 4]).config  # JSON lists become tuples
    assert config.mlp_hidden == (3, 4)
    import numpy as np

    assert type(make_strategy("rs", batch_size=np.int64(4)).config.batch_size) is int


def test_plain_dataclass_config_is_checked_by_its_annotations():
    """A strategy defined elsewhere, with a plain dataclass config, still gets type checks."""
    import numpy as np

    from seminas.strategies.base import Strategy

    @dataclasses.dataclass(frozen=True)
    class PlainConfig:
        width: int = 3
        name: str = "x"

    class Plain(Strategy):
        name = "plain"
        Config = PlainConfig

        def run(self, ctx, rng: np.random.Generator) -> None:  # pragma: no cover - not run
            raise NotImplementedError

    assert Plain(width=5).config.width == 5
    with pytest.raises(OptionError, match="strategy 'plain': width must be a whole number"):
        Plain(width="wide")
    validate(PlainConfig())


def test_bench_refuses_bad_overrides_before_any_run(tmp_path, nb201):
    from seminas.experiments.bench import bench

    with pytest.raises(SeminasError, match="strategy 'rs': batch_size must be"):
        bench("nb201", "cifar10", "rs", 5, "0", tmp_path / "b", overrides={"rs": {"batch_size": 0}})
    assert not (tmp_path / "b" / "results.jsonl").exists()


def test_study_rebuild_validates_stored_options():
    """A study rebuilds its strategy from stored options by name: the same validator runs."""
    from seminas.strategies import make_strategy as rebuild

    stored = dataclasses.asdict(make_strategy("weaknas").config)
    stored = json.loads(json.dumps(stored))  # as a study keeps them: tuples become lists
    assert rebuild("weaknas", None, **stored).config == make_strategy("weaknas").config
    stored["top_m"] = 0
    with pytest.raises(OptionError, match="top_m must be a whole number >= 1, got 0"):
        rebuild("weaknas", None, **stored)


# -- evaluator options, walked from the registry --------------------------------------------------
# Bad values for each evaluator option (as the command line passes them), with a fragment of the
# one-line error each must give. A new evaluator option without an entry here fails the test.
BAD_EVALUATOR_VALUES = {
    "dataset": [("mnist", "dataset 'mnist'")],  # NB201: unknown ...; NB101: has no ...
    "fidelity": [("abc", "invalid int value"), ("13", "fidelity 13 is not available")],
    "nb101_file": [("{tmp}", "is a directory"), ("{tmp}/absent.tfrecord", "missing file")],
    "epochs": [("abc", "invalid int value"), ("0", "epochs")],
    "seed": [("abc", "invalid int value"), ("-1", "--seed must be a whole number in 0..")],
    "data": [("{tmp}/no-such-folder", "unknown data source")],
    "network": [("huge", "invalid choice: 'huge'")],
    "channels": [("abc", "expected a whole number"), ("0", "expected a number >= 1")],
    "cells": [("1.5", "expected a whole number"), ("0", "expected a number >= 1")],
}


# Values bad for one space's evaluator only (a training run may take 5 epochs, a table not).
BAD_FOR = {("nb101", "table", "epochs"): [("5", "no results for 5 epochs")]}


def _evaluator_cases() -> list[tuple[str, str, str]]:
    from seminas import registry

    cases = []
    for space in ("nb201", "nb101"):
        entry = registry.space_entry(space)
        for name in registry.evaluator_names_for(entry):
            for key in registry.evaluator_entry(name).option_defaults(entry):
                cases.append((space, name, key))
    return cases


@pytest.fixture(scope="module")
def nb101_file(tmp_path_factory):
    from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101

    root = tmp_path_factory.mktemp("nb101-table")
    return write_synthetic_nb101(root / "nasbench_only108.tfrecord", synthetic_specs(20, seed=0), 1)


@pytest.mark.parametrize(
    "space,evaluator,key", _evaluator_cases(), ids=["-".join(c) for c in _evaluator_cases()]
)
def test_every_evaluator_option_refuses_bad_values(
    capsys, tmp_path, nb101_file, space, evaluator, key
):
    assert key in BAD_EVALUATOR_VALUES, f"evaluator option {key!r} has no bad values to try"
    base = [
        "search",
        "--space",
        space,
        "--evaluator",
        evaluator,
        "--strategy",
        "rs",
        "--budget",
        "2",
        "--quiet",
    ]
    if space == "nb101" and evaluator == "table" and key != "nb101_file":
        base += ["--nb101-file", str(nb101_file)]
    for raw, fragment in BAD_EVALUATOR_VALUES[key] + BAD_FOR.get((space, evaluator, key), []):
        flag = "--" + key.replace("_", "-")
        value = raw.format(tmp=tmp_path)
        code, _, err = run(capsys, *base, flag, value)
        assert_refused(code, err, fragment)
