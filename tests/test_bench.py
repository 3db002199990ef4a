"""The bench: seeds, results file (append, resume, repair), summary, plot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from seminas.data import data_dir
from seminas.errors import SeminasError
from seminas.experiments.bench import (
    BenchRunError,
    BenchWarning,
    RunSpec,
    bench,
    format_seeds,
    make_benchmark,
    make_specs,
    parse_seeds,
    read_results,
    run_bench,
    run_one,
    summarize,
)

HAVE_NB201 = (data_dir() / "nasbench201" / "test-200ep.csv").is_file()
needs_nb201 = pytest.mark.skipif(
    not HAVE_NB201,
    reason=f"NAS-Bench-201 data not found in {data_dir() / 'nasbench201'} (see shared/data README)",
)
BUDGETS = (10, 20, 30)


def _lines(path: Path) -> list[dict]:
    """The run lines of a results file, after checking its version header."""
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    if path.name != "results.jsonl":  # errors.jsonl is a plain log
        return lines
    assert lines[0] == {"seminas_results": 1, "kind": "bench"}  # the common results store
    return lines[1:]


# -- seeds (no data needed) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", [7]),
        ("0-3", [0, 1, 2, 3]),
        ("0,3,5-7", [0, 3, 5, 6, 7]),
        (" 2 , 0-1 ,2", [2, 0, 1]),
        ("0-99", list(range(100))),
    ],
)
def test_parse_seeds_good(text: str, expected: list[int]) -> None:
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "5-3", "-1", "1-", "1,,2", "0-9x", "1.5", "3-1-2"])
def test_parse_seeds_bad_names_value_and_form(text: str) -> None:
    with pytest.raises(SeminasError) as err:
        parse_seeds(text)
    message = str(err.value)
    assert repr(text) in message and "0-99" in message


def test_format_seeds_round_trips() -> None:
    seeds = [0, 1, 2, 5, 7, 8, 20]
    assert format_seeds(seeds) == "0-2,5,7-8,20"
    assert parse_seeds(format_seeds(seeds)) == seeds


def test_unknown_space_is_a_clear_error() -> None:
    with pytest.raises(SeminasError, match="unknown search space"):
        make_benchmark("nb999", "cifar10")
    with pytest.raises(SeminasError, match="no dataset 'cifar10'.*official.*subset-20k"):
        make_benchmark("nb101", "cifar10")  # nb101's datasets are its two tables


def test_config_key_ignores_seed_and_data_location() -> None:
    a = RunSpec(space="nb201", dataset="cifar10", strategy="re", budget=30, seed=0)
    b = RunSpec(space="nb201", dataset="cifar10", strategy="re", budget=30, seed=5, data_dir="/x")
    c = RunSpec(
        space="nb201", dataset="cifar10", strategy="re", budget=30, seed=0, overrides={"a": 1}
    )
    assert a.config_key == b.config_key
    assert a.config_key != c.config_key
    assert "seed" not in a.config_key


# -- summary on hand-made results (no data needed) ------------------------------------------


def _fake(seed: int, arch_ids: list[str], reports: list[float], method: str = "m") -> dict:
    return {
        "config_key": f"fake {method} budget={len(arch_ids)}",
        "method": method,
        "strategy": method,
        "preset": None,
        "space": "toy",
        "dataset": "toy",
        "fidelity": 200,
        "budget": len(arch_ids),
        "seed": seed,
        "trajectory": {"best_search": reports, "best_report": reports},
        "arch_ids": arch_ids,
    }


def test_optimum_fraction_and_queries_on_a_constructed_case() -> None:
    runs = [
        _fake(0, ["a", "OPT", "b", "c"], [1.0, 9.0, 9.0, 9.0]),  # optimum at query 2
        _fake(1, ["a", "b", "c", "OPT"], [1.0, 2.0, 3.0, 9.0]),  # at query 4
        _fake(2, ["a", "b", "c", "d"], [1.0, 2.0, 2.0, 2.0]),  # never
        _fake(3, ["TIE", "b", "c", "d"], [9.0, 9.0, 9.0, 9.0]),  # a tied optimum at query 1
        _fake(0, ["a", "b", "c", "d"], [1.0, 1.0, 1.0, 1.0], method="other"),
    ]
    info = {"optimum_ids": ["OPT", "TIE"], "optimum_report": 9.0}
    table = summarize(runs, info, budgets=(1, 2, 3, 4, 50))
    m = table[table.method == "m"].set_index("budget")
    assert list(m.index) == [1, 2, 3, 4]  # budgets above the run budget are left out
    assert m.loc[1, "optimum_fraction"] == pytest.approx(1 / 4)
    assert m.loc[2, "optimum_fraction"] == pytest.approx(2 / 4)
    assert m.loc[4, "optimum_fraction"] == pytest.approx(3 / 4)
    assert m.loc[2, "queries_to_optimum"] == pytest.approx((2 + 1) / 2)
    assert m.loc[4, "queries_to_optimum"] == pytest.approx((2 + 4 + 1) / 3)
    assert m.loc[2, "report_mean"] == pytest.approx(np.mean([9.0, 2.0, 2.0, 9.0]))
    assert m.loc[2, "report_std"] == pytest.approx(np.std([9.0, 2.0, 2.0, 9.0], ddof=1))
    other = table[table.method == "other"].set_index("budget")
    assert (other.optimum_fraction == 0).all()
    assert other.queries_to_optimum.isna().all()  # shown as "—"
    # The best search metric is its own column, read from the search curve, not the report's.
    searched = [
        _fake(0, ["a", "b"], [5.0, 6.0]),
        _fake(1, ["a", "b"], [7.0, 7.0]),
    ]
    searched[0]["trajectory"]["best_search"] = [1.0, 3.0]
    searched[1]["trajectory"]["best_search"] = [2.0, 2.0]
    s = summarize(searched, info, budgets=(1, 2)).set_index("budget")
    assert s.loc[2, "search_mean"] == pytest.approx(2.5)
    assert s.loc[2, "search_sem"] == pytest.approx(np.std([3.0, 2.0], ddof=1) / np.sqrt(2))
    assert s.loc[1, "search_mean"] == pytest.approx(1.5)
    assert s.loc[2, "report_mean"] == pytest.approx(6.5) and s.loc[2, "search_n"] == 2
    # The run budget itself is always a row, even when not among the requested budgets.
    assert list(summarize(runs, info, budgets=(2,)).query("method == 'm'").budget) == [2, 4]


# -- real benchmark: one small bench shared by the tests below ------------------------------


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory: pytest.TempPathFactory):
    if not HAVE_NB201:
        pytest.skip("NAS-Bench-201 data not found")
    out = tmp_path_factory.mktemp("bench")
    result = bench(
        "nb201",
        "cifar10",
        ["rs", "re"],
        30,
        "0-3",
        out,
        workers=2,
        budgets=BUDGETS,
        command="seminas bench --test",
    )
    return out, result


@needs_nb201
def test_small_bench_writes_results_summary_and_plot(small_bench) -> None:
    out, result = small_bench
    assert (result.new_runs, result.skipped, result.failed) == (8, 0, 0)
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 8
    assert sorted((x["strategy"], x["seed"]) for x in lines) == sorted(
        (s, i) for s in ("rs", "re") for i in range(4)
    )
    for line in lines:
        assert len(line["arch_ids"]) == 30 == line["num_queries"]
        assert len(line["trajectory"]["best_report"]) == 30
        assert "trials" not in line
    md = (out / "summary.md").read_text()
    assert "cifar10" in md and "seminas bench --test" in md
    assert "validation accuracy" in md and "test accuracy" in md
    for method in ("rs", "re[nb201]"):  # RE runs its NB201 preset by default
        for b in BUDGETS:
            assert f"| {method} | {b} |" in md
    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["rows"]) == 6 and summary["optimum"]["report"] == pytest.approx(
        94.3733, 1e-4
    )


@needs_nb201
def test_summary_numbers_match_a_hand_computation(small_bench) -> None:
    out, _ = small_bench
    lines = _lines(out / "results.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    optimum = set(summary["optimum"]["arch_ids"])
    for row in summary["rows"]:
        runs = [x for x in lines if x["strategy"] == row["strategy"]]
        b = row["budget"]
        chosen = [x["trajectory"]["best_report"][b - 1] for x in runs]
        assert row["runs"] == 4
        assert row["report_mean"] == pytest.approx(np.mean(chosen))
        assert row["report_std"] == pytest.approx(np.std(chosen, ddof=1))
        searched = [x["trajectory"]["best_search"][b - 1] for x in runs]
        assert row["search_mean"] == pytest.approx(np.mean(searched))
        assert row["search_sem"] == pytest.approx(np.std(searched, ddof=1) / 2)
        found = [x for x in runs if optimum & set(x["arch_ids"][:b])]
        assert row["optimum_fraction"] == pytest.approx(len(found) / 4)
    row10 = next(r for r in summary["rows"] if r["strategy"] == "re" and r["budget"] == 10)
    expected = np.mean([x["trajectory"]["best_report"][9] for x in lines if x["strategy"] == "re"])
    assert row10["report_mean"] == pytest.approx(expected)
    md = (out / "summary.md").read_text()
    assert f"| re[nb201] | 10 | {expected:.2f} ±" in md


@needs_nb201
def test_same_spec_gives_the_same_line_in_any_process(small_bench) -> None:
    out, _ = small_bench
    written = {(x["strategy"], x["seed"]): x for x in _lines(out / "results.jsonl")}
    for strategy in ("rs", "re"):
        preset = written[(strategy, 2)]["preset"]  # the default preset the bench chose
        spec = RunSpec(space="nb201", dataset="cifar10", strategy=strategy, budget=30, seed=2,
                       preset=preset)
        first, second = run_one(spec), run_one(spec)
        for line in (first, second, written[(strategy, 2)]):
            line.pop("wall_seconds")
        assert first == second == written[(strategy, 2)]


@needs_nb201
def test_more_seeds_append_only_the_new_runs(small_bench, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    shutil.copytree(small_bench[0], out)
    before = (out / "results.jsonl").read_text()
    result = bench(
        "nb201", "cifar10", "rs,re", 30, "0-5", out, workers=2, budgets=BUDGETS
    )
    assert (result.new_runs, result.skipped, result.runs) == (4, 8, 12)
    text = (out / "results.jsonl").read_text()
    assert text.startswith(before)  # appended, not rewritten
    assert len(_lines(out / "results.jsonl")) == 12
    assert "| rs | 30 |" in (out / "summary.md").read_text()
    assert "--seeds 0-5" in (out / "summary.md").read_text()


@needs_nb201
def test_truncated_last_line_is_ignored_and_the_run_redone(small_bench, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    shutil.copytree(small_bench[0], out)
    path = out / "results.jsonl"
    raw = path.read_text().splitlines(keepends=True)
    lost = json.loads(raw[-1])
    path.write_text("".join(raw[:-1]) + raw[-1][: len(raw[-1]) // 2])  # killed mid-write
    with pytest.warns(BenchWarning, match="truncated last line"):
        assert len(read_results(path)) == 7
    specs = make_specs("nb201", "cifar10", ["rs", "re"], 30, range(4))
    with pytest.warns(BenchWarning):
        lines = run_bench(specs, out, workers=1)
    assert len(lines) == 8
    on_disk = _lines(path)  # every line parses again
    assert len(on_disk) == 8
    redone = next(
        x for x in on_disk if (x["strategy"], x["seed"]) == (lost["strategy"], lost["seed"])
    )
    assert redone["arch_ids"] == lost["arch_ids"]


@needs_nb201
def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path: Path, capfd) -> None:
    good = RunSpec(space="nb201", dataset="cifar10", strategy="rs", budget=10, seed=0)
    bad = RunSpec(space="nb201", dataset="cifar10", strategy="rs", budget=10, seed=1,
                  overrides={"no_such_option": 1})  # fmt: skip
    with pytest.raises(BenchRunError, match="1 of 2 runs failed") as err:
        run_bench([bad, good], tmp_path, workers=1)
    assert len(err.value.failures) == 1 and len(err.value.output) == 1
    assert len(_lines(tmp_path / "results.jsonl")) == 1
    failure = _lines(tmp_path / "errors.jsonl")[0]
    assert failure["spec"]["seed"] == 1 and "no_such_option" in failure["error"]
    assert "run failed" in capfd.readouterr().err


@needs_nb201
def test_bench_refuses_to_mix_benchmarks_in_one_directory(small_bench, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    shutil.copytree(small_bench[0], out)
    specs = make_specs("nb201", "cifar100", ["rs"], 30, [0])
    with pytest.raises(SeminasError, match="mix benchmarks"):
        run_bench(specs, out)


def test_bad_bench_arguments_fail_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(SeminasError, match="strategy"):
        make_specs("nb201", "cifar10", ["nope"], 30, [0])
    with pytest.raises(SeminasError, match="budget"):
        make_specs("nb201", "cifar10", ["rs"], 0, [0])
    with pytest.raises(SeminasError, match="no strategy in the bench has a preset"):
        make_specs("nb201", "cifar10", ["rs"], 30, [0], preset="nope")
    with pytest.raises(SeminasError, match="dataset"):
        make_specs("nb201", "mnist", ["rs"], 30, [0])


def test_bench_runs_nas_bench_101_from_an_official_file(tmp_path: Path, capsys) -> None:
    """NAS-Bench-101 in the bench: the official file is found in the data directory, --fidelity
    is its epochs, and each run sees the training runs its own seed draws."""
    from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101
    from seminas.cli import main

    data = tmp_path / "data"
    (data / "nasbench101").mkdir(parents=True)
    write_synthetic_nb101(data / "nasbench101" / "nasbench_full.tfrecord",
                          synthetic_specs(200, seed=0), seed=0, epochs=(12, 108))
    out = tmp_path / "bench"
    argv = ["--data-dir", str(data), "bench", "--space", "nb101", "--strategies", "re,rs",
            "--budget", "25", "--seeds", "0-1", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    lines = read_results(out)
    assert sorted((ln["strategy"], ln["seed"]) for ln in lines) == [
        ("re", 0), ("re", 1), ("rs", 0), ("rs", 1)]
    assert {(ln["space"], ln["fidelity"]) for ln in lines} == {("nb101", 108)}
    assert all(ln["num_queries"] == 25 for ln in lines)
    assert lines[0]["arch_ids"] != lines[1]["arch_ids"]  # another seed, another search
    assert "nb101" in (out / "summary.md").read_text()
    capsys.readouterr()
    with pytest.raises(SeminasError, match="no dataset 'cifar10': choose official"):
        make_benchmark("nb101", "cifar10", data_dir=data)
    # --epochs is the table's fidelity, and the official file comes from the data directory
    out12 = tmp_path / "bench12"
    code = main(["--data-dir", str(data), "bench", "--space", "nb101", "--strategies", "rs",
                 "--epochs", "12", "--budget", "5", "--seeds", "0", "--workers", "1", "--quiet",
                 "--out", str(out12)])
    assert code == 0, capsys.readouterr().err
    assert {ln["fidelity"] for ln in read_results(out12)} == {12}
    assert main(["bench", "--space", "nb101", "--nb101-file", "x.tfrecord", "--strategies", "rs",
                 "--budget", "5", "--seeds", "0", "--quiet", "--out", str(tmp_path / "b3")]) == 2
    assert "pass --data-dir DIR instead of --nb101-file" in capsys.readouterr().err
