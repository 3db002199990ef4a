"""Every strategy: exact budget, determinism per seed, better than the median on NAS-Bench-201."""

import json

import numpy as np
import pytest

from seminas.benchmarks.nb101_synthetic import synthetic_specs, write_synthetic_nb101
from seminas.cli import main
from seminas.strategies import make_strategy, run_search

TINY = {
    "initial": 20,
    "per_iteration": 10,
    "unlabeled": 200,
    "pretrain_epochs": 20,
    "epochs": 2,
    "top_k": 20,
}
TINY_NAO = {k: v for k, v in TINY.items() if k != "unlabeled"}


def tiny(name):
    return {"seminas": TINY, "nao": TINY_NAO}.get(name, {})


@pytest.mark.parametrize("name", ["seminas", "nao", "re", "rs"])
@pytest.mark.parametrize("budget", [7, 43])
def test_budget_is_exact(nb201, name, budget):
    result = run_search(make_strategy(name, **tiny(name)), nb201, budget, seed=1)
    assert len(result.trials) == budget
    ids = [t.arch_id for t in result.trials]
    assert len(set(ids)) == budget, "a query was spent on an architecture seen before"
    assert len(result.trajectory()) == budget


@pytest.mark.parametrize("name", ["seminas", "nao", "re", "rs"])
def test_same_seed_same_trajectory(nb201, name):
    a = run_search(make_strategy(name, **tiny(name)), nb201, 40, seed=5)
    b = run_search(make_strategy(name, **tiny(name)), nb201, 40, seed=5)
    c = run_search(make_strategy(name, **tiny(name)), nb201, 40, seed=6)
    assert [t.arch_id for t in a.trials] == [t.arch_id for t in b.trials]
    assert a.trajectory() == b.trajectory()
    assert [t.arch_id for t in a.trials] != [t.arch_id for t in c.trials]


def test_trajectory_is_best_so_far(nb201):
    result = run_search(make_strategy("rs"), nb201, 50, seed=0)
    traj = result.trajectory()
    best = -1.0
    for trial, (s, _r) in zip(result.trials, traj, strict=True):
        best = max(best, trial.search_metric)
        assert s == best
    assert result.best.search_metric == traj[-1][0]
    assert result.best.report_metric == traj[-1][1]


def test_seminas_beats_the_median_of_the_space(nb201):
    median = float(np.median(nb201.report))
    cfg = {**TINY, "initial": 30, "per_iteration": 20, "unlabeled": 1000, "pretrain_epochs": 60}
    result = run_search(make_strategy("seminas", **cfg), nb201, 100, seed=0)
    assert result.best.report_metric > median
    iters = result.diagnostics["iterations"]
    assert len(iters) >= 3 and all(d["new"] > 0 for d in iters)
    assert iters[0]["labeled"] == 30


def test_nao_takes_no_pseudo_labels():
    with pytest.raises(Exception, match="NAO uses no pseudo-labels"):
        make_strategy("nao", unlabeled=10)
    assert make_strategy("nao").config.unlabeled == 0


def test_paper_preset_is_the_paper_schedule():
    cfg = make_strategy("seminas", "paper-nb101").config
    assert (cfg.initial, cfg.per_iteration, cfg.unlabeled) == (1100, 300, 10000)
    assert (cfg.pretrain_epochs, cfg.epochs, cfg.top_k, cfg.upsample) == (1000, 500, 100, 10)
    assert 1100 + 3 * 300 == 2000


def test_paper_nb201_preset_keeps_the_paper_training_schedule():
    paper = make_strategy("seminas", "paper-nb101").config
    cfg = make_strategy("seminas", "paper-nb201").config
    for key in ("unlabeled", "upsample", "pretrain_epochs", "epochs", "top_k", "batch_size",
                "lr", "trade_off", "max_step"):
        assert getattr(cfg, key) == getattr(paper, key), key
    assert (cfg.initial, cfg.per_iteration) == (100, 100)  # 300 queries = two iterations


def test_default_presets_are_the_fast_ones():
    from seminas.strategies import default_preset, resolve_preset

    assert default_preset("seminas", "nb201") == "fast-nb201"
    assert default_preset("nao", "nb101") == "fast-nb101"
    assert default_preset("re", "nb201") == "nb201"
    assert default_preset("rs", "nb201") is None
    assert resolve_preset("seminas", "fast", "nb101") == "fast-nb101"
    assert resolve_preset("seminas", "paper-nb101", "nb201") == "paper-nb101"
    assert resolve_preset("re", "fast", "nb201") == "nb201"  # RE has no fast preset
    assert make_strategy("seminas", "fast").config == make_strategy("seminas", "fast-nb201").config
    assert make_strategy("nao", "fast").config.unlabeled == 0


def test_nb101_search_end_to_end_on_a_synthetic_official_file(tmp_path, capsys):
    """The whole NB101 path: official tfrecord format -> cache -> space -> SemiNAS -> result."""
    path = tmp_path / "nasbench_only108.tfrecord"
    write_synthetic_nb101(path, synthetic_specs(300, seed=0), seed=0)
    argv = ["search", "--space", "nb101", "--nb101-file", str(path), "--strategy", "seminas",
            "--preset", "paper-nb101", "--budget", "60", "--seed", "3", "--json", "--quiet"]
    for key, value in {**TINY, "initial": 30, "unlabeled": 100}.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["num_queries"] == 60
    assert len({t["arch_id"] for t in data["trials"]}) == 60
    assert data["best"]["report_metric"] is not None
    assert set(data["best"]["arch"]) == {"matrix", "ops"}


@pytest.mark.parametrize("name", ["re", "rs"])
def test_baselines_on_a_partial_nb101_table(tmp_path, name):
    """Mutations that leave a partial table are redrawn, never charged or crashed on."""
    from seminas.benchmarks.factory import make_evaluator

    path = tmp_path / "nasbench_only108.tfrecord"
    write_synthetic_nb101(path, synthetic_specs(120, seed=1), seed=1)
    bench = make_evaluator("nb101", nb101_file=path)
    result = run_search(make_strategy(name, "nb101" if name == "re" else None), bench, 80, seed=0)
    assert len({t.arch_id for t in result.trials}) == 80


def test_cli_search_runs_the_fast_preset_by_default(capsys):
    argv = ["search", "--space", "nb201", "--budget", "60", "--seed", "0", "--json", "--quiet"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    fast = make_strategy("seminas", "fast").config
    assert data["config"]["epochs"] == fast.epochs == 2
    assert data["config"]["pretrain_epochs"] == fast.pretrain_epochs
    assert data["num_queries"] == 60


def test_fast_preset_first_iteration_is_the_nb201_one(nb201):
    """`fast` keeps the first iteration's training (10 epochs) and cuts only later ones."""
    fast = run_search(make_strategy("seminas", "fast"), nb201, 100, seed=3)
    full = run_search(make_strategy("seminas", "nb201"), nb201, 100, seed=3)
    assert [t.arch_id for t in fast.trials] == [t.arch_id for t in full.trials]
    assert make_strategy("seminas", "fast").config.epochs == 2


def test_pseudo_label_quality_is_measured_by_the_harness_not_the_strategy(nb201):
    """The strategy only records its predictions; the truth is looked up after the last query,
    so no table answer can reach the search."""
    from seminas.benchmarks.nb201 import NB201Benchmark

    class Watched(NB201Benchmark):
        lookups_during_search = 0
        evaluating = False

        def evaluate(self, arch, query=None):
            self.evaluating = True  # a charged query looks its record up: that is allowed
            try:
                return super().evaluate(arch, query=query)
            finally:
                self.evaluating = False

        def lookup(self, arch):
            if not self.evaluating and self.num_queries < 40:  # a free look during the search
                type(self).lookups_during_search += 1
            return super().lookup(arch)

    bench = Watched("cifar10")
    strategy = make_strategy("seminas", **{**TINY, "diagnose": True})
    result = run_search(strategy, bench, budget=40, seed=0)
    taus = [d["pseudo_label_tau"] for d in result.diagnostics["iterations"]]
    assert len(taus) == 2 and all(isinstance(t, float) and -1 <= t <= 1 for t in taus)
    assert Watched.lookups_during_search == 0
    plain = run_search(make_strategy("seminas", **{**TINY, "diagnose": True}), nb201, 40, 0)
    assert [t.arch_id for t in plain.trials] == [t.arch_id for t in result.trials]
