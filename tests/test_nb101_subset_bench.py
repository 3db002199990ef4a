"""NAS-Bench-101's real 20,001-cell subset as a searchable table (``--dataset subset-20k``): the
space is cut down to exactly those cells, searches and benches report the single-run validation
accuracy (the subset has no test accuracy), and bad table options are refused in one line."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import need

from seminas.benchmarks.nb101.subset import SUBSET_ROWS
from seminas.builtins import nb101_check
from seminas.errors import SeminasError


@pytest.fixture
def subset_table(enum_in_cache):
    need("nasbench101/subset-20k.csv")
    from seminas.experiments.bench.tables import make_benchmark

    return make_benchmark("nb101", "subset-20k", fidelity=108)


def test_table_options_are_checked_before_any_work():
    assert nb101_check({"dataset": "Subset", "epochs": "36"})["dataset"] == "subset-20k"
    assert nb101_check({"dataset": None, "epochs": 108}) == {"dataset": "official", "epochs": 108}
    with pytest.raises(SeminasError, match="no dataset 'cifar10'.*subset-20k"):
        nb101_check({"dataset": "cifar10", "epochs": 108})
    with pytest.raises(SeminasError, match="no results for 50 epochs: choose --epochs 4, 12"):
        nb101_check({"dataset": "subset-20k", "epochs": 50})


def test_the_space_is_exactly_the_subsets_cells(subset_table):
    space = subset_table.space
    assert space.restrict and space.size == SUBSET_ROWS == len(subset_table)
    rng = np.random.default_rng(0)
    cells = space.sample(200, rng)
    ids = {space.arch_id(c) for c in cells}
    assert len(ids) == 200 and ids <= set(subset_table.hashes)
    # every cell's matrix, found through the enumeration, hashes back to its row
    for h in subset_table.hashes[:: SUBSET_ROWS // 50]:
        assert space.arch_id(space.enumeration.spec(space.enumeration._index[h])) == h
    # a one-edit move or a mutation outside the subset is not a valid cell of this space (the
    # strategies draw again), one inside it is
    outside = 0
    for cell in cells[:20]:
        for move in [*space.neighbours(cell), space.mutate(cell, rng)]:
            inside = space.arch_id(move) in subset_table._index
            assert (space.try_validate(move) is not None) == inside
            outside += not inside
    assert outside > 0


def test_report_metric_is_the_validation_accuracy_that_was_searched(subset_table):
    best = subset_table.best_by_report()
    assert best.report_metric == best.search_metric == max(
        r.search_metric for r in subset_table.records()
    )
    record = subset_table.lookup_hash(subset_table.hashes[0])
    assert record.report_metric == record.search_metric
    assert "no test accuracy" in subset_table.report_metric_name


def test_bench_on_the_subset(enum_in_cache, tmp_path):
    """The bench accepted NB101 only with the official file; on the subset it runs every kind
    of strategy (random, evolution, table-ranking, the controller, local search) and its
    summary names the subset's optimum as both the global and the search optimum."""
    need("nasbench101/subset-20k.csv")
    out = tmp_path / "bench"
    argv = [
        sys.executable, "-m", "seminas.cli", "bench", "--space", "nb101", "--dataset", "subset-20k",
        "--strategies", "rs,re,gbdt,seminas,predictor-ls", "--preset", "nb201",
        "--budget", "60", "--seeds", "0", "--workers", "1", "--quiet", "--out", str(out),
        "--set", "seminas.pretrain_epochs=5", "--set", "seminas.first_epochs=2",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (out / "results.jsonl").read_text().splitlines()
    rows = [r for r in map(json.loads, lines) if "method" in r]  # after the file's header
    assert len(rows) == 5
    summary = (out / "summary.md").read_text()
    assert "dataset: subset-20k" in summary and "no test accuracy" in summary
    optimum = "096f593e0f12d65f6220bf8565b764a9"  # the subset's best validation accuracy
    assert f"Global optimum (highest report metric in the table): 94.9119 (`{optimum}`)" in summary
    assert {row["dataset"] for row in rows} == {"subset-20k"}
    assert all(row["num_queries"] == 60 for row in rows)


def test_official_table_is_still_the_default(tmp_path, capsys):
    from seminas.cli import main

    code = main(["bench", "--space", "nb101", "--strategies", "rs", "--budget", "5",
                 "--seeds", "0", "--out", str(tmp_path / "b"), "--data-dir", str(tmp_path)])
    assert code == 2 and not (tmp_path / "b").exists()  # refused before any worker started
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nasbench_only108" in err[0] and "--dataset subset-20k" in err[0]
