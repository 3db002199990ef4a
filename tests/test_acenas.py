"""``acenas``: a LambdaRank GNN pretrained on weak labels, fine-tuned on the evaluated cells --
exact budget and determinism per seed, weak labels that are free (never charged, no table answer
read) and really reach the predictor, bad weak-label files refused in one line, and the
LambdaRank loss itself (it prefers the true order and weighs the top of the list most)."""

import numpy as np
import pytest
import torch

from seminas.benchmarks.base import Evaluator, Record
from seminas.errors import SeminasError
from seminas.predictors.ranking import lambdarank_loss, loss_function, relevance
from seminas.spaces.nb101 import NB101Space
from seminas.strategies import make_strategy, run_search

# small training schedules: the tests check behaviour, not the tuned settings
QUICK = {"pretrain_epochs": 2, "max_steps": 60}


def quick(**extra):
    return make_strategy("acenas", "nb201", **{**QUICK, **extra})


def test_a_search_is_exact_and_deterministic(nb201):
    a = run_search(quick(), nb201, 20, seed=3)
    b = run_search(quick(), nb201, 20, seed=3)
    c = run_search(quick(), nb201, 20, seed=4)
    assert len(a.trials) == 20 and len({t.arch_id for t in a.trials}) == 20
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials
    ]
    assert [t.arch_id for t in a.trials] != [t.arch_id for t in c.trials]
    assert a.diagnostics["pretrained_on"] == 15625  # every cell's free labels
    assert [t.iteration for t in a.trials] == [0] * 10 + [1] * 10
    round_one = [t.predicted for t in a.trials if t.iteration == 1]
    assert round_one == sorted(round_one, reverse=True)  # best-predicted first


def test_budget_is_exact_when_rounds_do_not_divide_it(nb201):
    result = run_search(quick(initial=7, per_iteration=6), nb201, 23, seed=0)
    assert len(result.trials) == 23 and len({t.arch_id for t in result.trials}) == 23
    assert [r["labeled"] for r in result.diagnostics["iterations"]] == [7, 13, 19]


def test_weak_labels_are_free_and_no_table_answer_is_read(nb201, tmp_path):
    """Pretraining on every cell asks the evaluator nothing: only charged queries reach it."""
    from seminas.benchmarks.nb201 import NB201Benchmark

    class Watched(NB201Benchmark):
        free_looks = 0
        evaluations = 0
        evaluating = False

        def evaluate(self, arch, query=None):
            type(self).evaluations += 1
            self.evaluating = True  # a charged query looks its record up: that is allowed
            try:
                return super().evaluate(arch, query=query)
            finally:
                self.evaluating = False

        def lookup(self, arch):
            if not self.evaluating:
                type(self).free_looks += 1
            return super().lookup(arch)

    bench = Watched("cifar10")
    scores = tmp_path / "scores.npz"
    np.savez(scores, index=np.arange(15625), score=np.linspace(0.0, 1.0, 15625))
    for weak in ("free", f"file:{scores}"):
        Watched.free_looks = Watched.evaluations = 0
        result = run_search(quick(weak_labels=weak), bench, 20, seed=1)
        assert Watched.free_looks == 0 and Watched.evaluations == 20 == len(result.trials)


def test_weak_labels_from_a_file_reach_the_predictor(nb201, tmp_path):
    """Pretrained on a file's true accuracies (``#oracle``), the predictor fine-tuned on ten
    cells orders the whole space far better than when pretrained on its noise array."""
    from scipy.stats import kendalltau

    from seminas.predictors.catalog import catalog_for, encode_catalog
    from seminas.strategies.acenas import weak_label_rows
    from seminas.strategies.base import SearchContext

    truth = np.asarray(nb201.search, dtype=np.float64)  # by official index
    path = tmp_path / "weak.npz"
    np.savez(path, index=np.arange(len(truth)), oracle=truth,
             noise=np.random.default_rng(0).random(len(truth)))
    catalog = catalog_for(nb201.space)
    by_row = truth[[nb201.index_of(catalog.arch(i)) for i in range(len(catalog))]]
    cells = encode_catalog("gnn", nb201.space)
    labeled = np.random.default_rng(3).choice(len(catalog), 10, replace=False)

    def tau(name):
        strategy = quick(weak_labels=f"file:{path}#{name}", weak_costs=False, pretrain_epochs=4)
        weak_graphs, weak = weak_label_rows(SearchContext(nb201.space, nb201, 20),
                                            np.random.default_rng(0), strategy.config)
        assert weak.shape == (15625, 1)
        model = strategy._predictor(0).pretrain(weak_graphs, weak)
        model.fit(cells.take_rows(labeled), by_row[labeled])
        return kendalltau(model.predict(cells), by_row)[0]

    assert tau("oracle") > tau("noise") + 0.1


def test_a_sample_of_the_file_is_pretrained_on(nb201, tmp_path):
    path = tmp_path / "scores.npz"
    np.savez(path, index=np.arange(0, 15625, 5), score=np.arange(3125.0))
    result = run_search(quick(weak_labels=f"file:{path}", pretrain_size=1000), nb201, 20, 0)
    assert result.diagnostics["pretrained_on"] == 1000 and len(result.trials) == 20


@pytest.mark.parametrize("arrays,suffix,match", [
    (None, "", "does not exist"),
    ({"index": np.array([0, 15625]), "score": np.ones(2)}, "", "index 15625 is not"),
    ({"index": np.array([0, 1]), "a": np.ones(2), "b": np.ones(2)}, "", "holds score arrays a, b"),
    ({"index": np.array([0, 1]), "a": np.ones(2)}, "#zz", "no score array 'zz'"),
    ({"score": np.ones(2)}, "", "no 'index' array"),
    ({"index": np.array(["|bogus~0|"]), "score": np.ones(1)}, "", "not in the search space"),
    ({"index": np.array([3, 3]), "score": np.ones(2)}, "", "more than once"),
])
def test_bad_weak_label_files_are_one_line_errors(nb201, tmp_path, arrays, suffix, match):
    path = tmp_path / "weak.npz"
    if arrays is not None:
        np.savez(path, **arrays)
    with pytest.raises(SeminasError, match=match) as err:
        run_search(quick(weak_labels=f"file:{path}{suffix}"), nb201, 20, seed=0)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("option,value", [
    ("weak_labels", "supernet"), ("weak_labels", "file:"), ("explore", 1.5), ("loss", "l1"),
])
def test_bad_settings_are_refused(option, value):
    with pytest.raises(SeminasError, match=option if option != "weak_labels" else "weak_labels"):
        make_strategy("acenas", "nb201", **{option: value})


def test_explored_cells_are_random_and_the_rest_best_predicted(nb201):
    result = run_search(quick(explore=0.5), nb201, 40, seed=5)
    rounds = result.diagnostics["iterations"]
    assert [r["explored"] for r in rounds] == [5, 5, 5]
    for it in (1, 2, 3):
        predicted = [t.predicted for t in result.trials if t.iteration == it]
        best, explored = predicted[:5], predicted[5:]
        assert best == sorted(best, reverse=True) and max(explored) <= min(best)


class _ToyNB101(Evaluator):
    """A made-up score on the unenumerated NAS-Bench-101 space (no catalog: random pools)."""

    def __init__(self) -> None:
        super().__init__()
        self.space = NB101Space()

    def _evaluate(self, arch):
        score = sum(op == "conv3x3-bn-relu" for op in arch.ops) + 0.1 * arch.num_edges
        return Record(self.space.arch_id(arch), float(score), float(score))


def test_a_space_without_a_catalog_pretrains_on_a_sample():
    strategy = make_strategy("acenas", "nb101", initial=15, per_iteration=5, pretrain_size=300,
                             pool=200, **QUICK)
    a = run_search(strategy, _ToyNB101(), 30, seed=0)
    b = run_search(strategy, _ToyNB101(), 30, seed=0)
    assert len({t.arch_id for t in a.trials}) == 30
    assert [t.arch_id for t in a.trials] == [t.arch_id for t in b.trials]
    assert a.diagnostics["pretrained_on"] == 300

def test_a_file_needs_a_space_that_lists_its_cells(tmp_path):
    path = tmp_path / "weak.npz"
    np.savez(path, index=np.array(["abc"]), score=np.ones(1))
    with pytest.raises(SeminasError, match="lists its cells"):
        run_search(make_strategy("acenas", weak_labels=f"file:{path}"), _ToyNB101(), 5, 0)


# -- the LambdaRank loss ---------------------------------------------------------------------------
def test_lambdarank_prefers_the_true_order_whatever_the_shift():
    target = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.4, 0.7])
    loss = loss_function("lambdarank")
    assert loss(target * 3, target) < loss(-target * 3, target)
    assert torch.isclose(loss(target * 3 + 5, target), loss(target * 3, target))


def test_lambdarank_weighs_the_top_of_the_list_most():
    """Swapping the two best cells costs more than swapping two low ones by the same margin."""
    target = torch.arange(10, dtype=torch.float32)
    right = target.clone()
    top_swapped = right.clone()
    top_swapped[[9, 8]] = top_swapped[[8, 9]]
    low_swapped = right.clone()
    low_swapped[[3, 2]] = low_swapped[[2, 3]]
    base = lambdarank_loss(right, target)
    top_cost = lambdarank_loss(top_swapped, target) - base
    low_cost = lambdarank_loss(low_swapped, target) - base
    assert top_cost > 0.1 and low_cost < 1e-3 * top_cost
    rel = relevance(target)
    assert float(rel.max()) == 20.0 and float(rel[:2].max()) == 0.0  # below the 20% quantile


def test_lambdarank_ties_alone_are_harmless():
    pred = torch.tensor([0.3, -0.2, 0.8], requires_grad=True)
    value = lambdarank_loss(pred, torch.ones(3))
    value.backward()
    assert float(value.detach()) == 0.0 and torch.all(pred.grad == 0)


def test_the_gnn_trained_with_lambdarank_finds_the_top_of_a_toy_order():
    from seminas.predictors.gnn import GNNPredictor
    from seminas.predictors.graphs import NB201_TYPES, nb201_code_graphs

    rng = np.random.default_rng(0)
    codes = rng.choice(15625, 300, replace=False)
    g = nb201_code_graphs(codes)
    conv = NB201_TYPES.index("nor_conv_3x3")
    y = (g.types == conv).sum(1).astype(float)  # 3x3 convolutions: a known order
    model = GNNPredictor(seed=0, loss="lambdarank", batch_size=20, max_steps=200)
    pred = model.fit(g.take_rows(np.arange(100)), y[:100]).predict(g)
    top = np.argsort(-pred)[:10]
    assert y[top].mean() >= np.quantile(y, 0.95)


# -- semi-acenas: the same search with SemiNAS's pseudo-labels in every round -----------------
def quick_semi(**extra):
    return make_strategy("semi-acenas", "nb201", **{**QUICK, "pseudo_labels": 200, **extra})


def test_semi_acenas_is_exact_and_deterministic(nb201):
    a = run_search(quick_semi(), nb201, 20, seed=3)
    b = run_search(quick_semi(), nb201, 20, seed=3)
    assert len(a.trials) == 20 and len({t.arch_id for t in a.trials}) == 20
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials]
    plain = run_search(quick(), nb201, 20, seed=3)
    assert [t.arch_id for t in a.trials[:10]] == [t.arch_id for t in plain.trials[:10]]
    assert [t.predicted for t in a.trials[10:]] != [t.predicted for t in plain.trials[10:]]


def test_semi_acenas_pseudo_labels_only_unevaluated_cells_and_charges_nothing(nb201, monkeypatch):
    """Each round's second fit sees the evaluated cells ``upsample`` times with their true
    labels, then ``pseudo_labels`` cells none of which was evaluated, labeled with the first
    fit's predictions; the search asks the benchmark only its charged queries."""
    from seminas.predictors.base import row_keys, take_rows
    from seminas.predictors.gnn import GNNPredictor

    fits = []
    original = GNNPredictor.fit

    def recording_fit(self, X, y):
        fits.append((X, np.asarray(y, dtype=np.float64)))
        return original(self, X, y)

    monkeypatch.setattr(GNNPredictor, "fit", recording_fit)
    nb201.reset_counts()
    result = run_search(quick_semi(upsample=3), nb201, 30, seed=2)
    assert nb201.num_queries == 30
    truth = {t.arch_id: t.search_metric for t in result.trials}
    assert len(fits) == 4  # rounds 1 and 2: a plain fit, then the semi-supervised one
    for (X_plain, y_plain), (X_semi, y_semi) in (fits[0:2], fits[2:4]):
        n = len(y_plain)
        assert len(y_semi) == 3 * n + 200
        assert np.array_equal(y_semi[: 3 * n], np.tile(y_plain, 3))
        labeled = set(row_keys(X_plain))
        pseudo = row_keys(take_rows(X_semi, np.arange(3 * n, len(y_semi))))
        assert not labeled & set(pseudo) and len(set(pseudo)) == 200
    assert sorted(fits[0][1]) == sorted(truth[t.arch_id] for t in result.trials[:10])
