"""The TTS data side on real recordings: the LJSpeech-layout reader and its one-line errors,
the splits, characters to ids, cached log-mel features and their batches, Griffin-Lim, and the
robustness set. A small corpus in the LJSpeech layout is copied from the shared Harvard corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
import torch
from conftest import need

from seminas.errors import SeminasError
from seminas.tts.audio import mel_to_wave, write_wav
from seminas.tts.batch import PAD_ID, FeatureConfig
from seminas.tts.corpus import Splits, read_corpus, split_corpus
from seminas.tts.features import FeatureSet, log_mel, trim
from seminas.tts.robustness import REPEATS, robustness_set
from seminas.tts.text import SYMBOLS, ids_to_text, normalize_characters, text_to_ids, vocab_size

HARVARD = "tts/harvard-espeak"
FIXTURE_IDS = [f"HS{i:03d}" for i in range(1, 13)]  # 12 utterances


@pytest.fixture(scope="module")
def harvard() -> Path:
    return need(f"{HARVARD}/metadata.csv").parent


def _make_fixture(harvard: Path, dest: Path) -> Path:
    """The first 12 Harvard utterances in the LJSpeech layout (3-field metadata lines)."""
    (dest / "wavs").mkdir(parents=True)
    lines = (harvard / "metadata.csv").read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if line.split("|")[0] in FIXTURE_IDS]
    (dest / "metadata.csv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    for uid in FIXTURE_IDS:
        shutil.copyfile(harvard / "wavs" / f"{uid}.wav", dest / "wavs" / f"{uid}.wav")
    return dest


@pytest.fixture(scope="module")
def small(harvard, tmp_path_factory) -> Path:
    return _make_fixture(harvard, tmp_path_factory.mktemp("lj") / "corpus")


@pytest.fixture
def small_copy(harvard, tmp_path) -> Path:
    """A copy the test may damage."""
    return _make_fixture(harvard, tmp_path / "corpus")


def _small_splits(corpus) -> Splits:
    u = corpus.utterances
    return Splits(u[:8], u[8:10], u[10:12])


# --- the reader -------------------------------------------------------------------------------


def test_reads_the_ljspeech_layout(small):
    corpus = read_corpus(small)
    assert [u.id for u in corpus.utterances] == FIXTURE_IDS
    first = corpus.utterances[0]
    assert first.text == "The birch canoe slid on the smooth planks."
    assert first.normalized == first.text
    assert first.wav == small / "wavs" / "HS001.wav"
    wave = corpus.load(first)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == soundfile.info(str(first.wav)).frames


def test_two_fields_use_the_text_as_normalized(small_copy):
    meta = small_copy / "metadata.csv"
    lines = meta.read_text().splitlines()
    lines[0] = "HS001|Twenty-one birch canoes."
    meta.write_text("\n".join(lines) + "\n")
    corpus = read_corpus(small_copy)
    assert corpus.utterances[0].normalized == "Twenty-one birch canoes."


def _one_line_error(path, fragment: str, **kwargs) -> str:
    with pytest.raises(SeminasError) as info:
        read_corpus(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and fragment in message, message
    return message


def test_missing_directory_and_metadata(tmp_path):
    message = _one_line_error(tmp_path / "nowhere", "does not exist")
    assert str(tmp_path / "nowhere") in message and "--data" in message
    message = _one_line_error(tmp_path, "metadata.csv is missing")
    assert str(tmp_path / "metadata.csv") in message
    (tmp_path / "metadata.csv").write_text("\n\n")
    _one_line_error(tmp_path, "lists no utterances")


def test_missing_wav_names_the_file(small_copy):
    (small_copy / "wavs" / "HS005.wav").unlink()
    message = _one_line_error(small_copy, "HS005.wav is missing")
    assert "line 5" in message


def test_an_empty_wav_is_refused(small_copy):
    import soundfile

    soundfile.write(str(small_copy / "wavs" / "HS004.wav"), np.zeros(0, np.float32), 22050)
    _one_line_error(small_copy, "HS004.wav holds no samples")


def test_cli_reports_a_missing_wav_on_one_line(small_copy, tmp_path, capsys):
    from seminas.cli import main

    (small_copy / "wavs" / "HS009.wav").unlink()
    out = tmp_path / "run"
    code = main(["tts", "pipeline", "--preset", "tiny", "--data", str(small_copy),
                 "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, captured
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert str(small_copy / "wavs" / "HS009.wav") in err and "line 9" in err
    assert not (out / "results.json").exists()


def test_malformed_line_gives_number_and_content(small_copy):
    meta = small_copy / "metadata.csv"
    lines = meta.read_text().splitlines()
    lines[3] = "HS004|a|b|c"
    meta.write_text("\n".join(lines) + "\n")
    message = _one_line_error(small_copy, "line 4")
    assert "'HS004|a|b|c'" in message and str(meta) in message


def test_duplicate_id_is_refused(small_copy):
    meta = small_copy / "metadata.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join(lines + [lines[0]]) + "\n")
    _one_line_error(small_copy, "appears twice")


def test_wrong_sample_rate_and_stereo_unless_resampled(small_copy):
    wav = small_copy / "wavs" / "HS003.wav"
    original, rate = soundfile.read(str(wav), dtype="float32")
    soundfile.write(str(wav), soxr.resample(original, rate, 16000), 16000, subtype="PCM_16")
    message = _one_line_error(small_copy, "16000 Hz")
    assert "HS003.wav" in message and "--resample" in message
    corpus = read_corpus(small_copy, resample=True)
    fixed = corpus.load(corpus.utterances[2])
    assert abs(len(fixed) - len(original)) <= 2  # back at 22,050 Hz
    soundfile.write(str(wav), original, rate, subtype="FLOAT")  # back to 22,050 Hz
    stereo = small_copy / "wavs" / "HS007.wav"
    mono, _ = soundfile.read(str(stereo), dtype="float32")
    soundfile.write(str(stereo), np.stack([mono, 0.5 * mono], axis=1), rate, subtype="FLOAT")
    _one_line_error(small_copy, "2 channels")
    corpus = read_corpus(small_copy, resample=True)
    np.testing.assert_allclose(corpus.load(corpus.utterances[6]), 0.75 * mono, atol=1e-6)


# --- splits -----------------------------------------------------------------------------------


def test_harvard_split_follows_the_lists(harvard):
    splits = split_corpus(read_corpus(harvard))
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (620, 50, 50)
    assert (splits.train[0].id, splits.train[-1].id) == ("HS001", "HS620")
    assert (splits.validation[0].id, splits.validation[-1].id) == ("HS621", "HS670")
    assert (splits.test[0].id, splits.test[-1].id) == ("HS671", "HS720")
    assert [u.id for u in split_corpus(read_corpus(harvard), utterances=100).train][-1] == "HS100"
    with pytest.raises(SeminasError, match="620 training"):
        split_corpus(read_corpus(harvard), utterances=621)


def test_other_corpora_are_split_by_seed(harvard, small):
    with pytest.raises(SeminasError, match="12 utterances; 201 are needed"):
        split_corpus(read_corpus(small))
    # the Harvard recordings under other names: a generic corpus of 720 utterances
    import dataclasses

    corpus = read_corpus(harvard)
    renamed = dataclasses.replace(corpus, utterances=tuple(
        dataclasses.replace(u, id="X" + u.id) for u in corpus.utterances))  # fmt: skip
    a, b = split_corpus(renamed, 300, seed=1), split_corpus(renamed, 300, seed=1)
    assert (len(a.train), len(a.validation), len(a.test)) == (300, 100, 100)
    assert a == b and a != split_corpus(renamed, 300, seed=2)
    ids = [u.id for part in (a.train, a.validation, a.test) for u in part]
    assert len(set(ids)) == 500
    assert len(split_corpus(renamed).train) == 520
    with pytest.raises(SeminasError, match="721 are needed"):
        split_corpus(renamed, 521)


# --- text -------------------------------------------------------------------------------------


def test_text_ids(harvard):
    assert text_to_ids("") == [1]
    ids = text_to_ids("Ab, c!")
    assert ids[-1] == 1 and PAD_ID not in ids and max(ids) < vocab_size
    assert ids_to_text(ids) == "ab, c!"
    assert vocab_size == len(SYMBOLS) + 2 and len(set(SYMBOLS)) == len(SYMBOLS)
    assert normalize_characters("Café “déjà” — Müller’s #1") == 'cafe "deja" - muller\'s 1'
    for u in read_corpus(harvard).utterances:  # every character of the corpus is known
        assert len(normalize_characters(u.normalized)) == len(u.normalized), u.normalized


# --- features and batches ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def features(small, tmp_path_factory):
    corpus = read_corpus(small)
    cache = tmp_path_factory.mktemp("features")
    return FeatureSet(corpus, _small_splits(corpus), cache)


def test_log_mel_shape_and_trim(small):
    corpus = read_corpus(small)
    cfg = FeatureConfig()
    wave = corpus.load(corpus.utterances[0])
    mel = log_mel(wave, cfg)
    assert mel.shape == (1 + len(wave) // cfg.hop_length, cfg.n_mels) and mel.dtype == np.float32
    assert mel.min() >= np.log(cfg.floor) - 1e-5
    np.testing.assert_array_equal(mel, log_mel(wave, cfg))
    trimmed = trim(wave)  # espeak ends in about 0.4 s of silence
    assert 0.25 * 22050 < len(wave) - len(trimmed) < 0.6 * 22050


def test_features_normalised_with_training_statistics(features):
    train = np.concatenate([it.mel for it in features.split("train")])
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-3)
    corpus = features.corpus
    raw = [log_mel(trim(corpus.load(u)), features.cfg) for u in corpus.utterances]
    np.testing.assert_allclose(features.mean, np.concatenate(raw[:8]).mean(axis=0), atol=1e-4)
    everything = np.concatenate(raw).mean(axis=0)  # what a leak of held-out frames would give
    assert np.abs(features.mean - everything).max() > 1e-2
    item = features.split("train")[0]
    assert item.id == "HS001" and item.ids.tolist() == text_to_ids(item.text)
    raw = features.denormalize(item.mel)
    np.testing.assert_allclose(features.normalize(raw), item.mel, atol=1e-4)


def test_cache_is_reused_and_keyed_by_the_files(features, small_copy, tmp_path):
    assert features.computed == 12 and features.cache_file.is_file()
    stamp = features.cache_file.stat().st_mtime_ns
    corpus = read_corpus(features.corpus.root)
    again = FeatureSet(corpus, _small_splits(corpus), features.cache_file.parent)
    assert again.computed == 0 and features.cache_file.stat().st_mtime_ns == stamp
    for a, b in zip(features.split("test"), again.split("test"), strict=True):
        np.testing.assert_array_equal(a.mel, b.mel)
    # another corpus directory, or a changed recording, is a different cache
    copy = read_corpus(small_copy)
    assert FeatureSet(copy, _small_splits(copy), tmp_path).computed == 12
    wav = small_copy / "wavs" / "HS002.wav"
    samples, rate = soundfile.read(str(wav), dtype="float32")
    soundfile.write(str(wav), samples[: len(samples) // 2], rate, subtype="PCM_16")
    changed = read_corpus(small_copy)
    rebuilt = FeatureSet(changed, _small_splits(changed), tmp_path)
    assert rebuilt.computed == 12 and len(list(tmp_path.glob("*.npz"))) == 2


def test_batches_are_bucketed_padded_and_seeded(features):
    items = features.split("train")
    a = features.batches("train", 3, seed=5)
    assert [b.ids for b in a] == [b.ids for b in features.batches(items, 3, seed=5)]
    assert [b.ids for b in a] != [b.ids for b in features.batches("train", 3, seed=6)]
    assert sorted(i for b in a for i in b.ids) == sorted(it.id for it in items)
    by_length = sorted(items, key=lambda it: (it.mel.shape[0], it.id))
    buckets = [sorted(it.id for it in by_length[i : i + 3]) for i in range(0, 8, 3)]
    assert sorted(sorted(b.ids) for b in a) == sorted(buckets)
    plain = features.batches("train", 3, shuffle=False)
    assert [b.ids for b in plain] == [[it.id for it in by_length[i : i + 3]] for i in (0, 3, 6)]
    lookup = {it.id: it for it in items}
    for batch in a:
        assert batch.text.dtype == torch.int64 and batch.mel.dtype == torch.float32
        assert batch.mel.shape == (len(batch), int(batch.mel_lengths.max()), 80)
        for b, uid in enumerate(batch.ids):
            it, n, t = lookup[uid], int(batch.text_lengths[b]), int(batch.mel_lengths[b])
            assert (n, t) == (len(it.ids), it.mel.shape[0])
            assert batch.text[b, :n].tolist() == it.ids.tolist()
            assert (batch.text[b, n:] == PAD_ID).all() and (batch.mel[b, t:] == 0).all()
            np.testing.assert_array_equal(batch.mel[b, :t].numpy(), it.mel)


def test_griffin_lim_round_trip(features, tmp_path):
    item = features.split("test")[0]
    cfg = features.cfg
    mel = features.denormalize(item.mel)[:40]
    wave = mel_to_wave(mel, cfg, iterations=4)
    assert wave.dtype == np.float32 and len(wave) == (len(mel) - 1) * cfg.hop_length
    assert 0.9 < np.abs(wave).max() <= 0.95 + 1e-6
    path = tmp_path / "out" / "x.wav"
    write_wav(path, wave, cfg.sample_rate)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.frames) == (cfg.sample_rate, 1, len(wave))
    again = log_mel(soundfile.read(str(path), dtype="float32")[0], cfg)
    assert abs(len(again) - len(mel)) <= 1


# --- the robustness set -----------------------------------------------------------------------


def test_robustness_set_uses_test_sentences_only(harvard):
    splits = split_corpus(read_corpus(harvard))
    test = [(u.id, u.normalized, 200 + i) for i, u in enumerate(splits.test)]
    hard = robustness_set(test)
    assert hard == robustness_set(list(test))
    kinds = [h.kind for h in hard]
    assert (kinds.count("long"), kinds.count("repeat"), kinds.count("single-word")) == (16, 25, 10)
    assert len({h.id for h in hard}) == len(hard)
    test_ids = {u.id for u in splits.test}
    other = {u.normalized for u in splits.train + splits.validation}
    for h in hard:
        sources = h.id.split("-", 1)[1].split("+")
        assert set(sources) <= test_ids
        assert h.text not in other and h.expected_frames > 0
    first = hard[0]
    assert first.text == " ".join(u.normalized for u in splits.test[:3])
    assert first.expected_frames == 200 + 201 + 202
    repeat = next(h for h in hard if h.kind == "repeat")
    source = splits.test[0].normalized  # "The hog crawled under the high fence."
    words = repeat.text.split()
    longest = max((w.strip(".,") for w in source.split()), key=len)
    assert words.count(longest) == REPEATS and len(words) == len(source.split()) + REPEATS - 1
    assert repeat.text.count(".") == source.count(".")  # punctuation after the last copy only
    assert repeat.expected_frames > 200
    word = next(h for h in hard if h.kind == "single-word")
    assert word.text == longest and word.expected_frames < 200


def test_robustness_counts_follow_the_docstring(harvard):
    """33 long, 50 repeat and 20 single-word inputs from 100 sentences; the groups of three
    stop before a last incomplete group."""
    train = split_corpus(read_corpus(harvard)).train
    sentences = [(u.id, u.normalized, 150) for u in train[:100]]
    kinds = [h.kind for h in robustness_set(sentences)]
    assert (kinds.count("long"), kinds.count("repeat"), kinds.count("single-word")) == (33, 50, 20)
    last_long = [h for h in robustness_set(sentences) if h.kind == "long"][-1]
    assert last_long.id == "long-HS097+HS098+HS099"
    assert [h.kind for h in robustness_set(sentences[:2])] == ["repeat", "single-word"]
