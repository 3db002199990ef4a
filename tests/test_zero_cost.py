"""Training-free scores (DAS, NASWOT, synflow) on hand-made networks with known answers, on real
NAS-Bench-201 networks and images, and the resumable study with its report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import need
from torch import nn

from seminas.errors import SeminasError
from seminas.zero_cost import (
    SCORES,
    activation_kernel,
    activation_scores,
    das,
    kernel_from_codes,
    load_scores,
    naswot,
    nb201_network,
    save_scores,
    synflow,
)

ALL_CONV = "|{0}~0|+|{0}~0|{0}~1|+|{0}~0|{0}~1|{0}~2|".format("nor_conv_3x3")
POOL_SKIP = "|{0}~0|+|{1}~0|{0}~1|+|{1}~0|{0}~1|{1}~2|".format("avg_pool_3x3", "skip_connect")
CUT_OFF = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|none~2|"
SMALL = {"channels": 8, "cells_per_stage": 1}


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _linear_chain(relu: bool) -> nn.Module:
    first = nn.Linear(3, 2, bias=False)
    second = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]]))
        second.weight.copy_(torch.tensor([[2.0, -1.0]]))
    return nn.Sequential(first, nn.ReLU(), second) if relu else nn.Sequential(first, second)


@pytest.mark.parametrize("relu", [False, True])
def test_synflow_of_a_linear_chain_is_twice_its_absolute_flow(relu):
    # |W1| 1 = (6, 2.5); R = |W2| (6, 2.5) = 2*6 + 1*2.5 = 14.5. For each layer of a bias-free
    # chain, sum |w * dR/dw| is R itself, so two layers give 29 (ReLU is the identity on the
    # positive signals of absolute weights).
    net = _linear_chain(relu)
    before = [p.detach().clone() for p in net.parameters()]
    assert synflow(net, (3,)) == pytest.approx(29.0, rel=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_synflow_of_a_conv_is_its_weight_times_the_pixels_it_sees():
    # one 1x1 conv on a 2x2 all-ones image: R = 4 * sum|w|, and dR/dw = 4 for every weight.
    conv = nn.Conv2d(2, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(-3.0, 3.0).view(3, 2, 1, 1))
    assert synflow(conv, torch.zeros(5, 2, 2, 2)) == pytest.approx(4 * 9.0)


def test_naswot_and_das_of_hand_made_codes():
    # codes 101 and 001 agree on 2 of 3 units: K = [[3, 2], [2, 3]], |K| = 5;
    # S = K / 3, |S| = 5/9, DAS = log(5/9) + log 3 = log(5/3).
    x = torch.tensor([[1.0, -1.0, 2.0], [-1.0, -3.0, 0.5]])
    relu = nn.Sequential(nn.ReLU())
    k = activation_kernel(relu, x)
    np.testing.assert_array_equal(k.kernel, [[3.0, 2.0], [2.0, 3.0]])
    np.testing.assert_array_equal(k.kernel, kernel_from_codes([[1, 0, 1], [0, 0, 1]]).kernel)
    assert naswot(relu, x) == pytest.approx(math.log(5.0))
    assert das(relu, x) == pytest.approx(math.log(5.0 / 3.0))
    # NASWOT = B log N_A + log|S|, the decoupling DAS rests on
    parts = activation_scores(relu, x)
    assert parts["naswot"] == pytest.approx(2 * parts["das_units"] + parts["das_distinguish"])


def test_identical_codes_give_the_degenerate_value():
    # every input reaches the ReLU as the same constant: one code for all images, |K| = 0
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([1.0, -1.0, 2.0, -2.0, 3.0]))
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(activation_kernel(net, x).kernel, np.full((6, 6), 5.0))
    assert naswot(net, x) == -math.inf
    assert das(net, x) == -math.inf


def test_a_network_without_relu_is_refused():
    with pytest.raises(ValueError, match="no nn.ReLU"):
        naswot(nn.Linear(3, 2), torch.ones(2, 3))


def test_same_seed_same_scores_other_seed_other_scores():
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    a = {n: f(nb201_network(ALL_CONV, 7, SMALL), x) for n, f in SCORES.items()}
    b = {n: f(nb201_network(ALL_CONV, 7, SMALL), x) for n, f in SCORES.items()}
    c = {n: f(nb201_network(ALL_CONV, 8, SMALL), x) for n, f in SCORES.items()}
    assert a == b
    assert all(a[n] != c[n] for n in SCORES)
    shared = activation_scores(nb201_network(ALL_CONV, 7, SMALL), x)
    assert shared["naswot"] == a["naswot"] and shared["das"] == a["das"]


def test_scores_of_real_cells_on_real_images():
    need("cifar10/cifar10-10k.npz")
    from seminas.experiments.zero_cost.study import StudySettings, minibatch

    batch = minibatch(StudySettings(batch_size=16))
    assert batch.shape == (16, 3, 32, 32)
    assert abs(float(batch.mean())) < 0.5  # normalised like training
    conv = {n: f(nb201_network(ALL_CONV, 0), batch) for n, f in SCORES.items()}
    pool = {n: f(nb201_network(POOL_SKIP, 0), batch) for n, f in SCORES.items()}
    assert all(math.isfinite(v) for v in [*conv.values(), *pool.values()])
    # the all-conv cell has 1.5 M weights against 0.07 M: its synaptic flow is far larger
    assert conv["synflow"] > 1e6 * pool["synflow"] > 0
    # real images are told apart by both networks: the normalised kernel is not singular
    assert conv["naswot"] > 0 and pool["naswot"] > 0
    # a cell whose output is cut off (no path from input to output) sends zeros onwards
    cut = {n: f(nb201_network(CUT_OFF, 0), batch) for n, f in SCORES.items()}
    assert cut["naswot"] == -math.inf and cut["synflow"] == 0.0


def test_score_file_round_trip_and_refusals(tmp_path):
    path = save_scores(tmp_path / "s.npz", [3, 1], {"das": [1.0, -math.inf]}, {"space": "nb201"})
    index, scores, meta = load_scores(path)
    assert index.tolist() == [3, 1] and scores["das"][1] == -math.inf
    assert meta["scores"] == ["das"] and meta["space"] == "nb201"
    with pytest.raises(ValueError, match="reserved"):
        save_scores(tmp_path / "t.npz", [0], {"index": [1.0]}, {})
    with pytest.raises(SeminasError, match="does not exist"):
        load_scores(tmp_path / "absent.npz")


def test_tiny_study_resumes_and_reports(tmp_path):
    need("cifar10/cifar10-10k.npz")
    need("nasbench201/test-200ep.csv")
    from seminas.experiments.zero_cost import StudySettings, run_study, sample_cells

    settings = StudySettings(seed=3, batch_size=8, network="cpu-scale")
    out = run_study(tmp_path, 5, settings)
    assert (out.cells, out.new_cells) == (5, 5)
    text = out.results.read_text()
    again = run_study(tmp_path, 5, settings)
    assert again.new_cells == 0 and out.results.read_text() == text  # nothing recomputed
    more = run_study(tmp_path, 7, settings)
    assert (more.cells, more.new_cells) == (7, 2)  # the 5-cell sample is the start of the 7

    summary = json.loads(more.summary_json.read_text())
    assert summary["cells"] == 7 and summary["best"]["score"] in SCORES
    for score in ("das", "naswot", "synflow", "das_distinguish", "das_units"):
        for ds in ("cifar10", "cifar100", "ImageNet16-120"):
            c = summary["correlations"][score][ds]
            assert c["overall"]["n"] == 7 and c["top10"]["n"] >= 1
            assert "kendall_tau" in c["overall"] and "spearman_rho" in c["overall"]
    assert set(summary["seconds_per_cell"]["by_score"]) == set(SCORES)
    assert "--cells 7" in summary["command"] and "--network cpu-scale" in summary["command"]
    assert "## ImageNet16-120" in more.summary_md.read_text()
    assert [p.name for p in more.plots] == [f"scatter-{s}.png" for s in SCORES]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in more.plots)

    index, scores, meta = load_scores(more.scores)
    assert sorted(index.tolist()) == sorted(sample_cells(7, 3).tolist())
    assert set(scores) == {"das", "naswot", "synflow", "das_distinguish", "das_units"}
    assert meta["settings"]["network"] == "cpu-scale"
    records = [json.loads(line) for line in more.results.read_text().splitlines()[1:]]
    by_index = {r["index"]: r["scores"]["synflow"] for r in records}
    assert [by_index[i] for i in index] == scores["synflow"].tolist()

    with pytest.raises(SeminasError, match="other settings"):
        run_study(tmp_path, 5, StudySettings(seed=3, batch_size=16, network="cpu-scale"))


def test_a_synflow_only_study_scores_synflow_alone_and_agrees_with_the_full_one(tmp_path):
    need("cifar10/cifar10-10k.npz")
    need("nasbench201/test-200ep.csv")
    from seminas.experiments.zero_cost import StudySettings, run_study

    full = run_study(tmp_path / "full", 4, StudySettings(seed=5, batch_size=8,
                                                          network="cpu-scale"))
    only = run_study(tmp_path / "only", 4, StudySettings(seed=5, batch_size=8,
                                                          network="cpu-scale",
                                                          scores=("synflow",)))
    _, all_scores, _ = load_scores(full.scores)
    index, scores, meta = load_scores(only.scores)
    assert set(scores) == {"synflow"} and meta["settings"]["scores"] == ["synflow"]
    assert scores["synflow"].tolist() == all_scores["synflow"].tolist()  # same cells, same seeds
    summary = json.loads(only.summary_json.read_text())
    assert summary["scores"] == ["synflow"] and summary["components"] == []
    assert list(summary["seconds_per_cell"]) == ["synflow", "by_score", "all"]
    assert "--scores synflow" in summary["command"]
    assert [p.name for p in only.plots] == ["scatter-synflow.png"]
    with pytest.raises(SeminasError, match="other settings"):  # a full study there is refused
        run_study(tmp_path / "only", 4, StudySettings(seed=5, batch_size=8, network="cpu-scale"))


def test_bad_study_input_is_one_line():
    from seminas.cli import main

    with pytest.raises(SeminasError, match="--cells 0"):
        from seminas.experiments.zero_cost import sample_cells

        sample_cells(0, 0)
    with pytest.raises(SeminasError, match="network size"):
        from seminas.experiments.zero_cost import StudySettings

        StudySettings(network="huge")
    with pytest.raises(SystemExit) as exit_info:
        main(["zero-cost", "study", "--cells", "x", "--out", "/tmp/unused"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["zero-cost", "study", "--scores", "synflow,zico", "--out", "/tmp/unused"])
    assert exit_info.value.code == 2
    with pytest.raises(SeminasError, match="unknown training-free score 'zico'"):
        StudySettings(scores=("zico",))
