"""The dashboard's one HTML page: static markup and a little plain JavaScript that polls
``/api/study`` and fills the page in (text through ``textContent`` only, so nothing from the
study is ever read as HTML). Images are reloaded only when the number of finished queries or
the status changes: their addresses carry both, so the browser's cache does the rest."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>seminas dashboard: @TITLE@</title>
<style>
  body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 16px 24px; color: #212121;
         background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 2px 0; }
  h2 { font-size: 15px; margin: 18px 0 6px 0; }
  .sub { color: #616161; font-size: 13px; }
  .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
  .card { background: white; border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 14px;
          min-width: 120px; }
  .card .k { color: #757575; font-size: 11px; }
  .card .v { font-size: 20px; font-weight: bold; }
  .status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
            background: #e0e0e0; }
  .status.running { background: #fff3c4; } .status.complete { background: #c8f0c8; }
  .status.stopped, .status.interrupted { background: #f8d0d0; }
  .figs { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
  .figs img, .cellbox img { background: white; border: 1px solid #e0e0e0; }
  table { border-collapse: collapse; background: white; font-size: 12px; }
  td, th { border: 1px solid #e0e0e0; padding: 3px 8px; text-align: right; }
  td.arch { text-align: left; font-family: "DejaVu Sans Mono", monospace; font-size: 11px;
            max-width: 520px; word-break: break-all; }
  #error { color: #c62828; font-weight: bold; }
  code { font-size: 12px; word-break: break-all; }
</style>
</head>
<body>
<h1>seminas dashboard <span id="status" class="status">loading</span></h1>
<div class="sub"><span id="study">@TITLE@</span> &middot; <span id="what"></span></div>
<div id="stopped" class="sub"></div>
<div id="error"></div>
<div class="cards">
  <div class="card"><div class="k">queries finished</div>
    <div class="v"><span id="finished">-</span> / <span id="budget">-</span></div></div>
  <div class="card"><div class="k">pending / running / failed</div>
    <div class="v" id="others">-</div></div>
  <div class="card"><div class="k">best <span id="search-name">search metric</span></div>
    <div class="v" id="best-search">-</div></div>
  <div class="card"><div class="k">its <span id="report-name">report metric</span></div>
    <div class="v" id="best-report">-</div></div>
  <div class="card"><div class="k">found at query</div><div class="v" id="best-query">-</div></div>
  <div class="card"><div class="k">predictor Kendall &tau;, last iteration</div>
    <div class="v" id="last-tau">-</div></div>
</div>
<div class="cellbox">best architecture: <code id="best-arch">-</code><br>
  <img id="best-cell" alt="the best architecture's cell" hidden></div>
<h2>Search</h2>
<div class="figs">
  <img id="plot-best" alt="best so far against queries">
  <img id="plot-predictions" alt="predicted against measured, per iteration">
  <img id="plot-phases" alt="time per phase">
</div>
<h2>Predictor, per iteration (Kendall &tau; of predicted vs measured)</h2>
<table><thead><tr><th>iteration</th><th>queries</th><th>Kendall &tau;</th></tr></thead>
<tbody id="taus"></tbody></table>
<h2>Best architectures</h2>
<table><thead><tr><th>rank</th><th>query</th><th>iter</th><th>cell</th><th>architecture</th>
<th>search</th><th>report</th></tr></thead><tbody id="top"></tbody></table>
<p class="sub">updated <span id="updated">-</span>, every @REFRESH@ s</p>
<script>
"use strict";
const REFRESH_MS = @REFRESH_MS@;
let shown = null;
const $ = (id) => document.getElementById(id);
const fmt = (v, digits) => (v === null || v === undefined) ? "-" : Number(v).toFixed(digits);
const text = (id, value) => { $(id).textContent = String(value); };

function cell(row, value, cls) {
  const td = document.createElement("td");
  if (value instanceof Node) td.appendChild(value); else td.textContent = String(value);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fill(id, rows, make) {
  const body = $(id);
  body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    make(tr, item);
    body.appendChild(tr);
  }
}

function render(d) {
  const status = $("status");
  status.textContent = d.status;
  status.className = "status " + d.status;
  text("what", d.strategy + (d.preset ? " (" + d.preset + ")" : "") + " on " + d.space +
       ", seed " + d.seed);
  text("stopped", d.stopped || "");
  text("finished", d.finished);
  text("budget", d.budget);
  text("others", [d.counts.pending, d.counts.running, d.counts.failed].join(" / "));
  text("search-name", d.metrics.search || "search metric");
  text("report-name", d.metrics.report || "report metric");
  const best = d.best;
  text("best-search", best ? fmt(best.search_metric, 3) : "-");
  text("best-report", best ? fmt(best.report_metric, 3) : "-");
  text("best-query", best ? best.query : "-");
  const arch = best ? (typeof best.arch === "string" ? best.arch : JSON.stringify(best.arch)) : "-";
  text("best-arch", arch);
  const taus = d.predictor;
  text("last-tau", taus.length ? fmt(taus[taus.length - 1].kendall_tau, 2) : "-");
  text("updated", new Date(d.time * 1000).toLocaleTimeString());
  document.body.dataset.finished = d.finished;
  const key = d.finished + "-" + d.status;
  if (key === shown) return;  // nothing finished since: keep the images
  shown = key;
  const bust = "?n=" + d.finished + "&s=" + d.status;
  for (const name of ["best", "predictions", "phases"]) {
    $("plot-" + name).src = "/plot/" + name + ".png" + bust;
  }
  if (best) { $("best-cell").src = d.top[0].cell; $("best-cell").hidden = false; }
  fill("taus", taus, (tr, t) => {
    cell(tr, t.iteration); cell(tr, t.n); cell(tr, fmt(t.kendall_tau, 2));
  });
  fill("top", d.top, (tr, t) => {
    const img = document.createElement("img");
    img.src = t.cell; img.width = 360; img.alt = "cell of query " + t.query;
    cell(tr, t.rank); cell(tr, t.query); cell(tr, t.iteration); cell(tr, img);
    cell(tr, typeof t.arch === "string" ? t.arch : JSON.stringify(t.arch), "arch");
    cell(tr, fmt(t.search_metric, 3)); cell(tr, fmt(t.report_metric, 3));
  });
}

async function update() {
  try {
    const response = await fetch("/api/study", {cache: "no-store"});
    const d = await response.json();
    if (!response.ok) throw new Error(d.error || response.statusText);
    render(d);
    text("error", "");
  } catch (e) {
    text("error", "cannot read the study: " + e.message);
  } finally {
    setTimeout(update, REFRESH_MS);
  }
}
update();
</script>
</body>
</html>
"""


def page_html(title: str, refresh: float) -> str:
    """The page for the study named ``title``, polling every ``refresh`` seconds."""
    return (
        _PAGE.replace("@TITLE@", escape(title))
        .replace("@REFRESH_MS@", str(max(1, round(refresh * 1000))))
        .replace("@REFRESH@", f"{refresh:g}")
    )
