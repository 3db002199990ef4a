"""The dashboard's HTTP server (the standard library's, one thread per request).

Routes: ``/`` the page, ``/api/study`` its data as JSON, ``/plot/{best,predictions,phases}.png``
the figures, ``/cell/<query>.svg`` the architecture of query ``<query>`` (counted from 1, as
``seminas show`` does). Each request opens the study read-only and closes it again, so the page
follows a search that is running in other processes, and the dashboard never writes to it. A
study that cannot be read right now (locked, the server away) answers 503 with one line, which
the page shows until it can read the study again.
"""

from __future__ import annotations

import json
import math
import re
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from seminas.dashboard.cells import cell_svg
from seminas.dashboard.data import dashboard_data
from seminas.dashboard.figures import FIGURES, figure_png
from seminas.dashboard.page import page_html
from seminas.errors import SeminasError
from seminas.study.storage import StudyError
from seminas.study.study import Study

_PLOT = re.compile(r"/plot/(\w+)\.png")
_CELL = re.compile(r"/cell/(\d+)\.svg")


class DashboardServer(ThreadingHTTPServer):
    """Serves one study's dashboard; :attr:`url` is where to point a browser."""

    daemon_threads = True  # a browser's open connection never holds up Ctrl-C

    def __init__(
        self, address: tuple[str, int], location: str, refresh: float, top: int,
        log: bool = False,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.location = location
        self.refresh = refresh
        self.top = top
        self.log = log
        with self.open_study() as study:  # refused here, in one line, if it cannot be read
            self.title = study.location
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        # a server on every address is reached through loopback
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(str(host), str(host))
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def open_study(self) -> Study:
        return Study.open(self.location, read_only=True)


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = urlsplit(self.path).path
        try:
            self._route(path)
        except StudyError as exc:
            self._json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away (a reload while an image was drawn)
        except Exception as exc:  # a bug here must not end the server: one line, and on
            self._json({"error": f"{exc.__class__.__name__}: {exc}"},
                       HTTPStatus.INTERNAL_SERVER_ERROR)

    def _route(self, path: str) -> None:
        server = self.server
        if path in ("/", "/index.html"):
            page = page_html(server.title, server.refresh)
            self._send(page.encode(), "text/html; charset=utf-8")
        elif path == "/api/study":
            with server.open_study() as study:
                data = dashboard_data(study, top=server.top)
            self._json(data)
        elif (plot := _PLOT.fullmatch(path)) and plot.group(1) in FIGURES:
            with server.open_study() as study:
                png = figure_png(study, plot.group(1))
            self._send(png, "image/png")
        elif cell := _CELL.fullmatch(path):
            with server.open_study() as study:
                number = int(cell.group(1)) - 1
                trial = study.storage.trial(number) if number >= 0 else None
            if trial is None:
                self._json({"error": f"no query {cell.group(1)} in the study"},
                           HTTPStatus.NOT_FOUND)
                return
            svg = cell_svg(trial.arch, trial.encoding)
            self._send(svg.encode(), "image/svg+xml; charset=utf-8")
        else:
            self._json({"error": f"no page {path}"}, HTTPStatus.NOT_FOUND)

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(_finite(data), allow_nan=False, default=str).encode()
        self._send(body, "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        # the page asks again whenever it wants something new: images carry the number of
        # finished queries in their address
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        if self.server.log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def make_server(
    location: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    refresh: float = 2.0,
    top: int = 5,
    log: bool = False,
) -> DashboardServer:
    """A dashboard of the study at ``location`` listening on ``host:port`` (0: a free port),
    not yet serving (call ``serve_forever``). A study that cannot be opened, or an address that
    cannot be listened on, is one line (:class:`~seminas.errors.SeminasError`)."""
    if not refresh > 0:
        raise SeminasError(f"the refresh interval must be above 0 seconds, got {refresh}")
    with Study.open(str(location), read_only=True):  # a study that cannot be read: its own line
        pass
    try:
        return DashboardServer((host, int(port)), str(location), float(refresh), int(top), log)
    except OSError as exc:
        raise SeminasError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port "
            f"(0 takes a free one) or --host"
        ) from None
