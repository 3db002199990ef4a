"""The TTS measures on hand-built attention matrices and mel sequences whose values are known:
the diagonal focus rate, focus rate and input coverage (one at a time and batched), mel
cepstral distortion with DTW, the alignment-failure rules and the word error rate."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from seminas.errors import SeminasError
from seminas.tts import metrics as m


def one_hot(positions, chars: int) -> np.ndarray:
    """(steps, chars) attention putting all of step i's weight on ``positions[i]``."""
    a = np.zeros((len(positions), chars))
    a[np.arange(len(positions)), positions] = 1.0
    return a


# --- DFR, focus rate, coverage ----------------------------------------------------------------


def test_band_follows_the_paper_code():
    # k = 10 / 20 = 0.5, w = min(20 / 5, 50) = 4: row 10 covers 0.5 * 6 <= y <= 0.5 * 14
    assert np.flatnonzero(m.band_mask(20, 10)[10]).tolist() == [3, 4, 5, 6, 7]
    assert np.flatnonzero(m.band_mask(20, 10)[0]).tolist() == [0, 1, 2]
    # w is capped at 50 steps: k = 0.2, row 250 covers 0.2 * 200 <= y <= 0.2 * 300
    row = np.flatnonzero(m.band_mask(500, 100)[250])
    assert (row[0], row[-1]) == (40, 60)


def test_perfect_diagonal():
    a = np.eye(10)
    assert m.diagonal_focus_rate(a) == 1.0
    assert m.focus_rate(a) == 1.0 and m.input_coverage(a) == 1.0
    # two steps per character, still on the diagonal of slope 1/2
    b = one_hot(np.arange(20) // 2, 10)
    assert m.diagonal_focus_rate(b) == 1.0 and m.input_coverage(b) == 1.0


def test_wide_diagonal_and_the_end_mark_column():
    # fewer steps than characters: step x attends to character 2x (k = 2, w = 1)
    a = one_hot(np.arange(5) * 2, 10)
    assert m.diagonal_focus_rate(a) == 1.0 and m.focus_rate(a) == 1.0
    assert m.input_coverage(a) == pytest.approx(0.5)  # the odd characters get nothing
    # alignment() measures the matrix without its last column (the end mark)
    b = np.hstack([np.eye(6), np.zeros((6, 1))])
    b[-1] = 0.0
    b[-1, -1] = 1.0  # the last step looks at the end mark only
    assert m.alignment(b) == {
        "dfr": m.diagonal_focus_rate(b[:, :-1]), "focus_rate": 1.0, "coverage": 5 / 6}
    assert m.alignment(b)["dfr"] == 1.0  # the 5 remaining steps are all on the diagonal
    assert m.alignment(b, end_mark=False)["coverage"] == pytest.approx(6 / 7)  # 0..4 and end


def test_one_far_off_column_gives_the_band_share():
    # 20 steps, 10 characters: k = 0.5, w = 4; column 0 is inside the band of rows x <= 4,
    # column 9 of rows x >= 14 (9 <= 0.5 (x + 4))
    assert m.diagonal_focus_rate(one_hot([0] * 20, 10)) == pytest.approx(5 / 20)
    assert m.diagonal_focus_rate(one_hot([9] * 20, 10)) == pytest.approx(6 / 20)
    # square 10 x 10: k = 1, w = 2; column 9 is in the band of rows 7, 8, 9
    assert m.diagonal_focus_rate(one_hot([9] * 10, 10)) == pytest.approx(3 / 10)
    # w capped at 50: 500 steps, 100 characters, k = 0.2; column 0 in rows x <= 50
    assert m.diagonal_focus_rate(one_hot([0] * 500, 100)) == pytest.approx(51 / 500)
    assert m.focus_rate(one_hot([0] * 20, 10)) == 1.0
    assert m.input_coverage(one_hot([0] * 20, 10)) == pytest.approx(1 / 10)


def test_all_mass_off_the_band():
    # k = 1, w = 2: step x attends to (x + 5) mod 10, always 5 positions away
    a = one_hot((np.arange(10) + 5) % 10, 10)
    assert m.diagonal_focus_rate(a) == 0.0
    assert m.focus_rate(a) == 1.0 and m.input_coverage(a) == 1.0


def test_half_on_half_off():
    a = 0.5 * np.eye(10) + 0.5 * one_hot((np.arange(10) + 5) % 10, 10)
    assert m.diagonal_focus_rate(a) == pytest.approx(0.5)
    assert m.focus_rate(a) == pytest.approx(0.5)
    assert m.input_coverage(a) == pytest.approx(0.5)
    assert m.attended_share(a) == 1.0 and m.attended_share(a, 0.6) == 0.0


def test_uniform_attention():
    steps, chars = 30, 12
    a = np.full((steps, chars), 1 / chars)
    assert m.focus_rate(a) == pytest.approx(1 / chars)
    assert m.input_coverage(a) == pytest.approx(1 / chars)
    assert m.diagonal_focus_rate(a) == pytest.approx(m.band_mask(steps, chars).mean())
    assert m.diagonal_focus_rate(np.zeros((3, 4))) == 0.0
    # 5 x 5: k = 1, w = 1, the band |y - x| <= 1 holds 5 + 4 + 4 of the 25 cells
    assert m.diagonal_focus_rate(np.full((5, 5), 0.2)) == pytest.approx(13 / 25)
    # uniform over the characters with the end mark: alignment() sees 1 / (chars + 1) weights
    u = m.alignment(np.full((7, 5), 1 / 5))
    assert u["focus_rate"] == pytest.approx(1 / 4) and u["coverage"] == pytest.approx(1 / 5)


def test_partial_coverage_and_the_end_mark():
    # 8 characters + the end mark; steps attend to characters 0..3 only, then to the end mark
    a = one_hot([0, 1, 2, 3, 8, 8], 9)
    scores = m.alignment(a)
    assert scores["coverage"] == pytest.approx(4 / 8)  # the end mark's column is left out
    assert scores["focus_rate"] == pytest.approx(4 / 4)  # mass on the end mark is not counted
    assert m.alignment(a, end_mark=False)["coverage"] == pytest.approx(5 / 9)
    mean = m.mean_alignment([np.eye(4), a])
    assert mean["coverage"] == pytest.approx((1.0 + 0.5) / 2)


def test_batched_equals_one_at_a_time():
    rng = np.random.default_rng(0)
    lengths = [(17, 9), (25, 14), (8, 3), (25, 2)]  # (steps, input positions with the end mark)
    t_out, t_in = 25, 14
    batch = rng.random((len(lengths), t_out, t_in))  # junk on the padding too
    singles = []
    for b, (steps, chars) in enumerate(lengths):
        logits = rng.normal(size=(steps, chars)) * 3
        attn = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        batch[b, :steps, :chars] = attn
        singles.append(m.alignment(attn))
    out = m.batch_alignment(batch, [s for s, _ in lengths], [c for _, c in lengths])
    for key in m.MEASURES:
        np.testing.assert_allclose(out[key], [s[key] for s in singles], rtol=1e-12)
    plain = m.batch_alignment(batch, [s for s, _ in lengths], [c for _, c in lengths], False)
    one = m.alignment(batch[1, :25, :14], end_mark=False)
    assert plain["dfr"][1] == pytest.approx(one["dfr"])


# --- mel cepstral distortion ------------------------------------------------------------------


def _smooth_log_mel(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(scale=0.3, size=(frames, 80)), axis=0) - 5.0


def test_mcd_zero_for_identical_and_growing_with_noise():
    mel = _smooth_log_mel(60)
    assert m.mel_cepstral_distortion(mel, mel) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=mel.shape)
    values = [m.mel_cepstral_distortion(mel + s * noise, mel) for s in (0.05, 0.2, 1.0)]
    assert 0 < values[0] < values[1] < values[2]
    assert np.isnan(m.mel_cepstral_distortion(mel[:0], mel))


def test_mcd_dtw_aligns_a_time_stretched_copy():
    mel = _smooth_log_mel(50)
    stretched = np.repeat(mel, 2, axis=0)  # half the speed
    assert m.mel_cepstral_distortion(stretched, mel) == pytest.approx(0.0, abs=1e-9)
    reversed_ = m.mel_cepstral_distortion(mel[::-1], mel)
    assert reversed_ > 1.0


def test_mcd_by_hand():
    # one frame each, differing by d in c1 only: 10 / ln 10 * sqrt(2 * (d / 2) ** 2)
    from scipy.fft import idct

    c = np.zeros((1, 80))
    c[0, 1] = 0.8
    a, b = np.zeros((1, 80)), idct(c, norm="ortho", axis=1)
    expected = 10 / np.log(10) * np.sqrt(2 * 0.4**2)
    assert m.mel_cepstral_distortion(b, a) == pytest.approx(expected)


# --- alignment failure ------------------------------------------------------------------------


def _steady(steps: int, chars: int) -> np.ndarray:
    """A monotonic alignment over ``chars`` characters and the end mark (last column)."""
    return one_hot(np.minimum(np.arange(steps) * chars // steps, chars), chars + 1)


def test_a_good_synthesis_does_not_fail():
    assert m.alignment_failure(_steady(40, 20), True, 40, 38) == []


def test_no_stop_within_twice_the_expected_length():
    attn = _steady(40, 20)
    assert m.alignment_failure(attn, False, 40, 38) == ["no stop within twice the expected length"]
    assert m.alignment_failure(attn, True, 40, 19.5) == ["no stop within twice the expected length"]
    assert m.alignment_failure(attn, True, 40, 20) == []


def test_backward_and_forward_jumps():
    positions = list(np.arange(40) * 20 // 40)
    back = positions[:30] + [positions[29] - m.MAX_BACKWARD - 1] + positions[30:]
    reasons = m.alignment_failure(one_hot(back, 21), True, 41, 40)
    assert reasons == [f"attention moved back more than {m.MAX_BACKWARD} positions"]
    small_step_back = positions[:30] + [positions[29] - m.MAX_BACKWARD] + positions[30:]
    assert m.alignment_failure(one_hot(small_step_back, 21), True, 41, 40) == []
    ahead = [0] * 5 + [m.MAX_FORWARD + 1 + i // 3 for i in range(35)]  # skips 1..MAX_FORWARD
    reasons = m.alignment_failure(one_hot(ahead, 21), True, 40, 40)
    assert f"attention jumped ahead more than {m.MAX_FORWARD} positions" in reasons


def test_low_coverage():
    stuck = one_hot(np.arange(40) * 10 // 40, 21)  # only characters 0..9 of 20
    assert m.alignment_failure(stuck, True, 40, 40) == [
        f"fewer than {m.MIN_ATTENDED_SHARE:.0%} of the characters attended"
    ]
    # a blurred but complete alignment still covers every character
    blurred = 0.5 * _steady(40, 20) + 0.5 * np.roll(_steady(40, 20), 1, axis=1)
    assert m.alignment_failure(blurred, True, 40, 40) == []


# --- word error rate --------------------------------------------------------------------------


def test_word_error_rate():
    ref = "The birch canoe slid on the smooth planks."
    assert m.word_error_rate(ref, "the birch canoe slid on the smooth planks") == 0.0
    assert m.word_error_rate(ref, "the canoe slid on the smooth planks") == pytest.approx(1 / 8)
    assert m.word_error_rate(ref, "the birch canoe slid slid on the smooth planks") == 1 / 8
    assert m.word_error_rate(ref, "a birch canoe slid in the smooth planks") == 2 / 8
    assert m.word_error_rate(ref, "") == 1.0
    assert m.word_error_rate("it's here", "its here") == 0.5  # the apostrophe is kept
    assert m.word_error_rate("", "") == 0.0 and m.word_error_rate("", "extra words") == 2.0
    assert m.words("Dots of light, betrayed!") == ["dots", "of", "light", "betrayed"]


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is not None,
                    reason="pocketsphinx is installed here")  # fmt: skip
def test_transcriber_without_pocketsphinx_says_how_to_install():
    with pytest.raises(SeminasError) as info:
        m.PocketsphinxTranscriber()
    assert "pip install pocketsphinx" in str(info.value) and "\n" not in str(info.value)
