"""A plugin package, installed for real, through every command: search, query, bench, a study
killed mid-run and resumed -- with no change to seminas.

The package is ``tests/plugins/seminas_toy`` (a space, its table, an evaluator kind and a
strategy, declared as entry points). It is built and installed with pip into a scratch
directory that subprocesses get on ``PYTHONPATH``, so the project's environment is untouched;
``importlib.metadata`` finds its ``dist-info`` there like any installed distribution's.
The commands are those of ``docs/extending.md``, which embeds the package's files: a test
checks that the page and the files are the same, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from seminas import registry
from seminas.errors import SeminasError
from seminas.strategies import SearchContext, Strategy, run_search
from seminas.study import Study

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugins" / "seminas_toy"
DOC = ROOT / "docs" / "extending.md"

# The commands of docs/extending.md (checked to be there, verbatim); the tests append only
# output options (--json, --quiet).
SEARCH = "seminas search --space toy --strategy toy-hill --budget 30 --seed 0"
QUERY = "seminas query --space toy --arch conv5x5-conv3x3-conv5x5-skip"
BENCH = (
    "seminas bench --space toy --dataset rugged --strategies toy-hill,re,rs --budget 30 "
    "--seeds 0-1 --out toy-bench"
)
STUDY = (
    "seminas search --space toy --evaluator toy-sim --epochs 40 --strategy toy-hill "
    "--budget 60 --seed 5 --study toy.sqlite"
)
RESUME = "seminas resume toy.sqlite"
SHOW = "seminas show toy.sqlite"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plugin, built from a copy (the source tree gets no build files) and installed into
    a scratch directory with pip, offline and without touching the project's environment."""
    base = tmp_path_factory.mktemp("plugin")
    source = base / "src"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    target = base / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert list(target.glob("seminas_toy-*.dist-info/entry_points.txt"))
    return target


def _env(site: Path, *extra: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(p) for p in (site, *extra)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def seminas(site: Path, cwd: Path, command: str, *more: str, check: bool = True, extra=()):
    """Run one ``seminas ...`` command line the way a user does, in a fresh process."""
    argv = shlex.split(command)
    assert argv[0] == "seminas"
    proc = subprocess.run(
        [sys.executable, "-m", "seminas.cli", *argv[1:], *more],
        cwd=cwd,
        env=_env(site, *extra),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{command} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def python(site: Path, code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(site), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_doc_embeds_the_tested_package_and_commands() -> None:
    """docs/extending.md shows every file of the package, each exactly as tested, and the
    commands the tests below run."""
    doc = DOC.read_text()
    shown = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```\n", doc, flags=re.S))
    files = {
        str(p.relative_to(ROOT)): p.read_text()
        for p in PLUGIN.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
    }
    assert set(shown) == set(files)
    for path, text in files.items():
        assert shown[path] == text, f"docs/extending.md shows another {path}"
    for command in (SEARCH, QUERY, BENCH, STUDY, RESUME, SHOW):
        assert command in doc


def test_names_come_from_entry_points_and_stay_lazy(site: Path) -> None:
    out = python(
        site,
        (
            "import json, sys\n"
            "from seminas import registry\n"
            "names = [registry.space_names(), registry.strategy_names(),\n"
            "         registry.evaluator_names()]\n"
            "loaded = [m for m in sys.modules if m.startswith('seminas_toy.')]\n"
            "registry.strategy_class('rs')\n"
            "heavy = [m for m in ('torch', 'seminas.controller', 'seminas.strategies.seminas')\n"
            "         if m in sys.modules]\n"
            "print(json.dumps([names, loaded, heavy, registry.spaces.origin('toy')]))\n"
        ),
    )
    (spaces, strategies, evaluators), loaded, heavy, origin = json.loads(out)
    assert spaces == ["nb201", "nb101", "toy"]
    assert strategies[-1] == "toy-hill" and "rs" in strategies
    assert evaluators == ["table", "train", "toy-sim"]
    assert loaded == []  # listing names imports no plugin module ...
    assert heavy == []  # ... and `rs` no torch model
    assert origin == "seminas-toy 0.1.0"


def test_search_query_and_listing(site: Path, tmp_path: Path) -> None:
    result = json.loads(seminas(site, tmp_path, SEARCH, "--quiet", "--json").stdout)
    assert result["strategy"] == "toy-hill" and result["num_queries"] == 30
    assert result["config"] == {"initial": 4, "batch_size": 4}  # its `toy` preset
    assert result["evaluator"] == {"class": "ToyTable", "space": "toy", "dataset": "smooth"}
    assert len({t["arch_id"] for t in result["trials"]}) == 30
    best = result["best"]
    record = json.loads(seminas(site, tmp_path, QUERY).stdout)
    assert record["arch_id"] == "conv5x5-conv3x3-conv5x5-skip"
    if best["arch_id"] == record["arch_id"]:
        assert best["search_metric"] == record["search_metric"]
    listing = seminas(site, tmp_path, "seminas plugins").stdout
    assert re.search(r"toy-hill\s+seminas-toy 0\.1\.0", listing)
    bad = seminas(site, tmp_path, QUERY.replace("query", "query --dataset flat"), check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: unknown toy dataset 'flat': choose smooth or rugged"


def test_bench_runs_plugin_and_builtin_strategies(site: Path, tmp_path: Path) -> None:
    proc = seminas(site, tmp_path, BENCH, "--quiet", "--workers", "1")
    assert "6 runs (6 new, 0 already done)" in proc.stdout
    header, *lines = [
        json.loads(x) for x in (tmp_path / "toy-bench" / "results.jsonl").read_text().splitlines()
    ]
    assert header == {"seminas_results": 1, "kind": "bench"}
    assert sorted((ln["strategy"], ln["seed"]) for ln in lines) == [
        (s, seed) for s in ("re", "rs", "toy-hill") for seed in (0, 1)
    ]
    assert {ln["dataset"] for ln in lines} == {"rugged"}
    summary = json.loads((tmp_path / "toy-bench" / "summary.json").read_text())
    assert summary["space"] == "toy" and summary["optimum"]["arch_ids"]
    again = seminas(site, tmp_path, BENCH, "--quiet")  # nothing left to run
    assert "6 runs (0 new, 6 already done)" in again.stdout


def _kill_when_done(proc: subprocess.Popen, path: Path, trials: int) -> int:
    """SIGKILL ``proc`` once its study holds ``trials`` finished queries; return how many it
    held then (the study must not be complete)."""
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < trials:
        if path.exists():
            try:
                with Study.open(path) as study:
                    done = study.storage.counts()["done"]
            except SeminasError:  # created but not initialised yet
                done = 0
        time.sleep(0.05)
    assert proc.poll() is None, "the search ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Study.open(path) as study:
        assert not study.complete()
        return study.storage.counts()["done"]


def test_study_killed_mid_run_and_resumed_matches_an_uninterrupted_one(
    site: Path, tmp_path: Path
) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    argv = [sys.executable, "-m", "seminas.cli", *shlex.split(STUDY)[1:], "--quiet"]
    runs = {}
    for where in (whole, cut):  # both at once: the uninterrupted one, and one to kill
        where.mkdir()
        runs[where] = subprocess.Popen(
            argv + (["--json"] if where == whole else []),
            cwd=where,
            env=_env(site),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        at_kill = _kill_when_done(runs[cut], cut / "toy.sqlite", 15)
        out, err = runs[whole].communicate(timeout=300)
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert 15 <= at_kill < 60
    assert runs[whole].returncode == 0, err
    straight = json.loads(out)
    assert len(straight["trials"]) == 60

    resumed = json.loads(seminas(site, cut, RESUME, "--quiet", "--json").stdout)
    fields = ("number", "arch_id", "arch", "search_metric", "report_metric", "iteration")
    assert [[t[f] for f in fields] for t in resumed["trials"]] == [
        [t[f] for f in fields] for t in straight["trials"]
    ]
    shown = seminas(site, cut, SHOW).stdout
    assert "toy-hill" in shown and "60 of 60 done" in shown and "toy-sim" in shown


def test_a_broken_or_clashing_plugin_is_one_line(site: Path, tmp_path: Path) -> None:
    """A distribution whose entry point cannot be imported fails in one line when used and only
    then; one reusing a built-in name is ignored with a warning."""
    other = tmp_path / "other"
    info = other / "broken_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[seminas.strategies]\nbroken = no_such_module_here:Strategy\nrs = elsewhere:Other\n"
    )
    proc = seminas(
        site,
        tmp_path,
        "seminas search --space toy --strategy broken --budget 5",
        check=False,
        extra=(other,),
    )
    assert proc.returncode == 2
    warning, error = proc.stderr.strip().splitlines()  # one line each, no traceback
    assert warning.startswith(
        "warning: ignoring strategy 'rs' = 'elsewhere:Other' of "
        "broken-plugin 1.0: the name is taken"
    )
    assert error.startswith("error: strategy 'broken' of broken-plugin 1.0")
    assert "ModuleNotFoundError" in error
    ok = seminas(
        site, tmp_path, SEARCH.replace("toy-hill", "rs"), "--quiet", "--json", extra=(other,)
    )
    assert json.loads(ok.stdout)["strategy"] == "rs"  # the built-in, and no trouble
    assert ok.stderr.strip().splitlines() == [warning]


@dataclass(frozen=True)
class GreedyConfig:
    batch: int = 5


class Greedy(Strategy):
    """A strategy registered in this process only (no package)."""

    name = "greedy-test"
    Config = GreedyConfig

    def run(self, ctx: SearchContext, rng) -> None:
        while True:
            ctx.evaluate(ctx.space.sample(self.config.batch, rng, exclude=ctx.evaluated_ids))


def test_in_process_registration(nb201) -> None:
    registry.register_strategy(Greedy)
    try:
        assert "greedy-test" in registry.strategy_names()
        with pytest.raises(SeminasError, match="already registered"):
            registry.register_strategy(Greedy)
        with pytest.raises(SeminasError, match="built in"):
            registry.strategies.add("rs", Greedy)
        from seminas.strategies import make_strategy

        result = run_search(make_strategy("greedy-test"), nb201, budget=12, seed=0)
        assert len(result.trials) == 12 and result.strategy == "greedy-test"
    finally:
        registry.strategies.remove("greedy-test")
    with pytest.raises(SeminasError, match="unknown strategy 'greedy-test'"):
        registry.strategy_class("greedy-test")


def test_builtin_wiring_comes_from_the_registry(nb201) -> None:
    """The look-ups that replaced the name branches give what the branches gave."""
    from seminas.experiments.bench import make_benchmark, normalise_space
    from seminas.networks import network_settings
    from seminas.predictors.catalog import catalog_for
    from seminas.predictors.encoding import features, nb201_features
    from seminas.study import evaluator_spec

    assert normalise_space("NAS-Bench-201") == "nb201"
    assert evaluator_spec("nb201") == {"space": "nb201", "dataset": "cifar10", "fidelity": 200}
    assert evaluator_spec("nb101", evaluator="train", epochs=3) == {
        "space": "nb101",
        "evaluator": "train",
        "data": "cifar10-10k",
        "epochs": 3,
        "seed": 0,
        "network": "cpu",
        "channels": None,
        "cells": None,
    }
    with pytest.raises(SeminasError, match="unknown option"):
        evaluator_spec("nb201", datset="cifar100")
    assert network_settings("nb101", "cpu", cells=2)["cells_per_stack"] == 2
    archs = nb201.space.sample(5, np.random.default_rng(0))
    assert (features(nb201.space, archs) == nb201_features(archs)).all()
    assert len(catalog_for(nb201.space)) == 15_625
    assert make_benchmark("nb201", "cifar100").dataset == "cifar100"
