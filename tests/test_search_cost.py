"""benchmarks/search_cost.py: one row of CPU and wall seconds per search; bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "search_cost.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_a_short_search_gives_one_row_per_seed_and_a_cost_file(tmp_path) -> None:
    done = _run("--strategies", "rs", "--budget", "20", "--seeds", "0-1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "cost.json").read_text())
    assert [(r["strategy"], r["space"], r["dataset"], r["seed"], r["budget"]) for r in rows] == [
        ("rs", "nb201", "cifar10", 0, 20), ("rs", "nb201", "cifar10", 1, 20)]
    assert all(r["cpu_seconds"] >= 0 and r["wall_seconds"] >= 0 for r in rows)
    assert rows[0]["best_search_metric"] != rows[1]["best_search_metric"]  # the seed is used
    again = _run("--strategies", "rs", "--budget", "20", "--seeds", "0")
    assert json.loads(again.stdout.splitlines()[0])["best_search_metric"] == rows[0][
        "best_search_metric"]


def test_an_unknown_strategy_or_space_is_one_line_and_exit_2() -> None:
    for args in (["--strategies", "no-such-strategy"], ["--space", "no-such-space"]):
        done = _run(*args, "--budget", "5", "--seeds", "0")
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
        assert args[1] in lines[0]


def test_a_bad_budget_or_an_out_that_is_a_file_is_one_line_and_exit_2(tmp_path) -> None:
    afile = tmp_path / "taken"
    afile.write_text("x")
    for args, named in ((["--budget", "0"], "--budget 0"), (["--out", str(afile)], str(afile))):
        done = _run("--strategies", "rs", "--seeds", "0", *args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], done.stderr
