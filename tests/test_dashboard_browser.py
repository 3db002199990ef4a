"""``seminas dashboard`` in a real browser (Debian's headless Chromium, through Selenium):
the page loads, shows the study's numbers, and follows a search that is running.

The search is a real ``seminas search --workers-external`` process (tiny SemiNAS on the
embedded NAS-Bench-201 table) that proposes queries and waits for workers; the test plays the
workers (``seminas worker``), so it decides when queries finish: 15 before the page is opened,
the other 15 while it is open. The page must show each state without being reloaded. The browser
helpers are those of scripts/dashboard_screenshot.py, which took docs/study/dashboard.png.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seminas.cli import main
from seminas.study import Study
from seminas.study.report import kendall_by_iteration

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "dashboard_screenshot", ROOT / "scripts" / "dashboard_screenshot.py"
)
browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser)

# the smallest SemiNAS that still predicts: 10 random queries, then 10 per iteration
TINY = {"initial": 10, "per_iteration": 10, "unlabeled": 20, "pretrain_epochs": 2, "epochs": 1,
        "top_k": 10}
SETS = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={v}")]
BUDGET = 30


def study_numbers(db: Path) -> dict:
    """What the page must show, read from the study's storage, not from the dashboard."""
    with Study.open(db, read_only=True) as study:
        best = study.best()[0]
        return {
            "finished": study.storage.counts()["done"],
            "best": best,
            "taus": kendall_by_iteration(study.done()),
        }


def study_ready(db: Path) -> bool:
    try:
        with Study.open(db, read_only=True) as study:
            return study.storage.counts()["pending"] > 0
    except Exception:  # not created yet, or being created
        return False


def work(db: Path, *extra: str) -> None:
    """Evaluate pending queries as a `seminas worker` does (in this process: no start-up)."""
    assert main(["worker", str(db), "--quiet", "--poll", "0.02", "--wait", "30", *extra]) == 0


def assert_page_shows(driver, numbers: dict) -> None:
    text = browser.text
    best = numbers["best"]
    assert text(driver, "finished") == str(numbers["finished"])
    assert text(driver, "budget") == str(BUDGET)
    assert text(driver, "best-search") == f"{best.search_metric:.3f}"
    assert text(driver, "best-report") == f"{best.report_metric:.3f}"
    assert text(driver, "best-query") == str(best.number + 1)
    assert text(driver, "best-arch") == best.arch
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#taus tr')].map(r => r.cells[0].textContent);"
    )
    assert rows == [str(t["iteration"]) for t in numbers["taus"]]


@pytest.mark.skipif(browser.missing_browser() is not None,
                    reason=f"no browser to drive: {browser.missing_browser()}")
def test_the_page_follows_a_running_search(tmp_path):
    db = tmp_path / "live.db"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    search = subprocess.Popen(
        [sys.executable, "-m", "seminas.cli", "search", "--space", "nb201", "--strategy",
         "seminas", "--budget", str(BUDGET), "--seed", "0", *SETS, "--study", str(db),
         "--workers-external", "--quiet", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    driver = browser.chrome(tmp_path / "profile")  # starts while the search starts
    try:
        browser.wait_until(lambda: study_ready(db) or search.poll() is not None, 60,
                           "the search to create its study")
        assert search.poll() is None, search.stderr.read()
        work(db, "--max-trials", "15")  # the 10 random queries, then 5 the predictor chose
        first = study_numbers(db)
        assert first["finished"] == 15 and [t["iteration"] for t in first["taus"]] == [1]

        with browser.serving(str(db), refresh=0.3) as server:
            driver.get(server.url)
            browser.wait_until(lambda: browser.shows(driver, 15), 20, "the page to show 15")
            assert_page_shows(driver, first)
            assert browser.text(driver, "status") == "running"  # the search is still alive
            assert browser.text(driver, "others").split(" / ")[0] == "5"  # 5 still pending
            driver.execute_script("window.loadedOnce = 'yes';")  # gone if the page reloads

            work(db)  # the other 15 queries: the search completes the study and exits
            assert search.wait(60) == 0, search.stderr.read()
            last = study_numbers(db)
            assert last["finished"] == BUDGET
            browser.wait_until(
                lambda: browser.shows(driver, BUDGET)
                and browser.text(driver, "status") == "complete",
                20, "the page to show the finished study",
            )
            assert driver.execute_script("return window.loadedOnce;") == "yes"
            assert_page_shows(driver, last)
            assert [t["iteration"] for t in last["taus"]] == [1, 2]
            cells = driver.execute_script(
                "return [...document.querySelectorAll('#top img')]"
                ".map(i => [i.naturalWidth, new URL(i.src).pathname]);"
            )
            assert len(cells) == 5 and all(width > 0 for width, _ in cells)
            assert cells[0][1] == f"/cell/{last['best'].number + 1}.svg"
            shot = browser.save_page(driver, tmp_path / "dashboard.png")
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        driver.quit()
        if search.poll() is None:
            search.kill()
        search.wait()
