"""The TTS search space: notation, tokens, sampling and neighbourhoods."""

import numpy as np
import pytest

from seminas.errors import InvalidArchitectureError
from seminas.spaces.tts import OPS, PAPER_ARCHS, TTSArch, TTSSpace

SPACE = TTSSpace()


def test_eleven_ops_and_token_layout():
    assert OPS == ("k1", "k5", "k9", "k13", "k17", "k21", "k25", "h2", "h4", "h8", "lstm")
    assert SPACE.seq_len == 12 and SPACE.vocab_size == 12
    mask = SPACE.token_mask()
    assert mask.shape == (12, 12) and not mask[:, 0].any() and mask[:, 1:].all()
    assert SPACE.size == 11**12


def test_round_trip_over_many_sampled_archs():
    rng = np.random.default_rng(0)
    archs = SPACE.sample(300, rng)
    assert len({SPACE.arch_id(a) for a in archs}) == 300
    for arch in archs:
        tokens = SPACE.encode(arch)
        assert all(1 <= t <= 11 for t in tokens)
        assert SPACE.decode(tokens) == arch
        assert SPACE.validate(SPACE.arch_id(arch)) == arch
        assert SPACE.from_native(SPACE.to_native(arch)) == arch
        assert SPACE.validate(list(arch.ops)) == arch
    # every op appears at every position in a sample this size
    counts = SPACE.encode_many(archs)
    assert all(len(set(counts[:, i])) == 11 for i in range(12))


def test_notation_and_paper_numbers():
    arch = SPACE.validate("enc:k5,h8,k1,k1,lstm,h2|dec:h2,k9,k9,lstm,k1,h4")
    assert arch.encoder == ("k5", "h8", "k1", "k1", "lstm", "h2")
    assert arch.decoder == ("h2", "k9", "k9", "lstm", "k1", "h4")
    assert str(arch) == "enc:k5,h8,k1,k1,lstm,h2|dec:h2,k9,k9,lstm,k1,h4"
    # the paper code's numbers are this space's tokens
    low = SPACE.paper_arch("low_resource")
    assert SPACE.encode(low) == [int(w) for w in PAPER_ARCHS["low_resource"].split()]
    assert low.ops[:2] == ("h8", "h8") and low.ops[10] == "lstm"
    assert SPACE.baseline_arch() == TTSArch(("h2",) * 12)


@pytest.mark.parametrize(
    "bad",
    [
        "enc:k5,h8|dec:h2,k9,k9,lstm,k1,h4",
        "enc:k5,h8,k1,k1,lstm,h2|dec:h2,k9,k9,lstm,k1,k3",
        "enc:k5,h8,k1,k1,lstm,h2",
        "1 2 3",
        "1 2 3 4 5 6 7 8 9 10 11 12",
        ["k1"] * 11,
        42,
    ],
)
def test_invalid_archs_raise_one_line(bad):
    with pytest.raises(InvalidArchitectureError) as info:
        SPACE.validate(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("tokens", [[0] * 12, [1] * 11, [12] + [1] * 11])
def test_invalid_tokens(tokens):
    with pytest.raises(InvalidArchitectureError) as info:
        SPACE.decode(tokens)
    assert "\n" not in str(info.value)
    assert SPACE.try_decode(tokens) is None


def test_neighbours_and_mutation():
    rng = np.random.default_rng(1)
    arch = SPACE.sample_one(rng)
    near = SPACE.neighbours(arch)
    assert len(near) == 12 * 10 == len({SPACE.arch_id(a) for a in near})
    assert arch not in near
    for other in near:
        assert sum(a != b for a, b in zip(arch.ops, other.ops, strict=True)) == 1
    for _ in range(20):
        assert SPACE.mutate(arch, rng) in near


def test_position_labels():
    labels = SPACE.position_labels()
    assert [n for n, _ in labels] == [f"enc{i}" for i in range(1, 7)] + [
        f"dec{i}" for i in range(1, 7)
    ]
    for position, (_, by_token) in enumerate(labels):
        assert sorted(by_token) == SPACE.allowed_tokens(position)
        assert [by_token[t] for t in sorted(by_token)] == list(OPS)


def test_sampling_is_seeded():
    a = SPACE.sample(5, np.random.default_rng(3))
    b = SPACE.sample(5, np.random.default_rng(3))
    assert a == b
