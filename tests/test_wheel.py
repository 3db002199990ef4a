"""A wheel of seminas, installed into a fresh virtual environment outside the repository and run
from an empty directory with an empty home: the embedded NAS-Bench-201 table answers, the data
search order is the documented one, and a benchmark without data says in one line what to do.

No network: the wheel is built without build isolation and installed with ``--no-deps``; the
fresh environment then sees the dependencies (torch, numpy, ...) through a ``.pth`` line naming
this environment's site-packages. Only a path line: the ``.pth`` files of that directory (the
editable install of seminas among them) are not processed, and the test checks that ``seminas``
is imported from the wheel.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import DATA

from seminas.benchmarks.nb201_table import CSV_FILES

ROOT = Path(__file__).resolve().parents[1]
BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """(venv, run): a fresh venv with the wheel, and a runner for commands in a bare setting."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # build from a copy: nothing is written into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("seminas-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # install before the .pth exists, so pip sees an environment without seminas
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "_seminas_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    home = tmp / "home"
    work = tmp / "empty-dir"
    for d in (home, work):
        d.mkdir()

    def run(*argv: str, env_extra: dict | None = None, exe: str = "seminas"):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SEMINAS_", "XDG_", "PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_CONFIG_HOME=str(home / ".config"),
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(env_extra or {})
        return subprocess.run(
            [str(venv / "bin" / exe), *argv], cwd=work, env=env, capture_output=True, text=True
        )

    return venv, home, run


def test_wheel_contains_the_table_and_runs_from_an_empty_directory(wheel_env):
    venv, home, run = wheel_env
    where = run("-c", "import seminas, sys; print(seminas.__file__)", exe="python")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the wheel's copy

    search = run("search", "--space", "nb201", "--strategy", "rs", "--budget", "50", "--json",
                 "--quiet")  # fmt: skip
    assert search.returncode == 0, search.stderr
    result = json.loads(search.stdout)
    assert len(result["trials"]) == 50
    assert result["evaluator"]["data"] == "table shipped with seminas (nb201.npz)"

    query = run("query", "--space", "nb201", "--arch", BEST)
    assert query.returncode == 0, query.stderr
    record = json.loads(query.stdout)
    assert record["extra"]["index"] == 6111
    assert round(record["search_metric"], 2) == 91.61
    assert round(record["report_metric"], 2) == 94.37


def test_installed_package_searches_the_documented_order(wheel_env, tmp_path):
    venv, home, run = wheel_env
    out = run("data", "where")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line[:1].isdigit()]
    assert [line.split()[1] for line in lines] == [
        "--data-dir", "$SEMINAS_DATA", "user", "imported", "source", "embedded",
    ]  # fmt: skip
    assert str(home / ".local" / "share" / "seminas") in lines[2]
    assert str(home / ".cache" / "seminas" / "nb201") in lines[3]
    assert "(not running from a source checkout)" in lines[4]  # nothing relative to site-packages
    assert str(venv) in lines[5]

    # one line saying how to point at data, for a benchmark that needs files
    nb101 = run("query", "--space", "nb101", "--hash", "0" * 32)
    assert nb101.returncode == 2
    err = nb101.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: missing file "), nb101.stderr
    assert str(home / ".local" / "share" / "seminas" / "nasbench101") in err[0]
    assert "--data-dir DIR or $SEMINAS_DATA=DIR" in err[0]

    if not all((DATA / "nasbench201" / n).is_file() for n in CSV_FILES):
        pytest.skip(f"NAS-Bench-201 CSVs not in {DATA}: the CSV half of the order is not checked")
    user = home / ".local" / "share" / "seminas"
    env_dir = tmp_path / "env-data"
    for base in (user, env_dir):
        (base / "nasbench201").mkdir(parents=True)
        for name in CSV_FILES:
            (base / "nasbench201" / name).symlink_to(DATA / "nasbench201" / name)
    try:
        used = run("search", "--strategy", "rs", "--budget", "5", "--json", "--quiet")
        assert json.loads(used.stdout)["evaluator"]["data"] == (
            f"CSV files in {user} (user data dir)"
        )
        used = run("search", "--strategy", "rs", "--budget", "5", "--json", "--quiet",
                   env_extra={"SEMINAS_DATA": str(env_dir)})  # fmt: skip
        assert json.loads(used.stdout)["evaluator"]["data"] == (
            f"CSV files in {env_dir} ($SEMINAS_DATA)"
        )
    finally:
        shutil.rmtree(user)
