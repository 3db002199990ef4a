"""The TTS network: causal decoder operations, padding-blind encoder, supernet paths and
inheritance, training (learning, weight sharing, exact resumption) and inference."""

import io

import numpy as np
import pytest
import torch

from seminas.errors import SeminasError
from seminas.spaces.tts import OPS, TTSSpace
from seminas.tts.batch import TTSBatch
from seminas.tts.inference import (
    free_running,
    free_running_batch,
    select_attention,
    teacher_forced_attention,
)
from seminas.tts.model import FINAL_HIDDEN, TransformerTTS, inherit
from seminas.tts.ops import make_op
from seminas.tts.train import TrainConfig, TTSTrainer

torch.set_num_threads(1)
SPACE = TTSSpace()
VOCAB, MELS, HIDDEN, R = 20, 8, 16, 2
SMALL = dict(attn_heads=2, prenet_hidden=8, encoder_prenet=1, postnet=2)


def tiny(supernet=True, arch=None, seed=0, **kw):
    torch.manual_seed(seed)
    return TransformerTTS(VOCAB, MELS, HIDDEN, R, supernet=supernet, arch=arch, **{**SMALL, **kw})


def make_batch(seed=0, lengths=((9, 14), (6, 9), (4, 5)), mels=MELS):
    g = torch.Generator().manual_seed(seed)
    n = max(t for t, _ in lengths)
    frames = max(f for _, f in lengths)
    text = torch.zeros(len(lengths), n, dtype=torch.int64)
    mel = torch.zeros(len(lengths), frames, mels)
    for b, (t, f) in enumerate(lengths):
        text[b, :t] = torch.randint(2, VOCAB, (t,), generator=g)
        text[b, t - 1] = 1
        mel[b, :f] = torch.randn(f, mels, generator=g)
    return TTSBatch(
        text=text,
        text_lengths=torch.tensor([t for t, _ in lengths]),
        mel=mel,
        mel_lengths=torch.tensor([f for _, f in lengths]),
        ids=[f"U{b}" for b in range(len(lengths))],
    )


@pytest.mark.parametrize("op", OPS)
def test_decoder_op_is_causal(op):
    torch.manual_seed(0)
    block = make_op(op, HIDDEN, causal=True, dropout=0.1).eval()
    x = torch.randn(2, 12, HIDDEN)
    y = block(x, None)
    for t in (0, 5, 10):
        x2 = x.clone()
        x2[:, t + 1 :] += torch.randn_like(x2[:, t + 1 :])
        y2 = block(x2, None)
        assert torch.allclose(y2[:, : t + 1], y[:, : t + 1], atol=1e-6)
        assert not torch.allclose(y2[:, t + 1 :], y[:, t + 1 :], atol=1e-3)  # it does look


@pytest.mark.parametrize("op", OPS)
def test_encoder_op_ignores_padding(op):
    torch.manual_seed(0)
    block = make_op(op, HIDDEN, causal=False, dropout=0.1).eval()
    x = torch.randn(2, 10, HIDDEN)
    pad = torch.arange(10)[None, :] >= torch.tensor([10, 6])[:, None]
    y = block(x, pad)
    assert y.shape == x.shape and torch.all(y[1, 6:] == 0)
    x2 = x.clone()
    x2[1, 6:] = 100 * torch.randn(4, HIDDEN)
    assert torch.allclose(block(x2, pad)[1, :6], y[1, :6], atol=1e-6)
    alone = block(x[1:, :6], torch.zeros(1, 6, dtype=torch.bool))
    assert torch.allclose(alone[0], y[1, :6], atol=1e-5)
    # and it sees its whole context (centred, bidirectional)
    if op != "k1":
        x3 = x.clone()
        x3[0, 9] += torch.randn(HIDDEN)  # (a constant shift would vanish in LayerNorm)
        assert not torch.allclose(block(x3, pad)[0, 8], y[0, 8], atol=1e-4)


def test_whole_decoder_is_causal_for_sampled_archs():
    model = tiny().eval()
    batch = make_batch()
    memory, pad = model.encode(batch.text, batch.text_lengths, SPACE.baseline_arch())
    masks = model.prenet_masks(3, 7, torch.Generator().manual_seed(0))
    inputs = torch.randn(3, 7, MELS)
    for arch in SPACE.sample(4, np.random.default_rng(0)):
        memory, pad = model.encode(batch.text, batch.text_lengths, arch)
        frames, stop, att = model.decode(inputs, memory, pad, arch, prenet_masks=masks)
        for t in (0, 3):
            changed = inputs.clone()
            changed[:, t + 1 :] = torch.randn(3, 6 - t, MELS)
            f2, s2, a2 = model.decode(changed, memory, pad, arch, prenet_masks=masks)
            assert torch.allclose(f2[:, : (t + 1) * R], frames[:, : (t + 1) * R], atol=1e-6)
            assert torch.allclose(s2[:, : t + 1], stop[:, : t + 1], atol=1e-6)
            for w, w2 in zip(att, a2, strict=True):
                assert torch.allclose(w2[:, :, : t + 1], w[:, :, : t + 1], atol=1e-6)
            assert not torch.allclose(f2[:, (t + 1) * R :], frames[:, (t + 1) * R :])


def test_encoder_output_does_not_depend_on_padding():
    model = tiny().eval()
    batch = make_batch()
    for arch in SPACE.sample(3, np.random.default_rng(1)):
        memory, pad = model.encode(batch.text, batch.text_lengths, arch)
        alone, _ = model.encode(batch.text[2:, :4], batch.text_lengths[2:], arch)
        assert torch.allclose(alone[0], memory[2, :4], atol=1e-5)
        assert torch.all(memory[2, 4:] == 0) and pad[2, 4:].all() and not pad[2, :4].any()


def test_inherit_equals_the_supernet_path():
    supernet = tiny().eval()
    batch = make_batch()
    for arch in SPACE.sample(4, np.random.default_rng(2)) + [SPACE.baseline_arch()]:
        child = inherit(supernet, arch)
        assert not child.training and child.arch == arch
        assert sum(p.numel() for p in child.parameters()) < sum(
            p.numel() for p in supernet.parameters()
        )
        args = (batch.text, batch.text_lengths, batch.mel, batch.mel_lengths)
        a = supernet(*args, arch, generator=torch.Generator().manual_seed(5))
        b = child(*args, generator=torch.Generator().manual_seed(5))
        assert a.mel_after.shape == (3, 14, MELS) and a.stop_logits.shape == (3, 7)
        assert torch.allclose(a.mel_before, b.mel_before, atol=1e-6)
        assert torch.allclose(a.mel_after, b.mel_after, atol=1e-6)
        assert torch.allclose(a.stop_logits, b.stop_logits, atol=1e-6)
        for x, y in zip(a.attentions, b.attentions, strict=True):
            assert x.shape == (3, 2, 7, 9) and torch.allclose(x, y, atol=1e-6)
    with pytest.raises(SeminasError):
        child(*args, SPACE.sample_one(np.random.default_rng(9)))
    with pytest.raises(SeminasError):
        TransformerTTS(VOCAB, MELS, HIDDEN, R, supernet=True, arch=SPACE.baseline_arch())


def test_supernet_step_trains_only_the_sampled_path():
    supernet = tiny()
    trainer = TTSTrainer(supernet, TrainConfig(warmup=5, seed=3))
    batch = make_batch()
    for _ in range(2):
        before = {k: v.clone() for k, v in supernet.state_dict().items()}
        arch = trainer.train_step(batch).arch
        after = supernet.state_dict()
        for i, op_name in enumerate(arch.ops):
            group = "encoder_layers" if i < 6 else "decoder_layers"
            prefix = f"{group}.{i % 6}.ops."
            for op in OPS:
                keys = [k for k in after if k.startswith(prefix + op + ".")]
                moved = any(not torch.equal(before[k], after[k]) for k in keys)
                assert moved == (op == op_name), (i, op, op_name)
        for shared in ("embedding.weight", "decoder_layers.0.cross.attention.in_proj_weight"):
            assert not torch.equal(before[shared], after[shared])


def _eval_loss(model, batch):
    from seminas.tts.train import tts_loss

    model.eval()
    with torch.no_grad():
        out = model(
            batch.text, batch.text_lengths, batch.mel, batch.mel_lengths,
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip
        return float(tts_loss(out, batch, model.reduction)[0])


def test_training_lowers_the_loss_of_a_standalone_model():
    arch = SPACE.validate("enc:k5,h2,lstm,k9,h4,k1|dec:h2,k5,lstm,h8,k1,k9")
    model = tiny(supernet=False, arch=arch)
    batch = make_batch(1)
    start = _eval_loss(model, batch)
    losses = TTSTrainer(model, TrainConfig(lr=0.5, warmup=10)).train([batch], 40)
    assert all(loss.arch == arch for loss in losses)
    end = _eval_loss(model, batch)
    assert end < 0.7 * start, (start, end)
    assert np.mean([x.loss for x in losses[-5:]]) < np.mean([x.loss for x in losses[:5]])


def test_trainer_resumes_bit_for_bit():
    batches = [make_batch(0), make_batch(1)]
    config = TrainConfig(warmup=4, seed=7)
    straight = TTSTrainer(tiny(), config)
    ten = straight.train(batches, 10)

    first = TTSTrainer(tiny(), config)
    five = first.train(batches, 5)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = TTSTrainer(tiny(seed=99), config)  # other initial weights: all are overwritten
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    # a batch order continuing where the first run stopped (step 5 read batch 0)
    rest = resumed.train(batches[1:] + batches[:1], 5)
    assert [x.arch for x in ten] == [x.arch for x in five + rest]
    assert [x.loss for x in ten] == [x.loss for x in five + rest]
    for (k, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


def test_teacher_forced_attention_is_trimmed_and_normalised():
    model = tiny()
    batch = make_batch()
    arch = SPACE.sample_one(np.random.default_rng(4))
    atts = teacher_forced_attention(model, arch, batch, seed=1)
    assert model.training  # mode restored
    assert [a.shape for a in atts] == [(7, 9), (5, 6), (3, 4)]
    for a in atts:
        assert np.allclose(a.sum(-1), 1.0, atol=1e-5)
    again = teacher_forced_attention(model, arch, batch, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(atts, again, strict=True))
    layer0 = teacher_forced_attention(model, arch, batch, seed=1, layer=0)
    assert layer0[0].shape == (7, 9)


def test_select_attention_takes_the_most_focused_head():
    flat = np.full((2, 4, 4), 0.25)
    sharp = np.stack([np.full((4, 4), 0.25), np.eye(4)])
    assert np.array_equal(select_attention([flat, sharp]), np.eye(4))
    assert np.allclose(select_attention([flat, sharp], layer=1), (np.eye(4) + 0.25) / 2)


def test_free_running_stops_on_the_stop_logit_and_respects_max_steps():
    model = tiny().eval()
    arch = SPACE.sample_one(np.random.default_rng(5))
    text = [3, 4, 5, 6, 1]
    with torch.no_grad():
        model.stop_out.bias.fill_(-30.0)
    never = free_running(model, arch, text, max_steps=6)
    assert not never.stopped and never.steps == 6 and never.mel.shape == (12, MELS)
    assert never.attention.shape == (6, 5)
    with torch.no_grad():
        model.stop_out.bias.fill_(30.0)
    at_once = free_running(model, arch, text, max_steps=6)
    assert at_once.stopped and at_once.steps == 1 and at_once.mel.shape == (2, MELS)
    # mid-way: stop at the first step over the threshold, with the same frames until then
    with torch.no_grad():
        model.stop_out.bias.zero_()
    full = free_running(model, arch, text, max_steps=8, use_stop=False, seed=2)
    threshold = float(np.median(full.stop_probs))
    first = int(np.argmax(full.stop_probs > threshold))
    cut = free_running(model, arch, text, max_steps=8, threshold=threshold, seed=2)
    assert cut.stopped and cut.steps == first + 1
    assert np.allclose(cut.mel_before, full.mel_before[: cut.steps * R], atol=1e-6)


def test_free_running_matches_teacher_forcing_on_its_own_output():
    """With the pre-net's dropout off, feeding the generated frames back as the teacher gives
    the same frames and attention: recomputing the prefix is exact autoregression."""
    model = tiny()
    model.prenet_dropout_at_inference = False
    arch = SPACE.sample_one(np.random.default_rng(6))
    texts = [[3, 4, 5, 6, 7, 1], [8, 9, 1]]
    results = free_running_batch(model, arch, texts, max_steps=5, use_stop=False)
    for b, res in enumerate(results):
        n = len(texts[b])
        batch = TTSBatch(
            torch.tensor([texts[b]]), torch.tensor([n]), torch.from_numpy(res.mel_before)[None],
            torch.tensor([res.mel_before.shape[0]]), ["x"],
        )  # fmt: skip
        model.eval()
        with torch.no_grad():
            out = model(batch.text, batch.text_lengths, batch.mel, batch.mel_lengths, arch)
        assert np.allclose(out.mel_before[0].numpy(), res.mel_before, atol=1e-5)
        assert np.allclose(out.mel_after[0].numpy(), res.mel, atol=1e-5)
        tf = teacher_forced_attention(model, arch, batch)[0]
        assert np.allclose(tf, res.attention, atol=1e-5)


def test_free_running_is_deterministic_for_a_seed():
    model = tiny()
    arch = SPACE.sample_one(np.random.default_rng(7))
    a = free_running(model, arch, [3, 4, 5, 1], max_steps=4, seed=11, use_stop=False)
    b = free_running(model, arch, [3, 4, 5, 1], max_steps=4, seed=11, use_stop=False)
    c = free_running(model, arch, [3, 4, 5, 1], max_steps=4, seed=12, use_stop=False)
    assert np.array_equal(a.mel, b.mel) and np.array_equal(a.attention, b.attention)
    assert not np.array_equal(a.mel, c.mel)  # the pre-net's dropout is on at inference
    with pytest.raises(SeminasError):
        free_running(model, arch, [3, 4, 1], max_steps=0)


def test_full_paper_size_trains_two_steps():
    model = TransformerTTS(40, 80, FINAL_HIDDEN, 4, arch=SPACE.paper_arch("low_resource"))
    trainer = TTSTrainer(model, TrainConfig(warmup=2))
    batch = make_batch(0, lengths=((8, 20), (5, 13)), mels=80)
    losses = trainer.train([batch], 2)
    assert len(losses) == 2 and all(np.isfinite(x.loss) for x in losses)
    assert trainer.step == 2
