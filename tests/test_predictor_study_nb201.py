"""The NAS-Bench-201 predictor study: its cells, its files, resuming, reuse of plain fits (which
changes the time, never the result) and its command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seminas.cli import main
from seminas.errors import SeminasError
from seminas.experiments.predictor_study import nb201 as st

TINY = {
    "gbdt": ("gbdt", {"min_data_in_leaf": 5, "num_boost_round": 20}),
    "mlp": ("mlp", {"hidden": (16,), "epochs": 5, "batch_size": 32, "max_steps": 20,
                    "pretrain_epochs": 1}),
}


@pytest.fixture(scope="module")
def data():
    return st.NB201StudyData.load(["cifar10"])


@pytest.fixture
def tiny(monkeypatch):
    for name, spec in TINY.items():
        monkeypatch.setitem(st.PREDICTOR_SPECS, name, spec)


def test_cells_are_disjoint_nested_and_the_same_for_every_dataset():
    settings = st.NB201StudySettings()
    cells = st.draw_cells(settings, 3)
    assert len(cells.labeled) == 300 and len(cells.unlabeled) == 5000
    assert len(cells.test) == 15_625 - 5300
    every = np.concatenate([cells.labeled, cells.unlabeled, cells.test])
    assert len(np.unique(every)) == 15_625
    assert np.array_equal(st.draw_cells(settings, 3).test, cells.test)
    assert not np.array_equal(st.draw_cells(settings, 4).test, cells.test)
    assert st.applies("gnn", "both") and not st.applies("gbdt", "pretrain")
    assert not st.applies("controller", "pretrain") and st.applies("ensemble", "pretrain")


def test_study_writes_its_files_resumes_and_reuses_plain_fits(tmp_path, tiny, data):
    out = tmp_path / "study"
    grid = {"datasets": ["cifar10"], "predictors": ["gbdt", "mlp"], "ns": [20],
            "seeds": [0], "m": 50, "data": data}
    first = st.run_nb201_study(out, **grid)
    assert (first.cells, first.new_cells) == (2 + 4, 6)
    raw = (out / st.RESULTS_FILE).read_text().splitlines()
    assert json.loads(raw[0]) == {"seminas_results": 1, "kind": st.KIND}
    lines = [json.loads(x) for x in raw[1:]]
    assert {(ln["predictor"], ln["variant"]) for ln in lines} == {
        ("gbdt", "none"), ("gbdt", "pseudo"), ("mlp", "none"), ("mlp", "pseudo"),
        ("mlp", "pretrain"), ("mlp", "both")}
    for ln in lines:
        assert ln["n_test"] == 10_325 and ln["top_k"] == 50
        assert -1 <= ln["kendall_tau"] <= 1 and 0 <= ln["top_precision"] <= 1
        assert (ln["pretrain_cpu_seconds"] is not None) == (ln["variant"] in ("pretrain", "both"))
        if ln["variant"] in ("pseudo", "both"):
            assert ln["info"]["pseudo_labeled"] == 50 and ln["info"]["reused_plain_fit"]
    summary = json.loads((out / st.SUMMARY_JSON).read_text())
    assert len(summary["rows"]) == 6 and len(summary["effects"]) == 4
    assert summary["command"].startswith("seminas study-predictor --space nb201")
    text = (out / st.SUMMARY_MD).read_text()
    assert "| mlp | both | 20 |" in text and "Effect of each variant" in text
    assert (out / st.PLOT_PNG).read_bytes()[:4] == b"\x89PNG"
    assert st.run_nb201_study(out, **grid).new_cells == 0  # nothing is recomputed

    # a cell computed alone (no reuse of the plain fit) gives the very same result
    cells = st.draw_cells(st.NB201StudySettings(m=50), 0)
    for key in (("cifar10", "mlp", "both", 20, 0), ("cifar10", "gbdt", "pseudo", 20, 0)):
        alone = st.run_cell(st.NB201StudySettings(m=50), data, cells, key)
        stored = next(ln for ln in lines if st._key(ln) == key)
        assert not alone["info"]["reused_plain_fit"]
        assert alone["kendall_tau"] == stored["kendall_tau"]
        assert alone["top_precision"] == stored["top_precision"]
    with pytest.raises(SeminasError, match="other settings"):
        st.run_nb201_study(out, **{**grid, "m": 60})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--datasets", "mnist"], "unknown dataset(s) mnist"),
        (["--predictors", "svm"], "unknown predictor(s) svm"),
        (["--variants", "magic"], "unknown variant(s) magic"),
        (["--n", "301"], "each N must be in 2..300"),
        (["--m", "1,2"], "--m takes one number"),
        (["--m", "6000"], "M must be in 0..5000"),
        (["--preset", "fast"], "--preset applies to --space nb101 only"),
        (["--epochs", "3"], "--epochs applies to --space nb101 only"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code = main(["predictor-study", "--space", "nb201", "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_nb201_options_are_refused_for_nb101(tmp_path, capsys):
    code = main(["study-predictor", "--variants", "none", "--out", str(tmp_path / "x")])
    assert code == 2 and "--variants applies to --space nb201 only" in capsys.readouterr().err
