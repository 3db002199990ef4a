"""NAAP-440: the reader, its split and checks, and the resumable baseline study."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import need

from seminas.errors import SeminasError

CSV = "naap440/naap440v2.csv"
SCHEMES = "naap440/generated_schemes.json"


@pytest.fixture(scope="module")
def bench():
    need(CSV)
    need(SCHEMES)
    from seminas.benchmarks.naap440 import load_naap440

    return load_naap440()


def test_reader_facts_and_split(bench):
    assert len(bench.frame) == 440
    assert len(bench.train) == 400 and len(bench.test) == 40
    assert not set(bench.train) & set(bench.test)
    assert (bench.frame["IsTest"].to_numpy()[bench.test] == 1).all()
    y = bench.target
    assert (round(y.min(), 4), round(y.max(), 4), round(y.mean(), 4)) == (0.5291, 0.7504, 0.6525)
    # entry i-1 of the schemes is ModelId i: its layer count and end widths match the row
    for i in (0, 137, 439):
        row, scheme = bench.frame.iloc[i], bench.schemes[i]
        assert row["ModelId"] == i + 1
        assert len(scheme) == row["NumLayers"]
        assert scheme[0]["width"] == row["FirstLayerWidth"]
        assert scheme[-1]["width"] == row["LastLayerWidth"]


def test_feature_shapes(bench):
    arch = bench.arch_features()
    assert arch.shape == (440, len(bench.arch_columns())) == (440, 13)
    assert np.isfinite(arch).all()
    widths = [sum(layer["width"] for layer in s) for s in bench.schemes]
    assert arch[:, bench.arch_columns().index("TotalWidth")].tolist() == widths
    curves = bench.curve_features(5)
    assert curves.shape == (440, 10)
    assert curves[:, 8].tolist() == bench.frame["e5Accuracy"].tolist()
    assert bench.features(True, 9).shape == (440, 31)
    assert bench.features(False, 9).shape == (440, 18)
    with pytest.raises(SeminasError, match="out of range"):
        bench.curve_features(91)


def _copy_data(tmp_path, frame=None, schemes=None):
    """A data directory holding (possibly altered) copies of the two NAAP-440 files."""
    src_csv, src_schemes = need(CSV), need(SCHEMES)
    folder = tmp_path / "naap440"
    folder.mkdir(parents=True)
    frame = pd.read_csv(src_csv) if frame is None else frame
    frame.to_csv(folder / "naap440v2.csv", index=False)
    schemes = json.loads(src_schemes.read_text()) if schemes is None else schemes
    (folder / "generated_schemes.json").write_text(json.dumps(schemes))
    return tmp_path


def test_missing_file_is_one_line_error(tmp_path):
    from seminas.benchmarks.naap440 import load_naap440

    with pytest.raises(SeminasError) as err:
        load_naap440(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / CSV) in message and "--data-dir" in message


def test_missing_column_and_bad_schemes(tmp_path):
    from seminas.benchmarks.naap440 import load_naap440

    frame = pd.read_csv(need(CSV))
    root = _copy_data(tmp_path / "a", frame.drop(columns=["e3LossMean"]))
    with pytest.raises(SeminasError) as err:
        load_naap440(root)
    assert "\n" not in str(err.value)
    assert "e3LossMean" in str(err.value) and "naap440v2.csv" in str(err.value)

    root = _copy_data(tmp_path / "b", frame.iloc[:439])
    with pytest.raises(SeminasError, match="439 rows"):
        load_naap440(root)

    schemes = json.loads(need(SCHEMES).read_text())
    root = _copy_data(tmp_path / "c", schemes=schemes[:-1])
    with pytest.raises(SeminasError, match="439 architectures"):
        load_naap440(root)
    root = _copy_data(tmp_path / "d", schemes=[schemes[1], schemes[0], *schemes[2:]])
    with pytest.raises(SeminasError, match="does not match"):
        load_naap440(root)


def test_quick_study_is_deterministic_resumes_and_curves_help(tmp_path, bench):
    from seminas.experiments.naap440 import run_study
    from seminas.experiments.naap440.study import open_store

    kwargs = dict(regressors=["ridge", "random-forest"],
                  features=["arch", "arch+e9", "curves-e9"])
    first = run_study(tmp_path / "one", [0], **kwargs)
    assert (first.units, first.new_units) == (6, 6)
    count = len(open_store(tmp_path / "one").read())
    again = run_study(tmp_path / "one", [0], **kwargs)
    assert again.new_units == 0
    assert len(open_store(tmp_path / "one").read()) == count == 6
    run_study(tmp_path / "two", [0], **kwargs)

    def by_key(path):
        return {(r["regressor"], r["features"]): r for r in open_store(path).read()}

    one, two = by_key(tmp_path / "one"), by_key(tmp_path / "two")
    assert {k: v["predictions"] for k, v in one.items()} == {
        k: v["predictions"] for k, v in two.items()
    }
    assert first.summary_md.read_text().count("| random-forest |") == 4  # 1 headline + 3 rows
    assert first.plot.stat().st_size > 0
    assert len(json.loads(first.results_json.read_text())["records"]) == 6
    tau = {k: v["metrics"]["kendall_tau"] for k, v in one.items()}
    mae = {k: v["metrics"]["mae"] for k, v in one.items()}
    # measured (docs/results/naap440): architecture + 9 epochs ranks far better than the
    # curves alone (random forest 0.94 vs 0.80), and the curves cut Ridge's MAE by ~45%
    assert tau["random-forest", "arch+e9"] > tau["random-forest", "curves-e9"] + 0.08
    assert mae["ridge", "arch+e9"] < 0.7 * mae["ridge", "arch"]


def test_unknown_regressor_is_refused(tmp_path, bench):
    from seminas.experiments.naap440 import run_study

    with pytest.raises(SeminasError, match="unknown regressor 'xgb'"):
        run_study(tmp_path, [0], regressors=["xgb"])
