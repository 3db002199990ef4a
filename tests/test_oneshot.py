"""The NAS-Bench-201 supernet and the one-shot methods: relaxation, path = standalone network,
BN recalibration through the MobileNet machinery, resumable scoring, and every method exact and
deterministic at a tiny budget."""

import numpy as np
import pytest
import torch
from conftest import need

from seminas.errors import SeminasError
from seminas.networks.nb201 import NB201Network
from seminas.oneshot.supernet import (
    MixedEdge,
    NB201Shape,
    as_choice,
    build_supernet,
    inherit,
    network_params,
)
from seminas.spaces.nb201 import OPS, NB201Space
from seminas.supernet.train import recalibrate_bn

SPACE = NB201Space()
TINY = NB201Shape(channels=4, cells_per_stage=1)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _trained_a_little(model, steps=3, seed=0):
    """Move the batch-norm statistics and weights off their initial values."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        x = torch.randn(8, 3, 16, 16, generator=g)
        loss = model(x, SPACE.sample_one(rng)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_mixed_edge_with_one_hot_weights_is_the_chosen_op_exactly():
    torch.manual_seed(0)
    edge = MixedEdge(4).eval()
    x = torch.randn(2, 4, 8, 8)
    for o, name in enumerate(OPS):
        w = torch.zeros(len(OPS))
        w[o] = 1.0
        expected = torch.zeros_like(x) if name == "none" else edge.run(x, o)
        assert torch.equal(edge.mixed(x, w), expected), name


def test_relaxed_supernet_with_one_hot_weights_equals_the_path():
    model = _trained_a_little(build_supernet(TINY, seed=1)).eval()
    x = torch.randn(3, 3, 16, 16)
    rng = np.random.default_rng(2)
    for _ in range(4):
        arch = SPACE.sample_one(rng)
        w = torch.nn.functional.one_hot(torch.tensor(as_choice(arch)), len(OPS)).float()
        # dead edges (from a node that receives nothing) are skipped on the path, computed in
        # the relaxation on zeros: compare cells without them
        if "none" in arch.ops[:3]:
            continue
        assert torch.allclose(model(x, weights=w), model(x, arch), atol=1e-6)


def test_supernet_path_equals_the_standalone_network_with_inherited_weights():
    model = _trained_a_little(build_supernet(TINY, seed=3)).eval()
    x = torch.randn(4, 3, 16, 16)
    rng = np.random.default_rng(4)
    cells = [SPACE.sample_one(rng) for _ in range(6)] + [SPACE.from_code(0)]
    for arch in cells:
        net = inherit(model, arch).eval()
        assert isinstance(net, NB201Network)
        assert torch.allclose(model(x, arch), net(x), atol=1e-5), str(arch)
        assert sum(p.numel() for p in net.parameters()) == network_params(
            arch, TINY.channels, TINY.cells_per_stage)
    # the benchmark's own extremes at the standard size
    assert network_params(("nor_conv_3x3",) * 6) == 1_531_546
    assert network_params(("none",) * 6) == 73_306


def test_bn_recalibration_through_the_mobilenet_machinery():
    model = _trained_a_little(build_supernet(TINY, seed=5))
    arch = SPACE.sample_one(np.random.default_rng(6))
    batches = [torch.randn(16, 3, 16, 16, generator=torch.Generator().manual_seed(i))
               for i in range(2)]
    bns = model.path_batchnorms(arch)
    assert bns and model.stem[1] in bns
    recalibrate_bn(model, arch, batches)
    # the stem's statistics are now exactly those of the calibration images
    stem_out = torch.cat([model.stem[0](b) for b in batches])
    mean = stem_out.mean(dim=(0, 2, 3))
    assert torch.allclose(model.stem[1].running_mean, mean, atol=1e-5)
    # and the path equals the standalone network that inherits the recalibrated statistics
    model.eval()
    x = batches[0]
    assert torch.allclose(model(x, arch), inherit(model, arch).eval()(x), atol=1e-5)


def test_darts_argmax_extraction():
    from seminas.oneshot.common import argmax_cell

    alpha = torch.zeros(6, 5)
    for k, o in enumerate([1, 3, 2, 0, 4, 1]):
        alpha[k, o] = 1.0
    assert argmax_cell(alpha).ops == tuple(OPS[o] for o in [1, 3, 2, 0, 4, 1])
    assert argmax_cell(torch.zeros(6, 5)).ops == ("none",) * 6  # ties: the first operation


def test_ponas_selection_respects_the_parameter_limit():
    from seminas.oneshot.ponas import select

    table = np.tile(np.array([10.0, 20.0, 40.0, 50.0, 30.0]), (6, 1))  # conv3x3 best everywhere
    assert select(table).ops == ("nor_conv_3x3",) * 6
    for limit in (0.1, 0.4, 0.8):
        cell = select(table, limit)
        assert network_params(cell) <= limit * 1e6
        assert cell.ops != ("nor_conv_3x3",) * 6
    assert select(table, 0.1).ops.count("nor_conv_3x3") <= 1
    with pytest.raises(SeminasError, match="max-params"):
        select(table, 0.01)


TINY_SEARCH = dict(channels=4, batch_size=16, max_steps=3)


@pytest.mark.parametrize("name,extra", [
    ("darts", {}),
    ("zarts", {"samples": 2}),
    ("balenas", {}),
    ("ponas", {"finetune_steps": 1, "contexts": 1, "eval_images": 32, "calib_batches": 1,
               "max_params": 0.6}),
])
def test_each_method_is_deterministic_at_a_tiny_budget(name, extra):
    need("cifar10/cifar10-10k.npz")
    from seminas.oneshot.common import settings_from
    from seminas.oneshot.search import method

    m = method(name)
    settings = settings_from(m.settings, {**TINY_SEARCH, **extra})
    a = m.run(settings, 0)
    b = m.run(settings, 0)
    c = m.run(settings, 1)
    assert a.cell == b.cell and a.arch_params == b.arch_params
    assert np.asarray(a.arch_params).shape == (6, 5)
    SPACE.validate(a.cell)
    assert c.arch_params != a.arch_params
    assert a.cpu_seconds > 0
    if name == "ponas":
        assert network_params(a.cell) <= 0.6e6


def test_score_all_resumes_without_recomputing(tmp_path, nb201):
    need("cifar10/cifar10-10k.npz")
    from seminas.oneshot.score_all import SupernetConfig, read_npz, run, score_cells

    cfg = SupernetConfig(channels=4, epochs=0.02, batch_size=32, heldout=64, limit=6, chunk=2,
                         calib_batches=1, calib_batch_size=16, log_every=2)
    first = run(cfg, tmp_path, benchmark=nb201)
    assert first["cells"] == 6 and first["scoring"]["reused"] == 0
    assert first["scoring"]["computed"] + first["scoring"]["shared"] == 6
    index, score, meta = read_npz(tmp_path / "scores.npz")
    assert len(index) == 6 and np.all((score >= 0) & (score <= 100))
    assert "overall" in meta["against_cifar10_test"]
    again = run(cfg, tmp_path, benchmark=nb201)
    assert again["scoring"]["computed"] == 0 and again["scoring"]["reused"] == 6
    _, score2, _ = read_npz(tmp_path / "scores.npz")
    assert np.array_equal(score, score2)
    # more cells: only the new ones are evaluated, the stored ones are read back
    from seminas.oneshot.score_all import load_supernet

    model = load_supernet(tmp_path / "supernet.pt")
    source = cfg.data_spec().open()
    extra = [i for i in range(20) if i not in set(index.tolist())][:3]
    scores, counts = score_cells(model, source, cfg, tmp_path, list(index) + extra,
                                 nb201.arch_strings)
    assert counts["reused"] == 6 and counts["computed"] + counts["shared"] == 3
    assert [scores[int(i)][0] for i in index] == score.tolist()


def test_function_key_merges_cells_that_compute_the_same_thing():
    from seminas.oneshot.score_all import function_key

    dead_in = ("none", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3")
    # node 1 receives nothing, so edge 1->2 never runs; node 2 -> 3 matters
    other = ("none", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none", "nor_conv_3x3")
    assert function_key(dead_in) == function_key(other)
    assert function_key(("skip_connect",) * 6) != function_key(("nor_conv_3x3",) * 6)
    keys = {function_key(a) for a in SPACE.all()}
    assert len(keys) == 9445
