"""Real training: data sources, the recipe, the training evaluator and its cache."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from conftest import need

from seminas.errors import SeminasError
from seminas.networks import build_network
from seminas.training.data import (
    ImageData,
    augment,
    load_image_data,
    normalise,
    split_validation,
)
from seminas.training.evaluator import TrainingEvaluator
from seminas.training.recipe import Recipe, count_params

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
TINY_NET = {"channels": 4, "cells": 1}


@pytest.fixture(scope="module")
def cifar():
    need("cifar10/cifar10-10k.npz")
    return load_image_data("cifar10-10k")


def subset(data: ImageData, per_class: int, test_per_class: int) -> ImageData:
    """The first images of each class: a real, balanced, tiny data set."""
    def pick(y: torch.Tensor, k: int) -> torch.Tensor:
        return torch.cat([torch.nonzero(y == c).flatten()[:k] for c in range(10)])

    tr, te = pick(data.y_train, per_class), pick(data.y_test, test_per_class)
    return ImageData("cifar10-tiny", data.x_train[tr], data.y_train[tr], data.x_test[te],
                     data.y_test[te], data.classes)


@pytest.fixture(scope="module")
def tiny(cifar):
    return subset(cifar, 30, 10)  # 300 training images, 100 test images


def test_cifar_subset_loads_as_documented(cifar):
    assert cifar.x_train.shape == (10_000, 3, 32, 32) and cifar.x_train.dtype == torch.uint8
    assert cifar.y_train.dtype == torch.int64
    assert cifar.x_test.shape == (2_000, 3, 32, 32)
    assert cifar.num_classes == 10 and cifar.classes[0] == "airplane"
    assert torch.bincount(cifar.y_train).tolist() == [1000] * 10


def test_validation_split_is_stratified_and_repeatable(tiny):
    train, val = split_validation(tiny, 0.2, seed=3)
    again, val_again = split_validation(tiny, 0.2, seed=3)
    assert torch.equal(train, again) and torch.equal(val, val_again)
    assert len(val) == 60 and len(train) == 240
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.bincount(tiny.y_train[val]).tolist() == [6] * 10
    other, _ = split_validation(tiny, 0.2, seed=4)
    assert not torch.equal(train, other)
    with pytest.raises(SeminasError):
        split_validation(tiny, 1.5, seed=0)


def test_augment_crops_flips_and_repeats(tiny):
    batch = tiny.x_train[:16]
    a = augment(batch, torch.Generator().manual_seed(0))
    b = augment(batch, torch.Generator().manual_seed(0))
    assert a.shape == (16, 3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, normalise(batch))
    # crops and flips move pixels, never change them: every value is the image's or padding's
    plain = normalise(batch)
    black = normalise(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).flatten()
    for i in range(16):
        for c in range(3):
            allowed = torch.cat([plain[i, c].flatten(), black[c : c + 1]])
            assert torch.isin(a[i, c], allowed).all()


def test_one_epoch_training_on_a_few_hundred_images(tiny, tmp_path):
    evaluator = TrainingEvaluator("nb201", data=tiny, epochs=1, seed=0, cache_dir=tmp_path,
                                  **TINY_NET)
    record = evaluator.evaluate(ARCH)
    assert 0.0 <= record.search_metric <= 100.0
    assert record.report_metric is not None and 0.0 <= record.report_metric <= 100.0
    assert record.cost_seconds > 0
    net = build_network("nb201", ARCH, **TINY_NET)
    assert record.params == count_params(net)
    assert record.extra["epochs"] == 1 and len(record.extra["history"]) == 1
    assert math.isfinite(record.extra["history"][0]["loss"])
    # same seed, same numbers (CPU, one thread, deterministic algorithms), without the cache
    fresh = TrainingEvaluator("nb201", data=tiny, epochs=1, seed=0, cache_dir=False, **TINY_NET)
    again = fresh.evaluate(ARCH)
    assert (again.search_metric, again.report_metric) == (
        record.search_metric, record.report_metric,
    )
    assert again.extra["history"][0]["loss"] == record.extra["history"][0]["loss"]


def test_the_cache_answers_a_repeated_query_without_training(tiny, tmp_path, monkeypatch):
    import seminas.training.evaluator as module

    evaluator = TrainingEvaluator("nb201", data=tiny, epochs=1, seed=0, cache_dir=tmp_path,
                                  **TINY_NET)
    first = evaluator.evaluate(ARCH)
    assert "cached" not in first.extra
    assert evaluator.cached_record(ARCH) is not None

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the result is cached")

    monkeypatch.setattr(module, "train_network", no_training)
    # a new evaluator (another process, another day) finds it on disk
    again = TrainingEvaluator("nb201", data=tiny, epochs=1, seed=0, cache_dir=tmp_path,
                              **TINY_NET).evaluate(ARCH)
    assert again.extra["cached"] is True
    assert (again.search_metric, again.report_metric, again.params) == (
        first.search_metric, first.report_metric, first.params,
    )
    # the key holds the recipe, the seed, the network and the data: any change retrains
    for changed in (
        {"epochs": 2},
        {"seed": 1},
        {"channels": 6},
    ):
        kwargs = {"epochs": 1, "seed": 0, **TINY_NET, **changed}
        other = TrainingEvaluator("nb201", data=tiny, cache_dir=tmp_path, **kwargs)
        assert other.cached_record(ARCH) is None, changed
    smaller = ImageData("other", tiny.x_train[:200], tiny.y_train[:200], None, None,
                        tiny.classes)
    other = TrainingEvaluator("nb201", data=smaller, epochs=1, cache_dir=tmp_path, **TINY_NET)
    assert other.cached_record(ARCH) is None


def test_a_users_own_training_function(tmp_path):
    calls = []

    def train(request):
        calls.append(request.arch)
        net = request.build(num_classes=10)
        return {"val_accuracy": 50.0 + len(request.arch_id) % 7, "params": count_params(net)}

    evaluator = TrainingEvaluator("nb101", data=None, train_fn=train, seed=1, cache_dir=tmp_path)
    cell = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ops": ["input", "conv3x3-bn-relu",
                                                                  "output"]}
    record = evaluator.evaluate(cell)
    assert record.search_metric >= 50 and record.report_metric is None and record.params > 0
    assert evaluator.evaluate(cell).extra["cached"] is True
    assert len(calls) == 1
    with pytest.raises(SeminasError, match="val_accuracy"):
        TrainingEvaluator("nb201", data=None, train_fn=lambda r: {"x": 1},
                          cache_dir=False).evaluate(ARCH)


def test_training_data_from_cifar_python_batches(tmp_path, tiny):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    x = tiny.x_train.numpy().reshape(len(tiny.x_train), -1)
    for i, part in enumerate(np.array_split(np.arange(len(x)), 2), start=1):
        batch = {b"data": x[part], b"labels": tiny.y_train[part].tolist(), b"batch_label": b"b"}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {b"data": tiny.x_test.numpy().reshape(len(tiny.x_test), -1),
            b"labels": tiny.y_test.tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [
        c.encode() for c in tiny.classes]}))
    data = load_image_data(str(tmp_path))
    assert torch.equal(data.x_train, tiny.x_train) and torch.equal(data.y_train, tiny.y_train)
    assert torch.equal(data.x_test, tiny.x_test)
    assert data.classes == tiny.classes
    # a batch file that tries to run code is refused, not executed
    (folder / "data_batch_1").write_bytes(pickle.dumps(print))
    with pytest.raises(SeminasError, match="not a CIFAR-10 python batch"):
        load_image_data(str(folder))


def test_training_data_from_an_image_folder(tmp_path):
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("val", 1)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
                image.fromarray(pixels).save(tmp_path / split / cls / f"{i}.png")
    data = load_image_data(str(tmp_path), image_size=16)
    assert data.x_train.shape == (6, 3, 16, 16) and data.classes == ["cat", "dog"]
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.x_test.shape == (2, 3, 16, 16)


def test_bad_data_sources_are_one_line_errors(tmp_path):
    with pytest.raises(SeminasError, match="unknown data source"):
        load_image_data("imagenet-1k")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeminasError, match="neither"):
        load_image_data(str(tmp_path / "empty"))
    with pytest.raises(SeminasError, match="unknown data source"):
        TrainingEvaluator("nb201", data=str(tmp_path / "missing"))
    with pytest.raises(SeminasError, match="epochs"):
        TrainingEvaluator("nb201", data=None, train_fn=lambda r: 1.0, epochs=0)
    with pytest.raises(SeminasError, match="epochs"):
        Recipe(epochs=0)


def test_recipe_key_is_stable_and_complete():
    assert Recipe().key() == Recipe().key()
    assert Recipe(lr=0.05).key() != Recipe().key()
    assert Recipe(augment=False).key() != Recipe().key()
    assert len(Recipe().key()) == 16
