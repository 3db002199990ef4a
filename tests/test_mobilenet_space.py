"""The MobileNet-v2 search space: layout, constraints, encoding, FLOPs and the FLOPs limit."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from seminas.benchmarks.base import Evaluator, Record
from seminas.cli import main
from seminas.errors import InvalidArchitectureError, SeminasError
from seminas.spaces.mobilenet import (
    FINAL_SHAPE,
    FIRST_LAYERS,
    NUM_LAYERS,
    OPS,
    SEARCH_SHAPE,
    MobileNetArch,
    MobileNetSpace,
    NetworkShape,
    flops,
    mbconv_macs,
    min_max_flops,
    mobilenet_v2_like,
    op_kernel_expansion,
    parse_flops,
)
from seminas.strategies import make_strategy, run_search
from seminas.supernet.model import ConvBN, MBConv, build_network

SPACE = MobileNetSpace()


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine two threads run many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


MIN_ARCH = MobileNetArch(tuple("k3e3" if i in FIRST_LAYERS else "skip" for i in range(21)))
MAX_ARCH = MobileNetArch(("k7e6",) * 21)


def reference_macs(model: nn.Module, resolution: int) -> int:
    """MACs by torch's own counter (it counts 2 FLOPs per multiply-add)."""
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, resolution, resolution))
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2


def test_layout_and_token_mask():
    assert SPACE.seq_len == NUM_LAYERS == 21
    assert SPACE.vocab_size == len(OPS) + 1 == 8
    assert sorted(FIRST_LAYERS) == [0, 4, 8, 12, 16, 20]
    mask = SPACE.token_mask()
    assert not mask[:, 0].any()  # the start token is never an operation
    skip = OPS.index("skip") + 1
    for layer in range(21):
        assert mask[layer, skip] == (layer not in FIRST_LAYERS)
        assert mask[layer, 2:].all()
    assert SPACE.size == 6**6 * 7**15


def test_first_layer_of_a_stage_cannot_be_skip():
    ops = list(MAX_ARCH.ops)
    ops[8] = "skip"
    with pytest.raises(InvalidArchitectureError, match="first layer of stage 3"):
        SPACE.validate(ops)
    tokens = SPACE.encode(MAX_ARCH)
    tokens[0] = OPS.index("skip") + 1
    assert SPACE.try_decode(tokens) is None
    ops = list(MAX_ARCH.ops)
    ops[9] = "skip"  # a later layer may be skipped
    assert SPACE.validate(ops).ops[9] == "skip"


def test_encode_decode_and_notation_round_trip():
    rng = np.random.default_rng(0)
    archs = SPACE.sample(300, rng)
    assert len({SPACE.arch_id(a) for a in archs}) == 300
    for arch in archs:
        assert all(arch.ops[i] != "skip" for i in FIRST_LAYERS)
        tokens = SPACE.encode(arch)
        assert len(tokens) == 21 and all(1 <= t <= 7 for t in tokens)
        assert SPACE.decode(tokens) == arch
        text = SPACE.to_native(arch)
        assert text.count("|") == 5
        assert SPACE.from_native(text) == arch
        assert SPACE.validate(list(arch.ops)) == arch
        assert SPACE.validate(" ".join(arch.ops)) == arch


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("k3e6,skip|k3e6", "expected 6 stages"),
        ("k3e6,skip,skip|k3e6,k3e6,k3e6,k3e6|k3e6,k3e6,k3e6,k3e6|k3e6,k3e6,k3e6,k3e6|"
         "k3e6,k3e6,k3e6,k3e6|k3e6", "stage 1 needs 4"),
        ("k3e6," * 20 + "k9e6", "unknown operation 'k9e6'"),
        ("k3e6," * 19 + "k3e6", "has 21 layers"),
    ],
)
def test_bad_architectures_say_why(text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        SPACE.validate(text)
    with pytest.raises(InvalidArchitectureError, match="length 21"):
        SPACE.decode([1, 2, 3])
    with pytest.raises(InvalidArchitectureError, match="not an operation"):
        SPACE.decode([0] * 21)


def test_neighbours_are_one_valid_edit_away():
    arch = SPACE.sample_one(np.random.default_rng(1))
    nbs = SPACE.neighbours(arch)
    assert len(nbs) == 6 * 5 + 15 * 6
    assert len({SPACE.arch_id(n) for n in nbs}) == len(nbs)
    for n in nbs:
        assert sum(a != b for a, b in zip(n.ops, arch.ops, strict=True)) == 1
        SPACE.validate(n)


def test_analytic_flops_equal_torch_flop_counter():
    """Exact equality with torch.utils.flop_counter (convolutions and the classifier; it counts
    2 FLOPs per multiply-add), at full size 224x224 and on the CIFAR network."""
    rng = np.random.default_rng(2)
    cases = [(MIN_ARCH, FINAL_SHAPE), (SPACE.sample_one(rng), SEARCH_SHAPE)]
    cifar = NetworkShape(num_classes=10, resolution=32, cifar=True).scaled(0.35)
    cases += [(MAX_ARCH, cifar), (SPACE.sample_one(rng), cifar)]
    for arch, shape in cases:
        net = build_network(arch, shape)
        assert reference_macs(net, shape.resolution) == flops(arch, shape)


def test_mobilenet_v2_sanity_check():
    """Known facts of MobileNet-v2 1.0 at 224x224 -- 300.8M multiply-adds, 3,504,872
    parameters -- reproduced with this module's building blocks and FLOPs formula."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    layers: list[nn.Module] = [ConvBN(3, 32, 3, 2)]
    c_in, size, macs = 32, 112, 3 * 32 * 9 * 112 * 112
    for t, c, n, s in settings:
        for j in range(n):
            stride = s if j == 0 else 1
            layers.append(MBConv(c_in, c, 3, t, stride))
            macs += mbconv_macs(c_in, c, 3, t, size, stride)
            size = (size - 1) // stride + 1
            c_in = c
    layers += [ConvBN(c_in, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    macs += c_in * 1280 * size * size + 1280 * 1000
    net = nn.Sequential(*layers)
    assert macs == 300_774_272
    assert reference_macs(net, 224) == macs
    assert sum(p.numel() for p in net.parameters()) == 3_504_872


def test_min_and_max_flops():
    lo, hi = min_max_flops(FINAL_SHAPE)
    assert flops(MIN_ARCH) == lo and flops(MAX_ARCH) == hi
    assert (round(lo / 1e6, 1), round(hi / 1e6, 1)) == (148.2, 981.2)
    rng = np.random.default_rng(3)
    assert all(lo <= flops(a) <= hi for a in SPACE.sample(200, rng))
    for op in OPS[1:]:
        assert op_kernel_expansion(op)[0] in (3, 5, 7)


def test_parse_flops():
    assert parse_flops("600M") == parse_flops("0.6G") == parse_flops("6e8") == 600_000_000
    assert parse_flops(" 600 m ") == 600_000_000 and parse_flops(1500) == 1500
    for bad in ("6OOM", "", "-5M", "600MB", "nan"):
        with pytest.raises(SeminasError, match="invalid FLOPs value"):
            parse_flops(bad)


def test_constrained_space_rejects_over_limit_architectures():
    space = MobileNetSpace("600M")
    assert space.max_flops == 600_000_000 and space.size is None
    rng = np.random.default_rng(4)
    archs = space.sample(300, rng)
    assert max(space.flops(a) for a in archs) <= 600_000_000
    with pytest.raises(InvalidArchitectureError, match="over the limit of 600.0M"):
        space.validate(MAX_ARCH)
    assert space.try_decode(space.encode(MAX_ARCH)) is None
    assert all(space.flops(n) <= 600_000_000 for n in space.neighbours(archs[0]))
    # a limit just above the smallest architecture still samples (by shrinking)
    tight = MobileNetSpace(flops(MIN_ARCH) + 2_000_000)
    for arch in tight.sample(5, rng):
        assert tight.flops(arch) <= tight.max_flops
    with pytest.raises(SeminasError, match="below the smallest architecture"):
        MobileNetSpace("100M")


def test_mobilenet_v2_like_baseline():
    for target in (350_000_000, 550_000_000, 700_000_000):
        arch = mobilenet_v2_like(target)
        SPACE.validate(arch)
        assert set(arch.ops) <= {"k3e6", "skip"}
        assert 0.9 * target <= flops(arch) <= target
    assert mobilenet_v2_like(10**12).ops == ("k3e6",) * 21


class BiggerIsBetter(Evaluator):
    """A synthetic evaluator that rewards FLOPs, pushing the search against the limit."""

    def __init__(self, space):
        super().__init__()
        self.space = space

    def _evaluate(self, arch):
        return Record(self.space.arch_id(arch), flops(arch, FINAL_SHAPE) / 1e7, None)


def test_search_never_evaluates_or_charges_over_limit_architectures():
    space = MobileNetSpace("450M")
    evaluator = BiggerIsBetter(space)
    strategy = make_strategy(
        "seminas", "paper-imagenet", initial=20, per_iteration=10, unlabeled=200,
        pretrain_epochs=30, epochs=10, top_k=20, max_step=30,
    )
    result = run_search(strategy, evaluator, 40, seed=0)
    assert len(result.trials) == 40 == evaluator.num_queries
    assert max(flops(space.validate(t.arch)) for t in result.trials) <= 450_000_000
    assert flops(space.validate(result.best.arch)) <= 450_000_000


def test_over_limit_decodes_are_dropped_before_evaluation():
    """SemiNAS's generation step decodes candidates with ``space.try_decode``: an over-limit
    decode is counted as invalid and never becomes a candidate (so is never charged)."""
    space = MobileNetSpace("450M")
    ok = space.sample(3, np.random.default_rng(5))
    over = SPACE.encode(MAX_ARCH)
    rows = [over, space.encode(ok[0]), over, space.encode(ok[1])]

    class FakeTrainer:
        def ascend(self, seeds, steps):
            return [(torch.tensor(rows), np.zeros(len(rows))) for _ in steps]

    class Ctx:
        evaluated_ids = {space.arch_id(ok[1])}

    Ctx.space = space
    strategy = make_strategy("seminas", "paper-imagenet", max_step=1)
    out, _, stats = strategy._generate(Ctx(), FakeTrainer(), torch.zeros(1, 21), quota=5)
    assert out == [ok[0]]
    assert stats["invalid"] == 2 and stats["decoded"] == 4


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_flops(capsys):
    code, out, _ = run(capsys, "mobilenet", "flops", ",".join(MAX_ARCH.ops))
    assert code == 0 and "981232960 multiply-adds (981.2M) at 224x224" in out
    code, out, _ = run(capsys, "mobilenet", "flops", ",".join(MAX_ARCH.ops), "--widths", "search")
    assert code == 0 and "(606.6M)" in out


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--max-flops", "6OOM"], "invalid FLOPs value '6OOM'"),
        (["--max-flops", "100M"], "below the smallest architecture of the space (148.2M"),
        (["--data", "/no/such/folder"], "data path '/no/such/folder' does not exist"),
        (["--preset", "huge"], "unknown pipeline preset 'huge'"),
        (["--set", "initial=5", "--set", "bogus=1"], "unknown option(s) bogus"),
    ],
)
def test_pipeline_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, fragment):
    code, _, err = run(capsys, "mobilenet", "pipeline", "--out", str(tmp_path / "o"), *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert not (tmp_path / "o").exists()
