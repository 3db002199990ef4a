"""The controller learns to reconstruct, its gradient raises its own prediction, and generation
only proposes valid, unseen architectures."""

import numpy as np
import pytest
import torch

from seminas.benchmarks.nb101_synthetic import expected_accuracy, synthetic_specs
from seminas.controller import ControllerTrainer, TrainConfig
from seminas.spaces.nb101 import NB101Space
from seminas.spaces.nb201 import NB201Space
from seminas.strategies import SearchContext, make_strategy


def _trained(space, archs, targets, epochs, **train):
    torch.manual_seed(0)
    trainer = ControllerTrainer(space, train=TrainConfig(**train))
    trainer.standardise_with(targets)
    trainer.fit(trainer.tokens(archs), np.asarray(targets), epochs)
    return trainer


@pytest.fixture(scope="module")
def nb201_trained(nb201):
    space = NB201Space()
    archs = space.sample(300, np.random.default_rng(0))
    y = [nb201.lookup(a).search_metric for a in archs]
    return space, archs, y, _trained(space, archs, y, 150)


@pytest.fixture(scope="module")
def nb101_trained():
    space = NB101Space()
    archs = synthetic_specs(64, seed=0)
    y = [expected_accuracy(a) * 100 for a in archs]
    # a higher learning rate than the paper's keeps this test short; the mechanism is the same
    return space, archs, y, _trained(space, archs, y, 500, lr=5e-3)


@pytest.mark.parametrize("which", ["nb201_trained", "nb101_trained"])
def test_round_trip_through_the_controller(request, which):
    space, archs, _, trainer = request.getfixturevalue(which)
    tokens = trainer.tokens(archs)
    decoded = trainer.reconstruct(tokens)
    exact = (decoded == tokens).all(dim=1).float().mean().item()
    per_token = (decoded == tokens).float().mean().item()
    assert per_token >= 0.95, f"only {per_token:.0%} of tokens reconstructed"
    assert exact >= 0.9, f"only {exact:.0%} of sequences reconstructed exactly"
    back = [space.try_decode(row) for row in decoded.tolist()]
    assert sum(b == a for a, b in zip(archs, back, strict=True)) >= 0.9 * len(archs)


@pytest.mark.parametrize("which", ["nb201_trained", "nb101_trained"])
def test_predictor_learns_the_ranking(request, which):
    from scipy.stats import kendalltau

    _, archs, y, trainer = request.getfixturevalue(which)
    pred = trainer.predict(trainer.tokens(archs))
    assert kendalltau(pred, y)[0] > 0.5


@pytest.mark.parametrize("which", ["nb201_trained", "nb101_trained"])
def test_gradient_ascent_increases_the_predicted_score(request, which):
    _, archs, _, trainer = request.getfixturevalue(which)
    seeds = trainer.tokens(archs[:50])
    trainer.model.eval()
    with torch.no_grad():
        enc_out, emb = trainer.model.encoder(seeds)
        before = trainer.model.predictor(emb)
    enc = enc_out.detach().requires_grad_(True)
    from seminas.controller.model import arch_embedding

    score = trainer.model.predictor(arch_embedding(enc))
    (grad,) = torch.autograd.grad(score.sum(), enc)
    with torch.no_grad():
        moved = torch.nn.functional.normalize(enc + 0.5 * grad, dim=-1)
        after = trainer.model.predictor(arch_embedding(moved))
    assert (after > before).float().mean() > 0.9
    # and the decoded candidates of larger steps are rated higher on average
    results = trainer.ascend(seeds, [1.0, 5.0])
    assert results[1][1].mean() >= results[0][1].mean() - 1e-6


def test_generation_yields_only_valid_unseen_architectures(nb201_trained, nb201):
    space, archs, _, trainer = nb201_trained
    strategy = make_strategy("seminas", top_k=50)
    ctx = SearchContext(space, nb201, budget=1000)
    ctx.evaluated_ids.update(space.arch_id(a) for a in archs)
    seeds = trainer.tokens(archs[:50])
    new, predicted, stats = strategy._generate(ctx, trainer, seeds, quota=40)
    ids = [space.arch_id(a) for a in new]
    assert len(new) == 40 == len(predicted)
    assert len(set(ids)) == 40
    assert not set(ids) & ctx.evaluated_ids
    assert all(space.validate(a) == a for a in new)
    assert stats["new"] == 40 and 0 < stats["hit_rate"] <= 1


def test_predictor_on_the_real_nb101_subset():
    """The controller's predictor trains on real NAS-Bench-101 cells (the 1,000 subset cells with
    matrices) and ranks held-out cells better than chance."""
    from conftest import need
    from scipy.stats import kendalltau

    from seminas.benchmarks.nb101 import NB101SubsetBenchmark

    need("nasbench101/subset-20k.csv")
    need("nasbench101/specs-1k.json")
    bench = NB101SubsetBenchmark()
    specs = bench.specs()
    y = np.array([bench.lookup(s).search_metric for s in specs])
    order = np.random.default_rng(0).permutation(len(specs))
    train, test = order[:300], order[300:]
    trainer = _trained(NB101Space(), [specs[i] for i in train], y[train], 60)
    pred = trainer.predict(trainer.tokens([specs[i] for i in test]))
    tau = kendalltau(pred, y[test])[0]
    assert tau > 0.2, f"held-out Kendall tau {tau:.2f}"
