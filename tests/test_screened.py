"""The predictor-screened searches (predictor-ls, semi-predictor-ls, predictor-re): exact budget,
determinism per seed, moves that really are one edit, restarts away from local optima, and
pseudo-labels that never touch an evaluated cell -- on the real NAS-Bench-201 table."""

import numpy as np
import pytest

from seminas.strategies import make_strategy, run_search
from seminas.strategies.screened import _distance

SCREENED = ["predictor-ls", "semi-predictor-ls", "predictor-re"]
QUICK = {"semi-predictor-ls": {"pseudo_labels": 200}}


def quick(name, **extra):
    return make_strategy(name, "nb201", **{**QUICK.get(name, {}), **extra})


@pytest.mark.parametrize("name", SCREENED)
def test_a_20_query_search_is_exact_and_deterministic(nb201, name):
    a = run_search(quick(name), nb201, 20, seed=3)
    b = run_search(quick(name), nb201, 20, seed=3)
    c = run_search(quick(name), nb201, 20, seed=4)
    assert len(a.trials) == 20 and len({t.arch_id for t in a.trials}) == 20
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials
    ]
    assert [t.arch_id for t in a.trials] != [t.arch_id for t in c.trials]
    assert all(t.predicted is not None for t in a.trials if t.iteration > 0)


@pytest.mark.parametrize("name", SCREENED)
def test_a_short_run_beats_the_90th_percentile(nb201, name):
    result = run_search(quick(name), nb201, 60, seed=0)
    assert len({t.arch_id for t in result.trials}) == 60
    assert result.best.search_metric > float(np.quantile(nb201.search, 0.9))


def test_local_moves_are_one_edit_from_the_local_search_best(nb201):
    """Outside restarts, every proposal is a neighbour of the best cell of its local search."""
    space = nb201.space
    result = run_search(quick("predictor-ls"), nb201, 80, seed=1)
    restarts = {d["iteration"] for d in result.diagnostics["iterations"] if d["restart"]}
    trials = result.trials
    for i, t in enumerate(trials):
        if t.iteration == 0 or t.iteration in restarts:
            continue
        earlier = [s for s in trials[:i] if s.iteration < t.iteration]
        ops = space.from_native(t.arch).ops
        edits = [sum(a != b for a, b in zip(ops, space.from_native(s.arch).ops, strict=True))
                 for s in earlier]
        assert 1 in edits


def test_restarts_keep_away_from_local_optima(nb201):
    """A long run on a small budget per round must restart; each restart cell is at least
    ``restart_distance`` edits from every cell the search had stopped at before."""
    result = run_search(quick("predictor-ls", initial=5), nb201, 300, seed=2)
    info = result.diagnostics["iterations"]
    assert any(d["restart"] for d in info)
    assert [d["local_optima"] for d in info] == sorted(d["local_optima"] for d in info)


def test_distance_counts_changed_positions():
    a = np.array([[1, 0, 0, 1]], dtype=np.float32)  # two positions, one-hot of width 2
    rows = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 1, 1, 0]], dtype=np.float32)
    assert _distance(rows, a).tolist() == [0.0, 1.0, 2.0]


def test_pseudo_labels_never_cover_an_evaluated_cell(nb201, monkeypatch):
    """The student is fitted on labeled rows x upsample plus pseudo-labeled rows, and no
    pseudo-labeled row is an evaluated cell (the wrapper sees features only)."""
    from seminas.predictors.gbdt import GBDTPredictor

    fits = []
    original = GBDTPredictor.fit

    def spy(self, X, y):
        fits.append(np.asarray(X).copy())
        return original(self, X, y)

    monkeypatch.setattr(GBDTPredictor, "fit", spy)
    strategy = quick("semi-predictor-ls", pseudo_labels=150, upsample=3)
    run_search(strategy, nb201, 25, seed=0)
    assert len(fits) >= 4
    for teacher, student in zip(fits[0::2], fits[1::2], strict=True):
        labeled = {tuple(r) for r in teacher}
        assert np.array_equal(student[: 3 * len(teacher)], np.tile(teacher, (3, 1)))
        pseudo = student[3 * len(teacher):]
        assert len(pseudo) == 150
        assert not ({tuple(r) for r in pseudo} & labeled)


def test_evolution_tournament_cannot_exceed_population():
    with pytest.raises(Exception, match="tournament_size"):
        make_strategy("predictor-re", population_size=3, tournament_size=5)


# -- the training-free score filter ----------------------------------------------------------------
def _score_file(tmp_path, score):
    """A score file over every NAS-Bench-201 index (larger = better)."""
    path = tmp_path / "scores.npz"
    np.savez(path, index=np.arange(15625), synflow=np.asarray(score, dtype=np.float64),
             other=np.zeros(15625))
    return path


def _official_index(nb201):
    from seminas.benchmarks.nb201_table import load_embedded

    space = nb201.space
    strings = load_embedded().arch_strings()
    return {space.arch_id(space.validate(s)): i for i, s in enumerate(strings)}


@pytest.mark.parametrize("name", SCREENED)
def test_the_score_filter_keeps_every_evaluation_inside_the_kept_share(nb201, tmp_path, name):
    """Score = minus the official index, keep 10%: every query (first random cells, moves and
    restarts) must be one of the 1,563 lowest indices; exact budget, deterministic, no query
    spent on reading the file."""
    path = _score_file(tmp_path, -np.arange(15625.0))
    strategy = quick(name, score_filter=f"file:{path}#synflow", filter_keep=0.1, initial=5)
    nb201.reset_counts()
    a = run_search(strategy, nb201, 60, seed=7)
    assert nb201.num_queries == 60  # reading the score file charged nothing
    b = run_search(strategy, nb201, 60, seed=7)
    index = _official_index(nb201)
    assert len({t.arch_id for t in a.trials}) == 60
    assert max(index[t.arch_id] for t in a.trials) < 1563
    assert [t.arch_id for t in a.trials] == [t.arch_id for t in b.trials]
    assert a.diagnostics["score_filter"]["cells_allowed"] == 1563
    unfiltered = run_search(quick(name, initial=5), nb201, 60, seed=7)
    assert max(index[t.arch_id] for t in unfiltered.trials) >= 1563  # the filter did this


def test_cells_outside_the_score_file_are_kept(nb201, tmp_path):
    """The filter removes only what the file scores poorly: a file scoring 100 cells, keep 50%,
    removes 50 of them and leaves every other cell allowed."""
    from seminas.benchmarks.nb201_table import load_embedded
    from seminas.strategies.base import SearchContext
    from seminas.strategies.score_filter import ScoreFilter

    path = tmp_path / "part.npz"
    np.savez(path, index=np.arange(100), score=np.arange(100.0))
    filt = ScoreFilter(SearchContext(nb201.space, nb201, 10), f"file:{path}", 0.5)
    assert filt.kept == 15625 - 50
    strings = load_embedded().arch_strings()
    worst, best, unscored = (nb201.space.validate(strings[i]) for i in (0, 99, 5000))
    assert not filt.allows(worst) and filt.allows(best) and filt.allows(unscored)


@pytest.mark.parametrize("value,match", [
    ("file:/nonexistent/scores.npz#synflow", "does not exist"),
    ("synflow", "score_filter"),
])
def test_a_bad_score_filter_is_one_line(nb201, tmp_path, value, match):
    from seminas.errors import SeminasError

    with pytest.raises(SeminasError, match=match) as err:
        run_search(quick("predictor-ls", score_filter=value), nb201, 20, seed=0)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value,match", [
    ("file:/nonexistent/scores.npz#synflow", "does not exist"),
    ("synflow", "score_feature"),
])
def test_a_bad_score_feature_is_one_line(nb201, value, match):
    from seminas.errors import SeminasError

    with pytest.raises(SeminasError, match=match) as err:
        run_search(quick("predictor-ls", score_feature=value), nb201, 20, seed=0)
    assert "\n" not in str(err.value)


def _oracle_scores(nb201):
    """The table's own search metric by official index: a score that is the answer itself."""
    from seminas.benchmarks.nb201_table import load_embedded

    return np.array([nb201.lookup(s).search_metric for s in load_embedded().arch_strings()])


def test_the_score_column_is_the_cells_score_quantile(nb201, tmp_path):
    from seminas.benchmarks.nb201_table import load_embedded
    from seminas.strategies.base import SearchContext
    from seminas.strategies.score_feature import ScoreColumn

    path = tmp_path / "part.npz"
    np.savez(path, index=np.arange(101), score=np.arange(101.0)[::-1])
    column = ScoreColumn(SearchContext(nb201.space, nb201, 10), f"file:{path}")
    strings = load_embedded().arch_strings()
    first, last, unscored = (nb201.space.validate(strings[i]) for i in (0, 100, 5000))
    assert column.of_archs([first, last, unscored]).tolist() == [1.0, 0.0, 0.0]
    assert column.values.min() == 0.0 and column.values.max() == 1.0


@pytest.mark.parametrize("name", SCREENED)
def test_the_score_column_reaches_the_predictor(nb201, tmp_path, name):
    """With the answer itself as the score column, a predictor fitted on 30 cells ranks 2,000
    others nearly as the table does, far better than without it; a search with the column
    stays exact and deterministic, and reading the file charges nothing."""
    from scipy.stats import spearmanr

    from seminas.predictors.encoding import features
    from seminas.strategies.base import SearchContext
    from seminas.strategies.score_feature import make_column

    path = _score_file(tmp_path, _oracle_scores(nb201))
    spec = f"file:{path}#synflow"
    space = nb201.space
    rng = np.random.default_rng(0)
    train, held_out = space.sample(30, rng), space.sample(2000, rng)
    y = np.array([nb201.lookup(a).search_metric for a in train])
    truth = [nb201.lookup(a).search_metric for a in held_out]

    def rho(column):
        strategy = quick(name)
        ctx = SearchContext(space, nb201, 100)
        strategy._column = make_column(ctx, column)
        model = strategy._fit(ctx, np.random.default_rng(1), features(space, train), y, train)
        return spearmanr(strategy._predict(model, ctx, held_out), truth)[0]

    assert rho(spec) > 0.85 and rho(spec) > rho("none") + 0.1
    nb201.reset_counts()
    a = run_search(quick(name, score_feature=spec), nb201, 40, seed=5)
    assert nb201.num_queries == 40 and len({t.arch_id for t in a.trials}) == 40
    b = run_search(quick(name, score_feature=spec), nb201, 40, seed=5)
    assert [(t.arch_id, t.predicted) for t in a.trials] == [
        (t.arch_id, t.predicted) for t in b.trials]
