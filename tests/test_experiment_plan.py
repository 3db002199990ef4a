"""Experiment files and variant syntax: a whole comparison as one quotable TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from seminas.errors import SeminasError
from seminas.experiments.plan import Variant, load_experiment, split_variants, variants_from

GOOD = """
[experiment]
space = "nb201"
datasets = ["cifar10", "cifar100"]
budget = 40
seeds = "0-2"
out = "runs/ablation"

[[variant]]
strategy = "weaknas"

[[variant]]
strategy = "weaknas"
label = "weaknas-top50"
set = { top_m = 50 }
"""


def test_experiment_file_is_read_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(GOOD)
    exp = load_experiment(path)
    assert exp.space == "nb201" and exp.datasets == ("cifar10", "cifar100")
    assert exp.budget == 40 and exp.seeds == "0-2"
    assert exp.out == tmp_path / "runs" / "ablation"
    assert exp.bench_dir("cifar100") == tmp_path / "runs" / "ablation" / "cifar100"
    assert exp.variants == (
        Variant("weaknas"),
        Variant("weaknas", overrides={"top_m": 50}, label="weaknas-top50"),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("budget = 40", "budget = 0"), "`budget` must be at least 1"),
        (("budget = 40", "budget = \"forty\""), "`budget` must be a int"),
        (("seeds = \"0-2\"", "seeds = 3.5"), "`seeds` must be a string"),
        (("out = \"runs/ablation\"", ""), "missing `out`"),
        (("space = \"nb201\"", "spaec = \"nb201\""), "unknown key\\(s\\) spaec"),
        (("label = \"weaknas-top50\"\n", ""), "two variants are named 'weaknas'"),
        (("set = { top_m = 50 }", "set = 5"), "`set` must be a table"),
        (("strategy = \"weaknas\"\n", "strat = \"weaknas\"\n"), "unknown key\\(s\\) strat"),
    ],
)
def test_bad_experiment_files_are_one_line_naming_file_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(GOOD.replace(*change, 1))
    with pytest.raises(SeminasError, match=message) as info:
        load_experiment(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeminasError, match="no experiment file"):
        load_experiment(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\nbudget=")
    with pytest.raises(SeminasError, match="is not valid TOML"):
        load_experiment(bad)


def test_variant_syntax_on_the_command_line() -> None:
    assert split_variants("re, weaknas[top_m=50;per_iteration=5],rs") == [
        "re", "weaknas[top_m=50;per_iteration=5]", "rs"
    ]
    weak = variants_from("weaknas[top_m=50;per_iteration=5]")[0]
    assert weak.strategy == "weaknas" and dict(weak.overrides) == {"top_m": 50,
                                                                   "per_iteration": 5}
    assert weak.label == "weaknas[top_m=50;per_iteration=5]"
    with pytest.raises(SeminasError, match="cannot read the variant"):
        Variant.parse("weaknas[top_m=50")


def _need_nb201() -> None:
    from seminas.benchmarks.nb201_table import load_embedded

    load_embedded()  # ships inside the package: never skipped


def test_bench_compares_variants_of_one_strategy(tmp_path: Path, capsys) -> None:
    """`--strategies` takes variants and `--set` applies to the strategies that have the option:
    two configurations of one strategy become two rows with their own results."""
    from seminas.cli import main
    from seminas.experiments.bench import read_results

    _need_nb201()
    out = tmp_path / "bench"
    code = main(["bench", "--space", "nb201", "--strategies", "re,re[tournament_size=2]",
                 "--set", "population_size=6", "--budget", "20", "--seeds", "0-1",
                 "--workers", "1", "--quiet", "--out", str(out)])
    assert code == 0
    lines = read_results(out)
    assert len(lines) == 4
    assert {ln["method"] for ln in lines} == {"re[nb201] population_size=6",
                                              "re[tournament_size=2]"}
    plain = [ln for ln in lines if ln.get("label") is None]
    variant = [ln for ln in lines if ln.get("label") == "re[tournament_size=2]"]
    assert all(ln["config"]["population_size"] == 6 for ln in lines)
    assert {ln["config"]["tournament_size"] for ln in variant} == {2}
    assert {ln["config"]["tournament_size"] for ln in plain} == {3}
    assert plain[0]["arch_ids"] != variant[0]["arch_ids"]  # a different search, same seed
    summary = (out / "summary.md").read_text()
    assert "re[tournament_size=2]" in summary
    code = main(["bench", "--space", "nb201", "--strategies", "re", "--set", "nope=1",
                 "--budget", "20", "--seeds", "0", "--quiet", "--out", str(out)])
    assert code == 2
    assert "no strategy of the bench (re) has an option 'nope'" in capsys.readouterr().err


def test_experiment_file_runs_every_bench_and_resumes(tmp_path: Path, capsys) -> None:
    from seminas.cli import main
    from seminas.experiments.bench import read_results

    _need_nb201()
    path = tmp_path / "exp.toml"
    path.write_text(
        '[experiment]\nspace = "nb201"\ndatasets = ["cifar10", "cifar100"]\nbudget = 15\n'
        'seeds = "0-1"\nout = "runs/exp"\nworkers = 1\n\n'
        '[[variant]]\nstrategy = "rs"\n\n'
        '[[variant]]\nstrategy = "re"\nlabel = "re-small"\nset = { population_size = 5 }\n'
    )
    assert main(["experiment", "run", str(path), "--quiet"]) == 0
    for dataset in ("cifar10", "cifar100"):
        lines = read_results(tmp_path / "runs" / "exp" / dataset)
        assert sorted({ln["method"] for ln in lines}) == ["re-small", "rs"]
        assert all(ln["dataset"] == dataset and ln["num_queries"] == 15 for ln in lines)
    text = capsys.readouterr().out
    assert "cifar100: 4 runs (4 new, 0 already done)" in text
    assert main(["experiment", "run", str(path), "--quiet"]) == 0  # resumed: nothing to do
    assert "cifar10: 4 runs (0 new, 4 already done)" in capsys.readouterr().out


def test_the_documented_example_file_is_valid() -> None:
    exp = load_experiment(Path(__file__).parents[1] / "docs" / "examples" /
                          "weaknas-ablation.toml")
    assert [v.label or v.strategy for v in exp.variants] == ["weaknas", "weaknas-top20", "re"]
    assert exp.budget == 300 and exp.seeds == "0-99"


def test_a_bad_second_dataset_is_refused_before_the_first_bench_runs(tmp_path: Path,
                                                                     capsys) -> None:
    from seminas.cli import main

    path = tmp_path / "exp.toml"
    path.write_text('[experiment]\ndatasets = ["cifar10", "mnist"]\nbudget = 5\nseeds = "0"\n'
                    'out = "runs/exp"\n\n[[variant]]\nstrategy = "rs"\n')
    assert main(["experiment", "run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mnist" in err
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_the_peers_experiment_file_names_every_compared_strategy() -> None:
    from seminas.strategies import strategy_names

    exp = load_experiment(Path(__file__).parents[1] / "docs" / "examples" / "peers-nb201.toml")
    names = [v.strategy for v in exp.variants]
    assert {"seminas", "weaknas", "predictor-ls", "semi-predictor-ls", "re"} <= set(names)
    assert set(names) <= set(strategy_names())
    assert exp.budget == 500 and exp.seeds == "0-99" and len(exp.datasets) == 3
