"""``seminas dashboard``: a live web page of a study, for what optuna-dashboard cannot show a
NAS user -- best so far against queries, the predictor's guesses against measured accuracy per
iteration, the best architectures as cell diagrams, and time per phase.

One job per module: :mod:`.data` (what the page shows, as JSON), :mod:`.figures` (PNGs),
:mod:`.cells` (cell diagrams as SVG), :mod:`.page` (the HTML and its polling script) and
:mod:`.server` (the HTTP server). Every request opens the study read-only, so the page follows
a search that is still running, on an SQLite file or a PostgreSQL server.
"""

from __future__ import annotations

from seminas.dashboard.server import DashboardServer, make_server

__all__ = ["DashboardServer", "make_server"]
