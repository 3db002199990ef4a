"""A screenshot of ``seminas dashboard`` for a study, taken by headless Chromium, and the
browser helpers that tests/test_dashboard_browser.py shares (same browser, same options).

    python scripts/dashboard_screenshot.py runs/dash.db --out docs/study/dashboard.png

Uses Debian's Chromium and its driver (``apt-get install chromium chromium-driver``) through
Selenium, which is told where the driver is, so it never tries to download one.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OPTIONS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--hide-scrollbars",
)


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is absent (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def chrome(profile: Path, width: int = 1400, height: int = 1000) -> Any:
    """Headless Chromium with a fresh profile in ``profile``, driven by Debian's driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for option in OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def images_loaded(driver: Any) -> bool:
    """Whether every image of the page that has an address is loaded and has a size."""
    return bool(driver.execute_script(
        "return [...document.images].filter(i => i.getAttribute('src'))"
        ".every(i => i.complete && i.naturalWidth > 0);"
    ))


def shows(driver: Any, finished: int) -> bool:
    """Whether the page shows ``finished`` queries, with every image for them loaded."""
    src = driver.execute_script("return document.getElementById('plot-best').src || '';")
    return text(driver, "finished") == str(finished) and f"n={finished}&" in src and (
        images_loaded(driver)
    )


def save_page(driver: Any, path: Path, width: int = 1400) -> Path:
    """A screenshot of the whole page (the window grown to the page's height)."""
    for _ in range(3):  # the window's frame is not page: grow until the page fits
        page, view, frame = driver.execute_script(
            "return [document.documentElement.scrollHeight, window.innerHeight, "
            "window.outerHeight - window.innerHeight];"
        )
        if view >= page:
            break
        driver.set_window_size(width, int(page) + int(frame) + 10)
        time.sleep(0.2)  # one layout after resizing
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


@contextmanager
def serving(study: str, refresh: float = 0.5, top: int = 5) -> Iterator[Any]:
    """``seminas dashboard`` of ``study`` on a free port of 127.0.0.1, in a thread."""
    from seminas.dashboard import make_server

    server = make_server(study, port=0, refresh=refresh, top=top)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def screenshot(study: str, out: Path, top: int = 3) -> Path:
    """Load the dashboard of ``study`` and save what it shows once everything is loaded."""
    from seminas.study import Study

    with Study.open(study, read_only=True) as s:
        finished = s.storage.counts()["done"]
    with serving(study, refresh=2.0, top=top) as server, tempfile.TemporaryDirectory() as profile:
        driver = chrome(Path(profile))
        try:
            driver.get(server.url)
            wait_until(lambda: shows(driver, finished), 30, f"{finished} finished queries")
            return save_page(driver, out)
        finally:
            driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="a study file or postgresql:// URL")
    parser.add_argument("--out", type=Path, default=Path("docs/study/dashboard.png"))
    parser.add_argument("--top", type=int, default=3, help="best architectures shown")
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        raise SystemExit(f"error: {reason}")
    print(screenshot(args.study, args.out, args.top))


if __name__ == "__main__":
    main()
