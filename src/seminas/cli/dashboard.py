"""``seminas dashboard STUDY``: a live web page of a study (:mod:`seminas.dashboard`), served
until Ctrl-C. It only reads the study, so it can watch a search that is running."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from seminas.cli.input import positive_int
from seminas.options import number


def cmd_dashboard(args: argparse.Namespace) -> int:
    from seminas.dashboard import make_server
    from seminas.lifecycle import stop_signals

    server = make_server(
        args.study, host=args.host, port=args.port, refresh=args.refresh, top=args.top,
        log=args.log,
    )
    try:
        print(f"dashboard of {server.title} at {server.url} (Ctrl-C stops)", flush=True)
        if args.open:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        with stop_signals():  # SIGTERM stops it as Ctrl-C does
            server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("dashboard stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def add_parser(sub: Any) -> None:
    """Register ``dashboard`` on the CLI's subparsers."""
    p = sub.add_parser(
        "dashboard",
        help="a live web page of a study: best so far, predictions, cells, time per phase",
    )
    p.add_argument("study", metavar="STUDY", help="a study file or postgresql:// URL")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=number(int, low=0, high=65535, what="a port number"),
                   default=8080, help="port (default 8080; 0 takes a free one)")
    p.add_argument("--refresh", type=number(float, above=0, what="a number of seconds"),
                   default=2.0, metavar="SECONDS",
                   help="how often the page reads the study again (default 2)")
    p.add_argument("--top", type=positive_int, default=5, help="best architectures shown")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument("--log", action="store_true", help="print one line per request")
    p.set_defaults(func=cmd_dashboard)
