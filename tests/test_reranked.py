"""``seminas-rerank``: SemiNAS whose gradient-ascent and neighbourhood candidates are re-ranked by
a LightGBM ensemble -- exact budget, determinism per seed, proposals that come from the
candidates it says, and the faithful SemiNAS left untouched -- on the real NAS-Bench-201 table."""

import numpy as np
import pytest

from seminas.strategies import make_strategy, run_search
from seminas.strategies.screened import _distance, _FarFromOptima

QUICK = {"pretrain_epochs": 5, "first_epochs": 2, "epochs": 1, "unlabeled": 200}


def quick(**extra):
    return make_strategy("seminas-rerank", "nb201", **{**QUICK, **extra})


def test_a_search_is_exact_and_deterministic(nb201):
    a = run_search(quick(), nb201, 45, seed=3)
    b = run_search(quick(), nb201, 45, seed=3)
    c = run_search(quick(), nb201, 45, seed=4)
    assert len(a.trials) == 45 and len({t.arch_id for t in a.trials}) == 45
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials
    ]
    assert [t.arch_id for t in a.trials] != [t.arch_id for t in c.trials]
    rounds = a.diagnostics["iterations"]
    assert rounds and all(r["screened"] >= r["neighbour_candidates"] > 0 for r in rounds)
    assert all(t.predicted is not None for t in a.trials if t.iteration > 0)


def test_rounds_pick_the_screens_best_candidates(nb201):
    """Each round evaluates its candidates in the screen's order, best first, out of more
    candidates than it evaluates; without a random top-up every cell came from the screen."""
    result = run_search(quick(), nb201, 75, seed=0)
    rounds = result.diagnostics["iterations"]
    for r in rounds:
        assert r["screened"] > 25 and "random_top_up" not in r
    for it in {t.iteration for t in result.trials if t.iteration > 0}:
        predicted = [t.predicted for t in result.trials if t.iteration == it]
        assert len(predicted) == 25 and predicted == sorted(predicted, reverse=True)
    assert result.best.search_metric > float(np.quantile(nb201.search, 0.95))


def test_neighbour_moves_only_without_ascent_candidates(nb201):
    """With no gradient-ascent candidates left to add (factor 1 and a tiny step range), the
    neighbourhood still fills a round."""
    result = run_search(quick(max_step=1, candidate_factor=1), nb201, 50, seed=1)
    assert len({t.arch_id for t in result.trials}) == 50
    (round_one,) = result.diagnostics["iterations"]
    assert round_one["ascent_candidates"] <= 25 < round_one["neighbour_candidates"]
    assert "random_top_up" not in round_one


def test_far_from_optima_is_the_distance_to_the_nearest_one():
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 2, size=(200, 12)).astype(float)
    optima = pool[[3, 50, 120]]
    far = _FarFromOptima()
    assert np.array_equal(far(pool, optima[:1]), _distance(pool, optima[:1]))
    assert np.array_equal(far(pool, optima), _distance(pool, optima))  # only two more measured
    brute = np.min(np.abs(pool[:, None] - optima[None]).sum(axis=2), axis=1) / 2
    assert np.array_equal(far(pool, optima), brute)
    assert np.array_equal(far(pool.copy(), optima), brute)  # another pool: measured afresh


@pytest.mark.parametrize("option,value", [("candidate_factor", 0), ("uncertainty", -1.0)])
def test_bad_settings_are_refused(option, value):
    from seminas.errors import SeminasError

    with pytest.raises(SeminasError, match=option):
        make_strategy("seminas-rerank", "nb201", **{option: value})
