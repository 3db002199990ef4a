"""Every search owns its randomness (seminas.randomness).

A search draws only from its own NumPy and torch generators, so: it leaves the process-global
generators as it found them and ignores their state; an in-process training evaluator (which
seeds the global generators for each training) cannot shift it, whether an evaluation trains,
hits the cache or is replayed from a study; and the published trajectories, recorded when the
search still drew from the global generators, come out unchanged.
"""

from __future__ import annotations

import hashlib
import io
import random
import sqlite3

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import need

from seminas.controller import ControllerTrainer
from seminas.controller.model import Dropout
from seminas.spaces.nb201 import NB201Space
from seminas.strategies import make_strategy, resolve_preset, run_search
from seminas.study import Study, StudyError, evaluator_spec, make_config, run_study
from seminas.training.data import ImageData, load_image_data, normalise
from seminas.training.evaluator import TrainingEvaluator, TrainRequest

# sha256 (first 16 hex digits) of the 60 architecture ids, one per line, that each strategy
# evaluates with its default NAS-Bench-201 preset, seed 0, CIFAR-10: recorded with the code
# that still seeded and drew from torch's global generator (notes: rng-baseline), so these
# pin the published trajectories. (Controller training is floating point: another CPU or torch
# build may round differently; ids at this budget were the same with 1 and 2 threads.)
PUBLISHED = {
    "seminas": "c575a12043166977",
    "nao": "d4eac8bb7ad47f23",
    "re": "1ce28c7e355aefd7",
    "rs": "f91989db160b2c7b",
    "gbdt": "69d7925aceee9aa3",
    "semi-gbdt": "82eed1e1cb64270c",
    "weaknas": "28ef8b664b67d353",
}

# a SemiNAS small enough to train its controller in a blink; two iterations after the first set
TINY_SEMINAS = {
    "initial": 8,
    "per_iteration": 4,
    "unlabeled": 30,
    "pretrain_epochs": 5,
    "epochs": 2,
    "top_k": 8,
    "max_step": 20,
    "embedding_size": 16,
    "hidden_size": 16,
    "mlp_hidden": 8,
}
BUDGET = 16
TINY_NET = {"channels": 4, "cells": 1}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One thread for every search here, the module's fixtures included (a thread count is part
    of what decides a float result); also far faster on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def global_states() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def assert_same_states(before: tuple, after: tuple) -> None:
    assert before[0] == after[0], "Python's random state changed"
    assert all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        for a, b in zip(before[1], after[1], strict=True)
    ), "NumPy's global state changed"
    assert torch.equal(before[2], after[2]), "torch's global generator changed"


def scramble_globals(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def ids_digest(result) -> str:
    ids = "\n".join(t.arch_id for t in result.trials)
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def trials(result) -> list[tuple]:
    return [
        (t.number, t.arch_id, t.search_metric, t.report_metric, t.iteration, t.predicted)
        for t in result.trials
    ]


# -- the parts ------------------------------------------------------------------------------
def test_dropout_is_torchs_dropout_on_the_given_generator():
    """Same masks, outputs and gradients as nn.Dropout from the same state: moving the
    controller's dropout off the global generator changed no number."""
    x = torch.randn(50, 7, 64, requires_grad=True)
    torch.manual_seed(11)
    theirs = torch.nn.Dropout(0.1)(x)
    (grad_theirs,) = torch.autograd.grad(theirs.square().sum(), x)
    after_theirs = torch.get_rng_state()
    scramble_globals(5)
    before = global_states()
    generator = torch.Generator().manual_seed(11)
    ours = Dropout(0.1, generator)(x)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), x)
    assert torch.equal(ours, theirs) and torch.equal(grad_ours, grad_theirs)
    assert torch.equal(generator.get_state(), after_theirs)  # it drew as much, from its own
    assert_same_states(before, global_states())
    assert torch.equal(Dropout(0.1, generator).eval()(x), x)
    with pytest.raises(ValueError):
        Dropout(1.5, generator)


def test_controller_weights_batches_and_dropout_come_from_its_generator():
    space = NB201Space()
    archs = space.sample(40, np.random.default_rng(0))
    y = np.linspace(80, 90, 40)
    fitted = []
    for scramble in (1, 2):
        scramble_globals(scramble)
        before = global_states()
        trainer = ControllerTrainer(space, generator=torch.Generator().manual_seed(7))
        trainer.standardise_with(y)
        losses = trainer.fit(trainer.tokens(archs), y, 3)
        assert_same_states(before, global_states())
        fitted.append((losses, trainer.model.state_dict(), trainer.generator.get_state()))
    (la, wa, ga), (lb, wb, gb) = fitted
    assert la == lb and torch.equal(ga, gb)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    other = ControllerTrainer(space, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(
        other.model.state_dict()["encoder.embedding.weight"], wa["encoder.embedding.weight"]
    )


# -- whole searches -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_a_search_owns_its_randomness_and_keeps_the_published_trajectory(name, nb201):
    """The process-global generators are the same after a whole search, their state before it
    does not matter, and the trajectory is the one recorded before randomness was owned."""
    strategy = make_strategy(name, resolve_preset(name, None, "nb201"))
    scramble_globals(123)
    before = global_states()
    result = run_search(strategy, nb201, 60, 0)
    assert_same_states(before, global_states())
    assert len(result.trials) == 60
    assert ids_digest(result) == PUBLISHED[name], (
        f"{name}'s seed-0 trajectory is not the published one: the search's random streams "
        "changed (or this torch/CPU rounds the controller's training differently)"
    )


# -- an in-process training evaluator -------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_images():
    """300 real CIFAR-10 training images and 100 test images (the first of each class)."""
    need("cifar10/cifar10-10k.npz")
    data = load_image_data("cifar10-10k")

    def pick(labels: torch.Tensor, k: int) -> torch.Tensor:
        return torch.cat([torch.nonzero(labels == c).flatten()[:k] for c in range(10)])

    tr, te = pick(data.y_train, 30), pick(data.y_test, 10)
    return ImageData(
        "cifar10-tiny",
        data.x_train[tr],
        data.y_train[tr],
        data.x_test[te],
        data.y_test[te],
        data.classes,
    )


def trainer_evaluator(data: ImageData, cache_dir) -> TrainingEvaluator:
    return TrainingEvaluator("nb201", data=data, epochs=1, seed=0, cache_dir=cache_dir, **TINY_NET)


def tiny_seminas():
    return make_strategy("seminas", None, **TINY_SEMINAS)


@pytest.fixture(scope="module")
def uncached_reference(tiny_images):
    """The search with every evaluation trained (no cache)."""
    return run_search(tiny_seminas(), trainer_evaluator(tiny_images, False), BUDGET, 0)


def test_a_training_leaves_the_callers_generators_alone(tiny_images):
    """The evaluator seeds the global generators for a training and puts them back after; the
    training's numbers do not depend on what the caller's generators held."""
    arch = NB201Space().sample(1, np.random.default_rng(3))[0]
    records = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a multi-threaded CPU training on a loaded machine can round
    try:  # differently from one run to the next; the generators are what is tested here
        for scramble in (1, 2):
            scramble_globals(scramble)
            before = global_states()
            records.append(trainer_evaluator(tiny_images, False).evaluate(arch))
            assert_same_states(before, global_states())
    finally:
        torch.set_num_threads(threads)
    assert records[0].search_metric == records[1].search_metric
    losses = [[h["loss"] for h in r.extra["history"]] for r in records]
    assert losses[0] == losses[1]


def test_cold_warm_and_partly_warm_caches_give_the_same_search(
    tiny_images, uncached_reference, tmp_path
):
    """Trainings seed the global generators, cache hits do not: the search must not notice."""
    reference = trials(uncached_reference)
    assert len(reference) == BUDGET
    assert len({t[4] for t in reference}) == 3  # the initial set and two controller rounds
    cache = tmp_path / "cache"
    # a shorter search fills the cache with the first queries: the next one hits, then trains
    first = run_search(tiny_seminas(), trainer_evaluator(tiny_images, cache), 10, 0)
    assert trials(first) == reference[:10]
    partly = trainer_evaluator(tiny_images, cache)
    hits = [partly.cached_record(t.arch) is not None for t in uncached_reference.trials]
    assert hits == [True] * 10 + [False] * (BUDGET - 10)
    assert trials(run_search(tiny_seminas(), partly, BUDGET, 0)) == reference
    warm = trainer_evaluator(tiny_images, cache)
    assert all(warm.cached_record(t.arch) is not None for t in uncached_reference.trials)
    assert trials(run_search(tiny_seminas(), warm, BUDGET, 0)) == reference


def users_training(request: TrainRequest) -> dict:
    """A training function written the usual way: the network's initial weights and the batch
    order come from the global generators, which the evaluator seeds for this architecture."""
    data = request.data
    model = request.build(data.num_classes)  # seeds torch's global generator
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = normalise(data.x_train), data.y_train
    model.train()
    for idx in torch.randperm(len(y)).split(100):  # the global generator
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = (model(normalise(data.x_test)).argmax(1) == data.y_test).float().mean()
    return {"val_accuracy": 100.0 * float(correct)}


def test_an_interrupted_study_with_an_in_process_trainer_resumes_exactly(tiny_images, tmp_path):
    """A study run with a user's train_fn, stopped after 11 queries and resumed (the first 11
    now replayed from the file, untrained), is the uninterrupted search."""

    def evaluator(cache_dir):
        return TrainingEvaluator(
            "nb201",
            data=tiny_images,
            seed=0,
            cache_dir=cache_dir,
            train_fn=users_training,
            **TINY_NET,
        )

    reference = run_search(tiny_seminas(), evaluator(False), BUDGET, 0)
    config = make_config(tiny_seminas(), evaluator_spec("nb201"), BUDGET, 0)
    db = tmp_path / "study.db"

    def stop_after_11(ctx):
        if len(ctx.trials) == 11:
            raise KeyboardInterrupt

    with Study.create_or_open(db, config)[0] as study:
        with pytest.raises(KeyboardInterrupt):
            run_study(study, evaluator(tmp_path / "cache"), on_event=stop_after_11)
    with Study.open(db) as study:
        assert len(study.done()) == 11
        resumed = run_study(study, evaluator(tmp_path / "cache"))
        stored = [(t.number, t.arch_id, t.search_metric) for t in study.done()]
    assert trials(resumed) == trials(reference)
    assert stored == [(t.number, t.arch_id, t.search_metric) for t in reference.trials]


# -- a genuine divergence names what differs --------------------------------------------------
def _checkpoint_rng(db, number: int) -> dict:
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT rng FROM checkpoints WHERE number = ?", (number,)).fetchone()
    return torch.load(io.BytesIO(blob), weights_only=True)


def _set_checkpoint_rng(db, number: int, rng: dict) -> None:
    buf = io.BytesIO()
    torch.save(rng, buf)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE checkpoints SET rng = ? WHERE number = ?", (buf.getvalue(), number))


def test_a_divergence_names_the_generator_and_the_environment_that_differ(nb201, tmp_path):
    strategy = make_strategy("seminas", None, **TINY_SEMINAS)
    config = make_config(strategy, evaluator_spec("nb201"), BUDGET, 0)
    db = tmp_path / "d.db"
    with Study.create_or_open(db, config)[0] as study:
        run_study(study, nb201)
    stored = _checkpoint_rng(db, 12)  # the batch of queries 13-16
    assert set(stored) == {"numpy", "torch_generator"}

    # the search's torch stream is not where the study says it was before query 13
    _set_checkpoint_rng(db, 12, {**stored, "torch_generator": torch.Generator().get_state()})
    with Study.open(db) as study, pytest.raises(StudyError) as caught:
        run_study(study, nb201)
    message = str(caught.value)
    assert (
        "the state of the search's torch generator before query 13 differs from the stored one"
    ) in message
    assert "NumPy" not in message and "versions, torch threads and machine are the study's" in (
        message
    )

    # the study was written elsewhere: the message says what is not the same here
    _set_checkpoint_rng(db, 12, stored)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE study SET info = json_set(info, '$.torch', '0.0-elsewhere')")
        conn.execute("UPDATE trials SET arch_id = 'another cell' WHERE number = 13")
    with Study.open(db) as study, pytest.raises(StudyError) as caught:
        run_study(study, nb201)
    message = str(caught.value)
    assert "diverged: query 14 is another cell in the study but the search now proposes" in message
    assert f"torch 0.0-elsewhere in the study, {torch.__version__} now" in message
    assert "generator" not in message  # the generators were where the study says
