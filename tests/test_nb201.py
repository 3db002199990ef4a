import numpy as np
import pytest

from seminas.benchmarks.nb201 import NB201Benchmark
from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.nb201 import NB201Space, parse_string, to_string

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def test_known_facts_cifar10(nb201):
    best = nb201.best_by_search()
    assert best.extra["index"] == 6111
    assert best.arch_id == BEST
    assert best.search_metric == pytest.approx(91.6067, abs=1e-4)
    assert best.report_metric == pytest.approx(94.3733, abs=1e-4)
    assert nb201.best_by_report().report_metric == pytest.approx(94.3733, abs=1e-4)
    assert float(np.mean(nb201.report)) == pytest.approx(87.06, abs=0.01)
    assert len(nb201) == 15625


@pytest.mark.parametrize("dataset,best", [("cifar100", 73.5133), ("ImageNet16-120", 47.3111)])
def test_known_facts_other_datasets(nb201, dataset, best):
    bench = NB201Benchmark(dataset)
    assert bench.best_by_report().report_metric == pytest.approx(best, abs=1e-4)
    assert "12-epoch validation" in bench.search_metric_name


def test_every_string_parses_and_prints_exactly(nb201):
    space = NB201Space()
    ids = set()
    for i, text in enumerate(nb201.arch_strings):
        arch = space.validate(text)
        assert to_string(arch.ops) == text
        assert space.decode(space.encode(arch)) == arch
        assert nb201.index_of(arch) == i
        assert nb201.arch_at(i) == arch
        ids.add(space.arch_id(arch))
    assert len(ids) == 15625 == space.size
    assert {space.arch_id(a) for a in space.all()} == ids


def test_query_counts_total_and_unique(nb201):
    bench = NB201Benchmark("cifar10")
    bench.query(BEST)
    bench.query(BEST)
    bench.query(bench.arch_at(0))
    assert bench.num_queries == 3 and bench.num_unique_queries == 2
    rec = bench.lookup(BEST)
    assert bench.num_queries == 3  # lookups are free and for analysis only
    assert rec.cost_seconds > 0


def test_low_fidelity(nb201):
    bench = NB201Benchmark("cifar10", fidelity=12)
    rec = bench.query(bench.arch_at(0))
    assert rec.search_metric == pytest.approx(63.364)
    assert rec.report_metric == pytest.approx(69.55)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("bad", "expected 3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must list 2"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
    ],
)
def test_bad_strings_say_why(text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        parse_string(text)


def test_bad_dataset_and_fidelity(nb201):
    with pytest.raises(SeminasError, match="unknown NAS-Bench-201 dataset 'svhn'"):
        NB201Benchmark("svhn")
    with pytest.raises(SeminasError, match="fidelity 50"):
        NB201Benchmark("cifar10", fidelity=50)
    with pytest.raises(SeminasError, match="index 20000 is out of range"):
        nb201.arch_at(20000)


def test_decode_rejects_bad_tokens():
    space = NB201Space()
    with pytest.raises(InvalidArchitectureError, match="length 6"):
        space.decode([1, 2, 3])
    with pytest.raises(InvalidArchitectureError, match="token 0 at position 2"):
        space.decode([1, 2, 0, 1, 1, 1])
    assert space.token_mask().shape == (6, 6)
    assert not space.token_mask()[:, 0].any()


def test_sampling_unique_and_deterministic():
    space = NB201Space()
    a = space.sample(5000, np.random.default_rng(3))
    b = space.sample(5000, np.random.default_rng(3))
    assert a == b
    assert len({space.arch_id(x) for x in a}) == 5000
    excl = {space.arch_id(x) for x in a}
    c = space.sample(100, np.random.default_rng(4), exclude=excl)
    assert not excl & {space.arch_id(x) for x in c}
    with pytest.raises(SeminasError, match="ask for fewer"):
        space.sample(15625, np.random.default_rng(0), exclude=excl)


def test_neighbours_and_mutation():
    space = NB201Space()
    arch = space.validate(BEST)
    nbrs = space.neighbours(arch)
    assert len(nbrs) == 24 and arch not in nbrs
    child = space.mutate(arch, np.random.default_rng(0))
    assert child in nbrs
