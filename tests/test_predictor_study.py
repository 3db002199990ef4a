"""The pseudo-label predictor study: its metrics, its files, resuming, and its command line."""

import json
import math
import os

import numpy as np
import pytest
from conftest import need

from seminas.cli import main
from seminas.errors import SeminasError
from seminas.experiments import predictor_study as st
from seminas.spaces import nb101_enum as ne

# Resolved at import, before conftest points SEMINAS_CACHE at a temporary directory: a valid
# enumeration the user already built is reused (read-only) instead of rebuilt.
USER_CACHE = ne.default_cache_path()


def test_metrics_on_a_hand_made_example():
    # one discordant pair of six: tau = (5 - 1) / 6; sum of squared rank gaps 2: rho = 1 - 12/60
    m = st.ranking_metrics([1, 2, 3, 4], [1, 2, 4, 3], top_fraction=0.25)
    assert m["kendall_tau"] == pytest.approx(4 / 6)
    assert m["spearman_rho"] == pytest.approx(0.8)
    assert m["top_k"] == 1 and m["top_precision"] == 0.0  # predicted best is truly second
    assert st.ranking_metrics([1, 2, 3, 4], [1, 2, 4, 3], 0.5)["top_precision"] == 1.0
    # 1% of 250 cells rounds up to 3; two of the predicted top 3 are in the true top 3
    truth = np.arange(250.0)
    pred = truth.copy()
    pred[[249, 0]] = pred[[0, 249]]
    m = st.ranking_metrics(pred, truth)
    assert m["top_k"] == 3 and m["top_precision"] == pytest.approx(2 / 3)


def test_ties_count_as_random_tie_breaking():
    m = st.ranking_metrics([0, 0, 0, 0], [1, 2, 3, 4], top_fraction=0.25)
    assert math.isnan(m["kendall_tau"]) and math.isnan(m["spearman_rho"])
    assert m["top_precision"] == pytest.approx(0.25)  # a random pick hits the best 1 time in 4
    m = st.ranking_metrics([1, 2, 3, 3], [1, 2, 3, 4], top_fraction=0.25)
    assert m["top_precision"] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def enum(tmp_path_factory):
    """The full enumeration, shared like tests/test_nb101_enum.py's (built once if needed)."""
    shared = os.environ.get("SEMINAS_TEST_ENUM_CACHE")
    if shared:
        return ne.load_or_build(shared, progress=False)
    if USER_CACHE.is_file():
        try:
            cached = ne.load(USER_CACHE)
            if cached.is_full:
                return cached
        except ne.EnumerationCacheError:
            pass
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return ne.load_or_build(root / "nb101-enum" / ne.CACHE_NAME, progress=False)


def test_study_writes_its_files_and_resumes(tmp_path, enum):
    need("nasbench101/subset-20k.csv")
    out = tmp_path / "study"
    grid = {"ns": [80], "ms": [0, 300], "seeds": [0], "max_steps": 15, "enumeration": enum}
    first = st.run_study(out, **grid)
    assert (first.cells, first.new_cells) == (4, 4)
    raw_lines = [json.loads(x) for x in (out / st.RESULTS_FILE).read_text().splitlines()]
    assert raw_lines[0] == {"seminas_results": 1, "kind": "predictor-study"}  # versioned store
    lines = raw_lines[1:]
    assert {(ln["predictor"], ln["m"]) for ln in lines} == {
        ("controller", 0), ("controller", 300), ("gbdt", 0), ("gbdt", 300)
    }
    for ln in lines:
        assert ln["n_test"] == 20_001 - 80 and ln["top_k"] == math.ceil(0.01 * ln["n_test"])
        assert -1 <= ln["kendall_tau"] <= 1 and 0 <= ln["top_precision"] <= 1
    controller = [ln for ln in lines if ln["predictor"] == "controller"]
    assert all(ln["info"]["pretrain_steps"] <= 15 for ln in controller)
    summary = json.loads((out / st.SUMMARY_JSON).read_text())
    assert len(summary["rows"]) == 4 and len(summary["effects"]) == 2
    assert "seminas study-predictor --n 80 --m 0,300 --seeds 0" in summary["command"]
    assert summary["settings"]["epochs"] >= 1 and summary["settings"]["upsample"] == 10
    text = (out / st.SUMMARY_MD).read_text()
    assert "| gbdt | 80 | 300 |" in text and "Effect of pseudo-labels" in text
    assert (out / st.PLOT_PNG).read_bytes()[:4] == b"\x89PNG"

    # nothing left to do: nothing is recomputed
    assert st.run_study(out, **grid).new_cells == 0
    # an interrupted write: the cut line is dropped and only that cell redone, identically
    raw = (out / st.RESULTS_FILE).read_text().splitlines()
    (out / st.RESULTS_FILE).write_text("\n".join(raw[:-1]) + "\n" + raw[-1][:40])
    with pytest.warns(UserWarning, match="truncated"):
        again = st.run_study(out, **grid)
    assert (again.cells, again.new_cells) == (4, 1)
    redone = json.loads((out / st.RESULTS_FILE).read_text().splitlines()[-1])
    old = json.loads(raw[-1])
    assert redone["kendall_tau"] == old["kendall_tau"]  # same seed, same cells, same fit
    # other settings never mix into the same directory
    with pytest.raises(SeminasError, match="other settings"):
        st.run_study(out, **{**grid, "max_steps": 16})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n", "ten"], "invalid --n"),
        (["--n", "1"], "each N must be"),
        (["--m=-5"], "each M must be"),
        (["--predictors", "svm"], "unknown predictor"),
        (["--preset", "nope"], "unknown SemiNAS preset"),
        (["--seeds", "3-1"], "reversed"),
        (["--epochs", "0"], "epochs must be >= 1"),
        (["--max-steps=-1"], "max steps must be >= 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code = main(["study-predictor", "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
