"""``seminas dashboard``: the data its page shows, its figures and cell diagrams, its HTTP
routes and its command line, on a real (tiny) SemiNAS study of the embedded NAS-Bench-201
table. The page in a real browser: tests/test_dashboard_browser.py."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from seminas.cli import main
from seminas.dashboard import make_server
from seminas.dashboard.cells import cell_svg, nb101_svg, nb201_svg
from seminas.dashboard.data import dashboard_data
from seminas.dashboard.figures import figure_png
from seminas.study import Study
from seminas.study.report import kendall_by_iteration

# the smallest SemiNAS that still predicts: 10 random queries, then 10 per iteration
TINY = {"initial": 10, "per_iteration": 10, "unlabeled": 20, "pretrain_epochs": 2, "epochs": 1,
        "top_k": 10}
SETS = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={v}")]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study_path(tmp_path_factory) -> Path:
    """A finished 20-query SemiNAS study: 10 random queries, then 10 the predictor chose."""
    import torch

    path = tmp_path_factory.mktemp("dash") / "s.db"
    argv = ["search", "--space", "nb201", "--strategy", "seminas", "--budget", "20", "--seed",
            "0", *SETS, "--study", str(path), "--quiet", "--json"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny controller: more threads only wait for each other
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return path


@pytest.fixture
def served(study_path):
    server = make_server(str(study_path), port=0, refresh=0.5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


# -- the data --------------------------------------------------------------------------------
def test_the_data_is_the_studys(study_path):
    with Study.open(study_path, read_only=True) as study:
        data = dashboard_data(study, top=3)
        best = study.best()[0]
        taus = kendall_by_iteration(study.done())
        phases = study.storage.phase_seconds(["search"])
    json.dumps(data, allow_nan=False)  # plain JSON
    assert data["status"] == "complete" and data["strategy"] == "seminas"
    assert data["finished"] == 20 and data["budget"] == 20
    assert data["counts"] == {"done": 20, "pending": 0, "running": 0, "failed": 0}
    assert data["best"]["search_metric"] == best.search_metric
    assert data["best"]["report_metric"] == best.report_metric
    assert data["best"]["arch"] == best.arch and data["best"]["query"] == best.number + 1
    assert data["predictor"] == taus and [t["iteration"] for t in taus] == [1]
    assert taus[0]["n"] == 10 and -1 <= taus[0]["kendall_tau"] <= 1
    assert data["phase_seconds"] == phases and {"training", "generation"} <= set(phases)
    assert [t["rank"] for t in data["top"]] == [1, 2, 3]
    assert data["top"][0]["cell"] == f"/cell/{best.number + 1}.svg"
    metrics = [t["search_metric"] for t in data["top"]]
    assert metrics == sorted(metrics, reverse=True)


def test_figures_are_pngs_of_the_study(study_path):
    with Study.open(study_path, read_only=True) as study:
        for name in ("best", "predictions", "phases"):
            assert figure_png(study, name)[:8] == PNG, name
        with pytest.raises(KeyError):
            figure_png(study, "other")


# -- cell diagrams ---------------------------------------------------------------------------
def test_an_nb201_cell_names_its_six_operations():
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    svg = cell_svg(arch)
    assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg'")
    labels = re.findall(r"<text [^>]*stroke='white'[^>]*>([^<]+)</text>", svg)
    ops = [lab for lab in labels if lab not in ("input", "output")]
    assert sorted(ops) == sorted(
        ["nor_conv_3x3", "nor_conv_1x1", "none", "skip_connect", "avg_pool_3x3", "nor_conv_3x3"]
    )
    assert svg.count("marker-end=") == 6 and svg.count("<circle") == 4
    assert "stroke-dasharray" in svg  # the none edge is dashed
    assert f"<title>{arch}</title>" in svg
    with pytest.raises(ValueError):
        nb201_svg(["none"] * 5)


def test_an_nb101_cell_draws_its_vertices_and_edges():
    matrix = [[0, 1, 1, 0, 0],
              [0, 0, 1, 0, 1],
              [0, 0, 0, 1, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0]]
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"]
    svg = cell_svg({"matrix": matrix, "ops": ops})
    assert svg == nb101_svg(matrix, ops)
    names = re.findall(r"<text [^>]*>([^<]+)</text>", svg)
    assert names == ["input", "conv 3x3", "max-pool 3x3", "conv 1x1", "output"]
    assert svg.count("<rect") == 5 and svg.count("marker-end=") == sum(map(sum, matrix))
    with pytest.raises(ValueError):
        nb101_svg([[0, 1]], ops)


def test_another_space_is_shown_as_its_tokens_escaped():
    svg = cell_svg({"layers": ["<b>mb6_k5</b>", "mb3_k3"]}, encoding=[4, 2, 7])
    assert "tokens: 4 2 7" in svg and "&lt;b&gt;mb6_k5&lt;/b&gt;" in svg and "<b>" not in svg
    assert "tokens" not in cell_svg("|not an nb201 string|")


# -- the server ------------------------------------------------------------------------------
def test_every_route_answers(served, study_path):
    url = served.url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    status, kind, body = get(url)
    assert status == 200 and kind.startswith("text/html") and b"/api/study" in body
    assert str(study_path).encode() in body
    status, kind, body = get(url + "api/study")
    data = json.loads(body)
    assert status == 200 and kind == "application/json" and data["finished"] == 20
    for name in ("best", "predictions", "phases"):
        status, kind, body = get(f"{url}plot/{name}.png?n=20")
        assert (status, kind, body[:8]) == (200, "image/png", PNG), name
    best = data["best"]
    status, kind, body = get(url + best["cell"].lstrip("/"))
    assert status == 200 and kind.startswith("image/svg+xml")
    assert f"<title>{best['arch']}</title>" in body.decode()
    for missing in ("cell/21.svg", "cell/0.svg", "plot/other.png", "nothing"):
        status, kind, body = get(url + missing)
        assert status == 404 and "error" in json.loads(body), missing


def test_a_study_that_goes_away_is_one_line_then_back(served, study_path, tmp_path):
    aside = tmp_path / "aside.db"
    shutil.move(study_path, aside)
    try:
        status, _, body = get(served.url + "api/study")
        assert status == 503 and "no study file" in json.loads(body)["error"]
    finally:
        shutil.move(aside, study_path)
    assert get(served.url + "api/study")[0] == 200


# -- the command line ------------------------------------------------------------------------
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, study_path):
    assert main(["dashboard", str(tmp_path / "absent.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no study file") and err.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", str(study_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1
    for bad in (["--refresh", "0"], ["--refresh", "-1"], ["--port", "70000"]):
        with pytest.raises(SystemExit) as stop:
            main(["dashboard", str(study_path), *bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: argument") and err.count("\n") == 1, bad


def test_the_command_prints_its_url_serves_and_stops_on_ctrl_c(study_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "seminas.cli", "dashboard", str(study_path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A suite started in the background (``pytest &``) ignores SIGINT, and a child would
        # inherit that; Ctrl-C is what this test is about, so the child gets the default back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        assert json.loads(get(url + "api/study")[2])["finished"] == 20
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        assert proc.wait(20) == 0
        assert proc.stderr.read() == "dashboard stopped\n"
    finally:
        proc.kill()
        proc.wait()
