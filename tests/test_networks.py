"""The trainable networks: parameter counts against the benchmarks' published facts, shapes."""

import json

import pytest
import torch
from conftest import need

from seminas.errors import SeminasError
from seminas.networks import build_network, network_settings
from seminas.networks.nb101 import NB101Network, count_params, vertex_channels
from seminas.networks.nb201 import NB201Network
from seminas.spaces.nb101 import spec_from_labels
from seminas.spaces.nb201 import OPS, NB201Space, to_string
from seminas.training.recipe import count_params as module_params


@pytest.fixture(scope="module")
def specs_1k():
    path = need("nasbench101/specs-1k.json")
    return json.loads(path.read_text())


def test_nb101_parameter_count_equals_the_benchmark_for_all_1000_specs(specs_1k):
    assert len(specs_1k) == 1000
    wrong = []
    for item in specs_1k:
        spec = spec_from_labels(item["matrix"], item["labels"])
        if count_params(spec) != item["params"]:
            wrong.append((item["hash"], count_params(spec), item["params"]))
    assert not wrong, f"{len(wrong)} specs differ, e.g. {wrong[:3]}"


def test_nb101_modules_have_the_counted_parameters(specs_1k):
    """The real modules (built on the meta device: no memory, no time) agree with the count,
    for a spread of 25 specs of all sizes."""
    with torch.device("meta"):
        for item in specs_1k[::40]:
            spec = spec_from_labels(item["matrix"], item["labels"])
            assert module_params(NB101Network(spec)) == item["params"], item["hash"]


def test_nb101_vertex_channels_follow_the_paper():
    # input -> 1 -> 2 -> output, 1 -> output, 3 -> output: vertices 1, 2(no), 3 feed output
    matrix = [
        [0, 1, 0, 1, 0],
        [0, 0, 1, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    # three vertices feed the output: 128 = 43 + 43 + 42, the first ones get the remainder
    assert vertex_channels(matrix, 64, 128) == [64, 43, 43, 42, 128]
    # a vertex that only feeds another takes its successor's channels
    chain = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert vertex_channels(chain, 128, 256) == [128, 256, 256, 256]


def test_nb101_forward_shapes_at_cpu_scale(specs_1k):
    for item in specs_1k[:40:8]:
        spec = spec_from_labels(item["matrix"], item["labels"])
        net = build_network("nb101", spec, channels=8, cells=1)
        assert module_params(net) == count_params(
            spec, stem_channels=8, num_stacks=3, cells_per_stack=1
        )
        out = net(torch.randn(2, 3, 32, 32))
        assert out.shape == (2, 10)
        assert torch.isfinite(out).all()


def test_nb101_standard_network_runs():
    spec = spec_from_labels(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [-1, 0, 2, -2]
    )
    net = build_network("nb101", spec, size="standard")
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def _meta_params(arch: str, **kw) -> int:
    with torch.device("meta"):
        return module_params(NB201Network(arch, **kw))


def test_nb201_parameter_range_is_the_benchmarks():
    # NAS-Bench-201 reports 0.073306 MB to 1.531546 MB of parameters on CIFAR-10
    assert _meta_params(to_string(["nor_conv_3x3"] * 6)) == 1_531_546
    assert _meta_params(to_string(["none"] * 6)) == 73_306
    # every parameter-free op costs the same as none
    assert _meta_params(to_string(["skip_connect", "avg_pool_3x3"] * 3)) == 73_306


def test_nb201_none_heavy_cells_have_fewer_parameters():
    full = _meta_params(to_string(["nor_conv_3x3"] * 6))
    some = _meta_params(to_string(["nor_conv_3x3", "none"] * 3))
    few = _meta_params(to_string(["nor_conv_1x1"] + ["none"] * 5))
    assert full > some > few > 73_306


def test_nb201_forward_shapes_and_none_cells():
    space = NB201Space()
    for arch in [to_string(["none"] * 6), to_string(list(OPS) + ["nor_conv_3x3"])]:
        net = build_network("nb201", space.validate(arch), channels=4, cells=1, num_classes=7)
        out = net(torch.randn(3, 3, 32, 32))
        assert out.shape == (3, 7)
    # a cell whose output node receives nothing outputs zeros; the network still trains
    dead = to_string(["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none"])
    net = build_network("nb201", dead, channels=4, cells=1)
    loss = net(torch.randn(2, 3, 32, 32)).sum()
    loss.backward()


def test_network_settings():
    assert network_settings("nb201", "standard") == {"channels": 16, "cells_per_stage": 5}
    assert network_settings("nb101", "standard") == {
        "stem_channels": 128, "num_stacks": 3, "cells_per_stack": 3,
    }
    assert network_settings("nb201", "cpu", channels=12)["channels"] == 12
    with pytest.raises(SeminasError, match="unknown network size"):
        network_settings("nb201", "huge")
    with pytest.raises(SeminasError, match="no trainable network"):
        network_settings("mobilenet")
    with pytest.raises(SeminasError, match="at least 1"):
        network_settings("nb201", cells=0)
