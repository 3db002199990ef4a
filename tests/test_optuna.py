"""SemiNAS and its peers as an Optuna sampler (seminas.integrations.optuna).

The central check: a search run through Optuna proposes exactly the configurations that
``run_search`` proposes for the same strategy, seed and outcomes -- sequentially, with
``n_jobs=2``, from two processes sharing a storage, and after the search is replayed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import CategoricalDistribution, IntDistribution  # noqa: E402

from seminas.benchmarks.base import Evaluator, Record  # noqa: E402
from seminas.errors import InvalidArchitectureError, SeminasError  # noqa: E402
from seminas.integrations.optuna import (  # noqa: E402
    SamplerWarning,
    SemiNASSampler,
    nb201_objective,
    space_from_distributions,
)
from seminas.predictors.catalog import catalog_for  # noqa: E402
from seminas.predictors.encoding import features, nb201_features  # noqa: E402
from seminas.spaces.categorical import CategoricalArch, CategoricalSpace, Parameter  # noqa: E402
from seminas.spaces.nb201 import EDGES, OPS, NB201Space  # noqa: E402
from seminas.strategies import make_strategy, run_search, strategy_names  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[1]
THREAD = "seminas-optuna-search"

# Small settings so that every strategy proposes several batches within 40 trials.
CONTROLLER = {
    "pretrain_epochs": 5,
    "first_epochs": 2,
    "epochs": 2,
    "top_k": 10,
    "max_step": 5,
    "step_chunk": 5,
    "batch_size": 100,
    "embedding_size": 16,
    "hidden_size": 16,
    "mlp_hidden": 8,
}
SMALL = {
    "seminas": {"initial": 10, "per_iteration": 10, "unlabeled": 100, **CONTROLLER},
    "nao": {"initial": 10, "per_iteration": 10, **CONTROLLER},
    "gbdt": {"initial": 10, "per_iteration": 10, "num_boost_round": 20},
    "semi-gbdt": {"initial": 10, "per_iteration": 10, "num_boost_round": 20, "unlabeled": 100},
    "weaknas": {
        "initial": 10,
        "per_iteration": 10,
        "top_m": 20,
        "mlp_hidden": (16, 16),
        "mlp_epochs": 5,
    },
    "re": {"population_size": 6, "tournament_size": 2},
    "rs": {},
}

# -- a toy objective: four categorical and one integer parameter (10,368 configurations) -------
LETTERS = ("p", "q", "r", "s", "t", "u")
TOY_NAMES = ("a", "b", "c", "d")
TOY_SPACE = {
    **{n: CategoricalDistribution(LETTERS) for n in TOY_NAMES},
    "n": IntDistribution(1, 8),
}


def toy_value(values: dict) -> float:
    score = 0.0
    for k, name in enumerate(TOY_NAMES):
        score += ((LETTERS.index(values[name]) * (k + 2)) % 6) * (1.0 + 0.1 * k)
    return score - 0.3 * (values["n"] - 5) ** 2


def toy_objective(trial) -> float:
    values = {n: trial.suggest_categorical(n, LETTERS) for n in TOY_NAMES}
    values["n"] = trial.suggest_int("n", 1, 8)
    return toy_value(values)


class ToyEvaluator(Evaluator):
    """The toy objective as a seminas evaluator over the same categorical space."""

    def __init__(self) -> None:
        super().__init__()
        self.space = space_from_distributions(TOY_SPACE)[0]

    def _evaluate(self, arch):
        return Record(self.space.arch_id(arch), toy_value(self.space.values(arch)), None)


def sampler(strategy: str = "re", **kw) -> SemiNASSampler:
    opts = {**SMALL[strategy], **kw.pop("options", {})}
    return SemiNASSampler(strategy, **{"seed": 0, **kw}, **opts)


def search_params(study, names=None) -> list[dict]:
    out = []
    for t in study.trials:
        keys = names if names is not None else sorted(t.params)
        out.append({k: t.params[k] for k in keys if k in t.params})
    return out


def search_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_thread_leaks():
    """Every test closes its samplers: no search thread may outlive it."""
    yield
    deadline = time.monotonic() + 10
    while search_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not search_threads()


# -- the categorical space ---------------------------------------------------------------------
def test_categorical_space_tokens_features_and_catalog():
    space = CategoricalSpace(
        [
            Parameter("act", ("relu", "gelu", "tanh")),
            Parameter("act2", ("relu", "gelu", "tanh")),
            Parameter.integer("width", 16, 64, step=16),
            Parameter.integer("depth", 1, 8, log=True),
            Parameter("flag", (True, False)),
        ]
    )
    assert space.size == 3 * 3 * 4 * 8 * 2
    # identical value lists share a token block; the start token 0 is never allowed
    assert space.vocab_size == 1 + 3 + 4 + 8 + 2
    mask = space.token_mask()
    assert not mask[:, 0].any()
    assert (mask[0] == mask[1]).all() and mask.sum(axis=1).tolist() == [3, 3, 4, 8, 2]
    rng = np.random.default_rng(0)
    archs = space.sample(200, rng)
    assert len({space.arch_id(a) for a in archs}) == 200
    for arch in archs:
        assert space.decode(space.encode(arch)) == arch
        assert space.from_native(space.to_native(arch)) == arch
        assert space.from_code(space.code(arch)) == arch
        assert all(mask[i, t] for i, t in enumerate(space.encode(arch)))
    assert space.validate(
        {"act": "gelu", "act2": "relu", "width": 48, "depth": 2, "flag": False}
    ).indices == (1, 0, 2, 1, 1)
    with pytest.raises(InvalidArchitectureError, match="not a value of parameter 'width'"):
        space.validate({"act": "gelu", "act2": "relu", "width": 40, "depth": 2, "flag": False})
    with pytest.raises(InvalidArchitectureError, match="1 is not a value of parameter 'flag'"):
        space.validate(["relu", "relu", 16, 1, 1])  # True is not 1
    with pytest.raises(InvalidArchitectureError, match="not a value of parameter 'act2'"):
        space.decode([1, 7, 7, 11, 16])
    neighbours = space.neighbours(archs[0])
    assert len(neighbours) == sum(len(p) - 1 for p in space.parameters)
    # features: one-hot categoricals, integers scaled to [0, 1] (log scale for depth)
    row = space.predictor_features([space.validate(["tanh", "relu", 64, 8, False])])[0]
    assert row.tolist() == [0, 0, 1, 1, 0, 0, 1.0, 1.0, 0, 1]
    mid = space.predictor_features([space.validate(["tanh", "relu", 32, 2, False])])[0]
    assert mid[6] == pytest.approx(1 / 3) and mid[7] == pytest.approx(np.log(2) / np.log(8))
    assert np.array_equal(features(space, archs), space.predictor_features(archs))
    catalog = catalog_for(space)
    assert catalog is not None and len(catalog) == space.size
    idx = catalog.indices([space.arch_id(a) for a in archs[:20]] + ["not-an-id"])
    assert [catalog.arch(i) for i in idx] == archs[:20]
    assert np.array_equal(catalog.features[idx], space.predictor_features(archs[:20]))
    with pytest.raises(SeminasError, match="used twice"):
        CategoricalSpace([Parameter("x", (1, 2)), Parameter("x", (3, 4))])
    with pytest.raises(SeminasError, match="lists the value 'a' twice"):
        Parameter("y", ("a", "b", "a"))


def test_nb201_written_as_categorical_parameters_is_the_nb201_space():
    """Six edges choosing from the five operations: the same tokens, mask, features, catalog
    order and random draws as seminas's own NAS-Bench-201 space."""
    names = [f"{t}<-{s}" for s, t in EDGES]
    space, _ = space_from_distributions({n: CategoricalDistribution(OPS) for n in names})
    native = NB201Space()
    assert list(space.names) == names  # sorted names are the edge order
    assert (space.seq_len, space.vocab_size) == (native.seq_len, native.vocab_size)
    assert np.array_equal(space.token_mask(), native.token_mask())
    ours = space.sample(50, np.random.default_rng(7))
    theirs = native.sample(50, np.random.default_rng(7))
    assert [tuple(space.values(a).values()) for a in ours] == [a.ops for a in theirs]
    assert [space.encode(a) for a in ours] == [native.encode(a) for a in theirs]
    assert np.array_equal(space.predictor_features(ours), nb201_features(theirs))
    dense_ours = space.sample(5000, np.random.default_rng(3))  # the permutation path
    dense_theirs = native.sample(5000, np.random.default_rng(3))
    assert [tuple(space.values(a).values()) for a in dense_ours] == [a.ops for a in dense_theirs]
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert space.values(space.mutate(ours[0], rng_a)) == dict(
        zip(names, native.mutate(theirs[0], rng_b).ops, strict=True)
    )
    cat = catalog_for(space)
    assert np.array_equal(cat.features, catalog_for(native).features)


# -- exactness: the sampler proposes what run_search proposes -------------------------------------
@pytest.mark.parametrize("strategy", sorted(SMALL))
def test_every_strategy_through_the_adapter_matches_run_search(strategy):
    """Each peer (and SemiNAS) runs through the adapter exactly as in seminas itself."""
    assert strategy in strategy_names()
    budget = 30
    reference = run_search(
        make_strategy(strategy, None, **SMALL[strategy]), ToyEvaluator(), budget, seed=3
    )
    with sampler(strategy, seed=3, preset=None, search_space=TOY_SPACE, budget=budget) as s:
        study = optuna.create_study(direction="maximize", sampler=s)
        with pytest.warns(SamplerWarning, match="spent its budget of 30"):
            study.optimize(toy_objective, n_trials=budget + 2)
        labels = s.search_labels(study)
    params = search_params(study, list(TOY_SPACE))
    assert params[:budget] == [t.arch for t in reference.trials]
    assert [labels[n] for n in range(budget)] == [t.search_metric for t in reference.trials]
    assert all(study.trials[n].system_attrs["seminas:query"] == n for n in range(budget))
    assert "seminas:query" not in study.trials[budget].system_attrs  # sampled independently


@pytest.mark.parametrize("strategy", ["seminas", "weaknas"])
def test_nb201_objective_reproduces_the_native_search(nb201, strategy):
    """NAS-Bench-201 as an Optuna objective (six categorical parameters), minimised as an
    error: the trials are exactly those of seminas's own search on the NAS-Bench-201 space."""
    budget = 30
    reference = run_search(make_strategy(strategy, None, **SMALL[strategy]), nb201, budget, seed=1)
    objective = nb201_objective(nb201)
    names = [f"{t}<-{s}" for s, t in EDGES]

    def error(trial):
        return 100.0 - objective(trial)

    space = {n: CategoricalDistribution(OPS) for n in names}
    with sampler(strategy, seed=1, preset=None, search_space=space, budget=budget) as s:
        study = optuna.create_study(direction="minimize", sampler=s)
        study.optimize(error, n_trials=budget)
    ops = [tuple(t.params[n] for n in names) for t in study.trials]
    assert ops == [nb201.space.validate(t.arch).ops for t in reference.trials]
    best = min(study.trials, key=lambda t: t.value)
    assert best.user_attrs["test_accuracy"] == reference.best.report_metric


def test_inferred_space_and_determinism_with_a_seed():
    """No space given: trial 0 discovers it, the search starts at trial 1; the same seed gives
    the same trials, another seed other ones; every value is one of the objective's."""

    def run(seed):
        with sampler("seminas", seed=seed, preset=None) as s:
            study = optuna.create_study(direction="maximize", sampler=s)
            study.optimize(toy_objective, n_trials=35)
            diag = s.search_diagnostics(study)
        return study, diag

    first, diag = run(0)
    again, _ = run(0)
    other, _ = run(1)
    assert diag["start"] == 1 and [p["name"] for p in diag["space"]] == ["a", "b", "c", "d", "n"]
    assert search_params(first) == search_params(again)
    assert search_params(first) != search_params(other)
    for t in first.trials:
        assert all(t.params[n] in LETTERS for n in TOY_NAMES) and 1 <= t.params["n"] <= 8
    assert "seminas:query" not in first.trials[0].system_attrs
    assert [t.system_attrs["seminas:query"] for t in first.trials[1:]] == list(range(34))
    assert len({tuple(sorted(p.items())) for p in search_params(first)}) == 35  # no duplicates


# -- failed and pruned trials ------------------------------------------------------------------
def test_failed_trials_are_no_labels_and_never_proposed_again():
    def flaky(trial):
        value = toy_objective(trial)
        if trial.params["b"] == "q":
            raise ValueError("this configuration crashes")
        return value

    with sampler("gbdt", search_space=TOY_SPACE) as s:
        study = optuna.create_study(direction="maximize", sampler=s)
        study.optimize(flaky, n_trials=40, catch=(ValueError,))
        labels = s.search_labels(study)
        diag = s.search_diagnostics(study)
    failed = [t.number for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(labels[n] is None for n in failed)
    assert all(labels[t.number] == t.value for t in study.trials if t.number not in failed)
    assert len({tuple(sorted(p.items())) for p in search_params(study)}) == 40
    assert not diag["finished"] and diag["proposed"] >= 40  # the search went on


@pytest.mark.parametrize("policy", ["last", "fail"])
def test_pruned_trials_follow_the_policy(policy):
    def objective(trial):
        value = toy_objective(trial)
        if trial.params["a"] == "p":
            trial.report(value - 5.0, step=0)
            trial.report(value - 1.0, step=1)
            raise optuna.TrialPruned()
        if trial.params["a"] == "q":
            raise optuna.TrialPruned()  # pruned before reporting anything
        return value

    with sampler("re", search_space=TOY_SPACE, pruned=policy) as s:
        study = optuna.create_study(direction="maximize", sampler=s)
        study.optimize(objective, n_trials=30)
        labels = s.search_labels(study)
    reported = [t for t in study.trials if t.params["a"] == "p"]
    silent = [t for t in study.trials if t.params["a"] == "q"]
    assert reported and silent
    for t in reported:
        assert t.state == optuna.trial.TrialState.PRUNED
        expected = t.intermediate_values[1] if policy == "last" else None
        assert labels[t.number] == expected
    assert all(labels[t.number] is None for t in silent)


# -- parallel trials ----------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["re", "seminas"])
def test_n_jobs_2_gives_the_sequential_trials(strategy):
    """With two threads, every trial number gets the configuration it gets sequentially."""
    runs = []
    for n_jobs in (1, 2):
        with sampler(strategy, parallelism=2) as s:
            study = optuna.create_study(direction="maximize", sampler=s)
            study.optimize(toy_objective, n_trials=30, n_jobs=n_jobs)
        runs.append(study)
    assert search_params(runs[0]) == search_params(runs[1])
    assert len({tuple(sorted(p.items())) for p in search_params(runs[1])}) == 30


WORKER = """
import sys
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from seminas.integrations.optuna import SemiNASSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
LETTERS = ("p", "q", "r", "s", "t", "u")
{toy}

def objective(trial):
    values = {{n: trial.suggest_categorical(n, LETTERS) for n in ("a", "b", "c", "d")}}
    values["n"] = trial.suggest_int("n", 1, 8)
    return toy_value(values)

def main(path, n_trials):
    storage = JournalStorage(JournalFileBackend(path))
    with SemiNASSampler("re", seed=5, parallelism=2, population_size=6,
                        tournament_size=2) as sampler:
        study = optuna.load_study(study_name="shared", storage=storage, sampler=sampler)
        study.optimize(objective, n_trials=n_trials)

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
"""


def test_two_processes_sharing_a_storage_hand_out_each_query_once(tmp_path):
    import inspect

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    toy = textwrap.dedent(inspect.getsource(toy_value)).replace("TOY_NAMES", '("a","b","c","d")')
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(toy=toy))
    path = str(tmp_path / "journal.log")
    storage = JournalStorage(JournalFileBackend(path))
    optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), path, "15"],
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    shared = optuna.load_study(
        study_name="shared", storage=JournalStorage(JournalFileBackend(path))
    )
    assert len(shared.trials) == 30
    with SemiNASSampler("re", seed=5, parallelism=2, population_size=6, tournament_size=2) as s:
        alone = optuna.create_study(direction="maximize", sampler=s)
        alone.optimize(toy_objective, n_trials=30)
    assert search_params(shared) == search_params(alone)
    attrs = shared._storage.get_study_system_attrs(shared._study_id)
    assert attrs["seminas:sampler"]["seed"] == 5


def test_ask_and_tell_never_deadlocks(recwarn):
    """Outside optimize a trial never waits for trials that are not told yet: it is sampled
    independently, and its query counts as a failure (unless it happened to match)."""
    with sampler("rs", search_space=TOY_SPACE, options={"batch_size": 2}) as s:
        study = optuna.create_study(direction="maximize", sampler=s)
        asked = [study.ask(TOY_SPACE) for _ in range(3)]  # queries 0, 1 ready; 2 needs 0 and 1
        assert [
            t.system_attrs.get("seminas:query")
            for t in [study._storage.get_trial(a._trial_id) for a in asked]
        ] == [0, 1, None]
        assert any("not told yet" in str(w.message) for w in recwarn.list)
        for trial in asked:
            study.tell(trial, toy_objective(trial))
        later = []
        for _ in range(2):  # query 3 (batch 2, ready), then query 4 (batch 3: needs 2 and 3)
            later.append(study.ask(TOY_SPACE))
            study.tell(later[-1], toy_objective(later[-1]))
        labels = s.search_labels(study)
    queries = [study._storage.get_trial(t._trial_id).system_attrs["seminas:query"] for t in later]
    assert queries == [3, 4]
    assert labels[0] is not None and labels[1] is not None and labels[3] is not None
    assert labels[2] is None  # trial 2 ran other values than query 2


# -- mixed spaces ------------------------------------------------------------------------------
def test_float_parameters_fall_back_to_independent_sampling():
    def mixed(trial):
        x = trial.suggest_categorical("x", ["a", "b", "c", "d", "e"])
        n = trial.suggest_int("n", 0, 20)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return -abs(np.log10(lr) + 2) - abs(n - 7) - "abcde".index(x)

    runs = []
    for _ in range(2):
        with sampler("re") as s:
            study = optuna.create_study(direction="maximize", sampler=s)
            study.optimize(mixed, n_trials=25)
            diag = s.search_diagnostics(study)
        runs.append(study)
    assert [p["name"] for p in diag["space"]] == ["n", "x"]  # no float in the search's space
    lrs = [t.params["lr"] for t in runs[0].trials]
    assert all(1e-4 <= v <= 1e-1 for v in lrs) and len(set(lrs)) == 25
    assert lrs == [t.params["lr"] for t in runs[1].trials]  # derived from the seed: repeatable
    assert all("seminas:query" in t.system_attrs for t in runs[0].trials[1:])


def test_objective_without_discrete_parameters_is_sampled_independently():
    with sampler("rs") as s:
        study = optuna.create_study(sampler=s)
        with pytest.warns(SamplerWarning, match="no categorical or integer parameter"):
            study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=5)
    assert len({t.params["x"] for t in study.trials}) == 5


# -- studies shared over time: settings, resume, replay, threads ---------------------------------
def test_other_settings_on_the_same_study_are_refused():
    storage = optuna.storages.InMemoryStorage()
    with sampler("re") as s:
        study = optuna.create_study(
            storage=storage, study_name="x", sampler=s, direction="maximize"
        )
        study.optimize(toy_objective, n_trials=3)
    with sampler("re", seed=1) as other:
        resumed = optuna.load_study(study_name="x", storage=storage, sampler=other)
        with pytest.raises(SeminasError, match="seed differ"):
            resumed.optimize(toy_objective, n_trials=1)


def test_resume_replays_the_search_exactly_and_threads_end():
    with sampler("seminas") as s:
        whole = optuna.create_study(direction="maximize", sampler=s)
        whole.optimize(toy_objective, n_trials=45)
    storage = optuna.storages.InMemoryStorage()
    first = sampler("seminas", idle_timeout=0.5)
    study = optuna.create_study(
        storage=storage, study_name="r", sampler=first, direction="maximize"
    )
    study.optimize(toy_objective, n_trials=15)
    assert search_threads()
    deadline = time.monotonic() + 10
    while search_threads() and time.monotonic() < deadline:  # idle: the thread ends by itself
        time.sleep(0.1)
    assert not search_threads()
    study.optimize(toy_objective, n_trials=10)  # the same sampler replays its search
    first.close()
    with sampler("seminas", seed=None) as second:  # a new session adopts the study's seed
        resumed = optuna.load_study(study_name="r", storage=storage, sampler=second)
        resumed.optimize(toy_objective, n_trials=20)
    assert search_params(resumed) == search_params(whole)


# -- the documented example ---------------------------------------------------------------------
def test_the_example_in_docs_optuna_md_runs():
    text = (ROOT / "docs" / "optuna.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/optuna.md has no python example"
    namespace: dict = {"__name__": "docs_example"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        exec(compile(blocks[0], "docs/optuna.md", "exec"), namespace)
    study = namespace["study"]
    assert len(study.trials) == namespace["N_TRIALS"]
    assert study.best_value == max(t.value for t in study.trials)
    namespace["sampler"].close()


def test_bad_settings_are_one_line_errors():
    with pytest.raises(SeminasError, match="unknown strategy 'nope'"):
        SemiNASSampler("nope")
    with pytest.raises(SeminasError, match="pruned must be one of last, fail"):
        SemiNASSampler("rs", pruned="skip")
    with pytest.raises(SeminasError, match="initial"):
        SemiNASSampler("seminas", initial=0)
    with pytest.raises(SeminasError, match="no categorical or integer parameter"):
        SemiNASSampler("rs", search_space={"x": optuna.distributions.FloatDistribution(0, 1)})
    with pytest.raises(SeminasError, match="single-objective"):
        study = optuna.create_study(
            directions=["maximize", "minimize"], sampler=SemiNASSampler("rs", seed=0)
        )
        study.optimize(lambda t: (t.suggest_int("n", 0, 3), 0.0), n_trials=1)


def test_categorical_arch_is_hashable_and_validated():
    space = CategoricalSpace.from_choices({"k": [3, 5, 7], "n": range(1, 4)})
    assert space.parameters[1].kind == "int"
    arch = space.validate(CategoricalArch((2, 0)))
    assert {arch: 1}[CategoricalArch((2, 0))] == 1
    with pytest.raises(InvalidArchitectureError, match="out of range"):
        space.validate(CategoricalArch((3, 0)))
