"""Bad input that used to reach a traceback, run to the end, or be silently accepted (issues 13
and 19): each now ends in one ``error:`` line and exit code 2 before any work starts, or, where
the input is fine, works (a search near the space's exhaustion)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from seminas.cli import main
from seminas.errors import SeminasError

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors and --version
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, err: str, fragment: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    return lines[0]


SEARCH = ["search", "--strategy", "rs", "--budget", "5", "--quiet"]


# -- seeds -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        [*SEARCH, "--seed", "-1"],
        [*SEARCH, "--seed", str(2**32)],
        [*SEARCH, "--seed", str(10**30)],
        ["query", "--index", "1", "--seed", "-3"],
    ],
)
def test_seed_outside_0_to_2_32_is_refused(capsys, argv):
    code, _, err = run(capsys, *argv)
    refused(code, err, "--seed must be a whole number in 0..4294967295")


def test_largest_seed_is_accepted(capsys, nb201):
    code, out, err = run(capsys, *SEARCH, "--seed", str(2**32 - 1), "--json")
    assert code == 0, err
    assert json.loads(out)["seed"] == 2**32 - 1


@pytest.mark.parametrize("seeds", [f"0-{2**32}", str(2**40)])
def test_bench_seeds_above_2_32_are_refused(capsys, tmp_path, seeds):
    code, _, err = run(
        capsys,
        "bench",
        "--strategies",
        "rs",
        "--budget",
        "5",
        "--seeds",
        seeds,
        "--out",
        str(tmp_path / "b"),
    )
    refused(code, err, "seeds go up to 4294967295")
    assert not (tmp_path / "b").exists()


# -- output paths, checked before any work -----------------------------------------------------
def test_search_out_that_is_a_directory_is_refused_before_the_search(capsys, tmp_path):
    study = tmp_path / "s.db"
    code, _, err = run(capsys, *SEARCH, "--out", str(tmp_path), "--study", str(study))
    refused(code, err, f"--out {tmp_path} is a directory")
    assert not study.exists()  # nothing was started


def test_search_out_whose_directory_is_missing_is_refused_before_the_search(capsys, tmp_path):
    target = tmp_path / "no" / "such" / "result.json"
    study = tmp_path / "s.db"
    code, _, err = run(capsys, *SEARCH, "--out", str(target), "--study", str(study))
    refused(code, err, f"the directory {target.parent} does not exist")
    assert not study.exists()


def test_search_out_inside_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, *SEARCH, "--out", str(tmp_path / "afile" / "r.json"))
    refused(code, err, "is not a directory")


def test_resume_out_of_the_wrong_kind_is_refused_first(capsys, tmp_path):
    code, _, err = run(capsys, "resume", str(tmp_path / "missing.db"), "--out", str(tmp_path))
    refused(code, err, "is a directory: give a file name")


def test_plot_out_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "plots").write_text("not a folder")
    code, _, err = run(capsys, "plot", str(tmp_path / "any.db"), "--out", str(tmp_path / "plots"))
    refused(code, err, "is a file, not a directory")


def test_bench_out_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "b").write_text("x")
    code, _, err = run(
        capsys,
        "bench",
        "--strategies",
        "rs",
        "--budget",
        "5",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "b"),
    )
    refused(code, err, "is a file, not a directory")


def test_bench_out_whose_results_file_is_a_directory_is_refused(capsys, tmp_path):
    (tmp_path / "b" / "results.jsonl").mkdir(parents=True)
    code, _, err = run(
        capsys,
        "bench",
        "--strategies",
        "rs",
        "--budget",
        "5",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "b"),
    )
    refused(code, err, "results.jsonl should be a file but is a directory")


def test_bench_api_checks_its_directory_before_any_run(tmp_path):
    from seminas.experiments.bench import bench

    (tmp_path / "b" / "summary.md").mkdir(parents=True)
    with pytest.raises(SeminasError, match="summary.md should be a file"):
        bench("nb201", "cifar10", "rs", 5, "0", tmp_path / "b")
    assert not (tmp_path / "b" / "results.jsonl").exists()


def test_every_out_option_declares_its_kind():
    """A command with ``--out`` is checked by kind; the table names each one explicitly."""
    from seminas.cli import build_parser
    from seminas.cli.input import OUTPUT_KINDS, leaf_parsers, output_kind

    with_out = {
        p.prog: output_kind(p) for p in leaf_parsers(build_parser()) if output_kind(p) is not None
    }
    assert with_out, "no command has --out?"
    for prog, kind in with_out.items():
        assert prog in OUTPUT_KINDS, f"{prog} has --out but no declared kind (file or dir)"
        assert kind == OUTPUT_KINDS[prog]


# -- damaged data files ------------------------------------------------------------------------
def _subset_dir(tmp_path: Path, text: str | None = None) -> Path:
    base = tmp_path / "data" / "nasbench101"
    base.mkdir(parents=True)
    if text is None:
        shutil.copy(need("nasbench101/subset-20k.csv"), base / "subset-20k.csv")
    else:
        (base / "subset-20k.csv").write_text(text)
    return tmp_path / "data"


HASH = "00005c142e6f48ac74fdcf73e3439874"


@pytest.mark.parametrize(
    "damage,fragment",
    [
        ("columns", "lacks column(s) params"),
        ("rows", "has 100 rows, expected 20,001"),
        ("numbers", "column val_acc_108ep must hold numbers, row 3 has 'oops'"),
        ("garbage", "lacks column(s) hash, params"),
        ("empty", "has 0 rows, expected 20,001"),
    ],
)
def test_garbage_nb101_subset_csv_is_one_line(capsys, tmp_path, damage, fragment):
    lines = need("nasbench101/subset-20k.csv").read_text().splitlines()
    header = lines[0].split(",")
    if damage == "columns":
        text = "\n".join(
            ",".join(v for i, v in enumerate(r.split(",")) if header[i] != "params") for r in lines
        )
    elif damage == "rows":
        text = "\n".join(lines[:101])
    elif damage == "numbers":
        col = header.index("val_acc_108ep")
        rows = [r.split(",") for r in lines]
        rows[3][col] = "oops"
        text = "\n".join(",".join(r) for r in rows)
    elif damage == "empty":
        text = lines[0]
    else:
        text = "this is not,a table\n"
    root = _subset_dir(tmp_path, text + "\n")
    code, _, err = run(
        capsys, "query", "--space", "nb101", "--subset", "--hash", HASH, "--data-dir", str(root)
    )
    refused(code, err, fragment)


# -- issue 19: never overwrite a file that is not our cache -----------------------------------
def test_enumerate_refuses_to_overwrite_another_file(capsys, tmp_path):
    other = tmp_path / "study.db"
    other.write_bytes(b"SQLite format 3\x00" + bytes(2000))
    before = other.read_bytes()
    code, _, err = run(capsys, "space", "nb101", "enumerate", "--quiet", "--cache", str(other))
    refused(code, err, "refusing to overwrite it")
    assert other.read_bytes() == before


def test_enumerate_refuses_a_foreign_npz_and_a_directory(capsys, tmp_path):
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.arange(4))
    before = npz.read_bytes()
    code, _, err = run(capsys, "space", "nb101", "enumerate", "--quiet", "--cache", str(npz))
    refused(code, err, "refusing to overwrite it")
    assert npz.read_bytes() == before
    code, _, err = run(capsys, "space", "nb101", "enumerate", "--quiet", "--cache", str(tmp_path))
    refused(code, err, "is a directory")


# -- budgets and the size of the space -----------------------------------------------------
@pytest.mark.parametrize("strategy,budget", [("re", "20000"), ("rs", "15626")])
def test_budget_above_the_space_is_refused_up_front(capsys, tmp_path, nb201, strategy, budget):
    study = tmp_path / "s.db"
    code, _, err = run(
        capsys,
        "search",
        "--strategy",
        strategy,
        "--budget",
        budget,
        "--quiet",
        "--study",
        str(study),
    )
    refused(code, err, "is more than the 15,625 architectures of space 'nb201'")
    assert not study.exists()


def test_budget_above_the_space_is_refused_by_the_api_and_the_bench(tmp_path, nb201):
    from seminas.experiments.bench import make_specs
    from seminas.strategies import make_strategy, run_search

    with pytest.raises(SeminasError, match="more than the 15,625 architectures"):
        run_search(make_strategy("rs"), nb201, 15_626)
    with pytest.raises(SeminasError, match="more than the 15,625 architectures"):
        make_specs("nb201", "cifar10", "rs", 20_000, "0")


def test_random_search_can_exhaust_the_space(nb201):
    """Near exhaustion the sampler draws among the cells left instead of failing (it used to
    stop with "could only draw 8 of 10 unique architectures" after the whole run)."""
    from seminas.strategies import make_strategy, run_search

    result = run_search(make_strategy("rs"), nb201, nb201.space.size, seed=3)
    ids = [t.arch_id for t in result.trials]
    assert len(ids) == len(set(ids)) == 15_625
    assert result.best.arch_id == BEST  # the whole space was seen: its best is found


def test_nb201_sampler_near_exhaustion_and_past_it():
    from seminas.spaces.nb201 import NB201Space

    space = NB201Space()
    rng = np.random.default_rng(0)
    taken = {space.arch_id(space.from_code(c)) for c in range(space.size - 7)}
    left = space.sample(7, rng, exclude=taken)
    assert len({space.arch_id(a) for a in left} - taken) == 7
    with pytest.raises(SeminasError, match="only 7 of the 15,625 architectures"):
        space.sample(8, rng, exclude=taken)
    assert space.available(1000, taken) == 7


def test_seminas_pseudo_labels_what_is_left_of_a_small_space():
    """SemiNAS asks for M pseudo-labeled cells each iteration; on a space with fewer unseen
    cells it takes all that are left (it used to fail with "only N unseen cells are left")."""
    from seminas.benchmarks.nb101 import NB101SubsetBenchmark
    from seminas.spaces.nb101 import NB101Space, SpecPool
    from seminas.strategies import make_strategy, run_search

    need("nasbench101/specs-1k.json")
    bench = NB101SubsetBenchmark()
    specs = bench.specs()[:200]
    bench.space = NB101Space(SpecPool(specs), restrict=True)
    assert bench.space.size == 200
    strategy = make_strategy(
        "seminas",
        initial=20,
        per_iteration=20,
        unlabeled=1000,
        pretrain_epochs=2,
        epochs=1,
        top_k=10,
        max_step=5,
        embedding_size=8,
        hidden_size=8,
        mlp_hidden=4,
    )
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny controller: threads only cost time
    try:
        result = run_search(strategy, bench, 40, seed=0)  # iteration 1 pseudo-labels all 180
    finally:
        torch.set_num_threads(threads)
    assert len(result.trials) == 40
    assert "stopped" not in result.diagnostics


# -- options that do not apply, and conflicting ones -------------------------------------------
@pytest.mark.parametrize(
    "argv,fragment",
    [
        ([*SEARCH, "--epochs", "12"], "--epochs does not apply to nb201 with --evaluator table"),
        ([*SEARCH, "--nb101-file", "x.tfrecord"], "--nb101-file does not apply to nb201"),
        (  # nb101's datasets are its two tables
            [*SEARCH, "--space", "nb101", "--dataset", "cifar100"],
            "NAS-Bench-101 has no dataset 'cifar100': choose official",
        ),
        ([*SEARCH, "--space", "nb101", "--fidelity", "12"], "--fidelity does not apply to nb101"),
        (
            [*SEARCH, "--evaluator", "train", "--dataset", "cifar100"],
            "--dataset does not apply to nb201 with --evaluator train",
        ),
        (["query", "--index", "1", "--epochs", "12"], "--epochs does not apply to nb201"),
        (["query", "--index", "1", "--subset"], "--subset is for nb101"),
        (
            ["query", "--space", "nb101", "--subset", "--fidelity", "12", "--hash", HASH],
            "--fidelity does not apply to nb101",
        ),
        (["query", "--space", "nb101", "--subset", "--index", "3"], "--index is for nb201"),
        (["query", "--index", "3", "--arch", BEST], "give one of --arch / --index, not several"),
        (
            ["query", "--space", "nb101", "--hash", HASH, "--arch", "{}"],
            "give one of --arch / --hash",
        ),
        (
            [
                "bench",
                "--strategies",
                "rs",
                "--budget",
                "5",
                "--seeds",
                "0",
                "--epochs",
                "4",
                "--out",
                "unused-dir",
            ],
            "--epochs does not apply to nb201",
        ),
    ],
)
def test_options_that_do_not_apply_are_refused(capsys, argv, fragment):
    code, _, err = run(capsys, *argv)
    refused(code, err, fragment)
    assert not Path("unused-dir").exists()


def test_options_that_apply_still_work(capsys, nb201):
    code, out, _ = run(
        capsys, "query", "--index", "6111", "--fidelity", "200", "--dataset", "cifar10"
    )
    assert code == 0 and json.loads(out)["arch_id"] == BEST
    code, out, _ = run(
        capsys, "query", "--space", "nb101", "--subset", "--epochs", "108", "--hash", HASH
    )
    assert code == 0, out


# -- NAS-Bench-101 cells and files ----------------------------------------------------------------
@pytest.mark.parametrize(
    "arch,fragment",
    [
        (
            '{"matrix": [[0, 1.5], [0, 0]], "ops": ["input", "output"]}',
            "adjacency matrix entries must be 0 or 1, got 1.5",
        ),
        ("[1, 2]", "cannot read [1, 2] as a NAS-Bench-101 cell"),
        (
            '{"matrix": [1, 2], "ops": ["input", "output"]}',
            "adjacency matrix must be a square list of rows",
        ),
        ('{"matrix": [[0, "a"], [0, 0]], "ops": ["input", "output"]}', "is not numeric"),
    ],
)
def test_bad_nb101_cells_are_one_line(capsys, arch, fragment):
    need("nasbench101/subset-20k.csv")
    code, _, err = run(capsys, "query", "--space", "nb101", "--subset", "--arch", arch)
    line = refused(code, err, fragment)
    assert "shape ()" not in line


def test_nb101_matrix_entry_one_point_five_is_not_an_edge():
    from seminas.errors import InvalidArchitectureError
    from seminas.spaces.nb101 import NB101Space

    space = NB101Space()
    ok = {"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}
    assert space.arch_id(space.validate(ok)) == space.arch_id(
        space.validate({"matrix": [[0, 1.0], [0, 0]], "ops": ["input", "output"]})
    )
    with pytest.raises(InvalidArchitectureError, match="got 1.5"):
        space.validate({"matrix": [[0, 1.5], [0, 0]], "ops": ["input", "output"]})


def test_nb101_file_that_is_a_directory_is_called_a_directory(capsys, tmp_path):
    code, _, err = run(
        capsys, "query", "--space", "nb101", "--nb101-file", str(tmp_path), "--hash", HASH
    )
    line = refused(code, err, f"--nb101-file {tmp_path} is a directory")
    assert "missing file" not in line


# -- worker and execution numbers -----------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["worker", "s.db", "--simulate-time", "-1"], "--simulate-time: expected a number >= 0"),
        (["worker", "s.db", "--poll", "-1"], "--poll: expected a number of seconds > 0"),
        (["worker", "s.db", "--poll", "0"], "--poll: expected a number of seconds > 0"),
        (["worker", "s.db", "--lease", "0"], "--lease: expected a number of seconds > 0"),
        (["worker", "s.db", "--idle-timeout", "-5"], "--idle-timeout: expected a number of"),
        (["worker", "s.db", "--lease", "inf"], "--lease: expected a finite number"),
        ([*SEARCH, "--cpus-per-eval", "0"], "--cpus-per-eval: expected a number > 0"),
        ([*SEARCH, "--gpus-per-eval", "-1"], "--gpus-per-eval: expected a number >= 0"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(capsys, argv, fragment):
    code, _, err = run(capsys, *argv)
    refused(code, err, fragment)


# -- messages -----------------------------------------------------------------------------------
def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("seminas ")


def test_data_dir_is_accepted_after_the_subcommand(capsys, tmp_path):
    code, _, err = run(capsys, "query", "--index", "1", "--data-dir", str(tmp_path))
    refused(code, err, str(tmp_path))  # the directory given after the subcommand is the one read
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "query", "--index", "1")
    refused(code, err, str(tmp_path))


def test_data_dir_after_the_subcommand_finds_real_data(capsys, nb201):
    from seminas.data import data_dir

    code, out, _ = run(capsys, "query", "--index", "6111", "--data-dir", str(data_dir()))
    assert code == 0 and json.loads(out)["arch_id"] == BEST


def test_warnings_are_one_line_without_source_paths(tmp_path, nb201):
    """A bench directory whose last line was cut by a kill: the CLI warns in one line (it used
    to print ``harness.py:443: HarnessWarning: ...`` and the code line)."""
    from seminas.experiments.bench import make_specs, run_one

    out = tmp_path / "b"
    out.mkdir()
    (spec,) = make_specs("nb201", "cifar10", "rs", 5, "0")
    line = json.dumps(run_one(spec))
    (out / "results.jsonl").write_text(line + "\n" + line[: len(line) // 2])
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seminas.cli",
            "bench",
            "--strategies",
            "rs",
            "--budget",
            "5",
            "--seeds",
            "0",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    warns = [ln for ln in proc.stderr.splitlines() if "truncated last line" in ln]
    assert len(warns) == 1 and warns[0].startswith("warning: "), proc.stderr
    assert ".py:" not in proc.stderr and "warnings.warn" not in proc.stderr, proc.stderr
