"""WeakNAS and GBDT-NAS with any flat predictor of the registry and with SemiNAS's pseudo-labels
(``predictor=``, ``pseudo_labels=``): exact budgets, determinism, and pseudo-labels that really
reach the fit -- on the real NAS-Bench-201 table."""

import numpy as np
import pytest

from seminas.strategies import make_strategy, run_search

VARIANTS = [
    ("weaknas", {"predictor": "ensemble"}),
    ("weaknas", {"predictor": "gbdt", "pseudo_labels": 300}),
    ("weaknas", {"predictor": "mlp", "mlp_hidden": (32, 32), "mlp_epochs": 20,
                 "pseudo_labels": 200, "pseudo_keep": 0.5}),
    ("gbdt", {"predictor": "mlp", "mlp_hidden": (32, 32), "mlp_epochs": 20}),
    ("gbdt", {"predictor": "ensemble"}),
    ("semi-gbdt", {"predictor": "ensemble", "unlabeled": 300}),
]


@pytest.mark.parametrize("name,options", VARIANTS, ids=lambda v: str(v))
def test_every_predictor_choice_is_exact_and_deterministic(nb201, name, options):
    a = run_search(make_strategy(name, "nb201", **options), nb201, 40, seed=5)
    b = run_search(make_strategy(name, "nb201", **options), nb201, 40, seed=5)
    assert len(a.trials) == 40 and len({t.arch_id for t in a.trials}) == 40
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials
    ]
    assert all(t.predicted is not None for t in a.trials if t.iteration > 0)


def test_pseudo_labels_change_the_weak_predictor(nb201):
    """With pseudo-labels the rounds' predictions differ from the plain weak predictor's (same
    seed, same first sample), and the search is charged the same budget."""
    plain = run_search(make_strategy("weaknas", "nb201", predictor="gbdt"), nb201, 40, seed=2)
    semi = run_search(make_strategy("weaknas", "nb201", predictor="gbdt", pseudo_labels=500),
                      nb201, 40, seed=2)
    assert [t.arch_id for t in plain.trials[:10]] == [t.arch_id for t in semi.trials[:10]]
    first = [t.predicted for t in plain.trials if t.iteration == 1]
    first_semi = [t.predicted for t in semi.trials if t.iteration == 1]
    assert not np.allclose(first, first_semi)
    assert len(semi.trials) == 40


def test_unknown_predictor_is_refused():
    from seminas.errors import SeminasError

    with pytest.raises(SeminasError, match="gnn"):
        make_strategy("weaknas", "nb201", predictor="gnn")
