"""``report.html``: one self-contained page that works offline.

plotly.js is inlined once (no CDN); the figures travel as one JSON document in a
``<script type="application/json">`` element with ``<``, ``>`` and ``&`` escaped, so no string in
them can close the element. After plotting, the page sets ``data-plotted`` on ``<html>`` to the
number of figures drawn; any script error or ``console.error`` increments ``data-errors``. A
headless browser (and the test suite) reads both to prove the page ran cleanly.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

from prunefront.reports._interactive import (
    hypervolume_figure,
    scatter_figure,
    states_figure,
)
from prunefront.reports._summary import ReportData
from prunefront.reports._tables import (
    cost_table,
    failures_table,
    fmt,
    iso_table,
    pareto_table,
    provenance_html,
    trials_table,
)
from prunefront.reports._views import ScatterView

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:0 24px 48px;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-top:24px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{font-size:1.02em;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.88em;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.small{font-size:.78em}td.win{background:#d9f2d9;font-weight:600}
.note{color:#555;font-size:.92em}.warn{background:#fff4d6;border:1px solid #f0d58a;padding:6px 10px}
.figure{min-height:300px;margin:8px 0 24px}nav a{margin-right:12px}
"""

_GUARD = """
(function(){
  var root = document.documentElement;
  function count(){ root.dataset.errors = String(Number(root.dataset.errors || 0) + 1); }
  window.addEventListener('error', count);
  window.addEventListener('unhandledrejection', count);
  var original = console.error;
  console.error = function(){ count(); return original.apply(console, arguments); };
})();
"""

_PLOT = """
(function(){
  var root = document.documentElement;
  var figures = JSON.parse(document.getElementById('pf-figures').textContent);
  var ids = Object.keys(figures);
  var config = {responsive: true, displaylogo: false};
  Promise.all(ids.map(function(id){
    return Plotly.newPlot(id, figures[id].data, figures[id].layout, config);
  })).then(function(){ root.dataset.plotted = String(ids.length); });
})();
"""


def _json_for_script(document: Any) -> str:
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _device_line(device: dict[str, Any]) -> str:
    keys = ("name", "gpu_name", "cpu_model", "type", "device", "kind")
    parts = list(dict.fromkeys(str(device[k]) for k in keys if device.get(k)))
    return ", ".join(parts) or "(not recorded)"


def _header(data: ReportData) -> str:
    meta = data.meta
    rows: list[list[Any]] = [
        ["study", meta.study_name],
        ["task", meta.task_ref or "(not recorded)"],
        ["metric", f"{meta.metric_name} ({meta.metric_direction})"],
        [
            "objectives",
            ", ".join(f"{o} ({d})" for o, d in zip(meta.objectives, meta.directions, strict=True)),
        ],
        ["device", _device_line(meta.device)],
        ["footprint budget", f"{meta.budget_bytes:,} B" if meta.budget_bytes else "none"],
        ["trials", ", ".join(f"{n} {s.lower()}" for s, n in data.states.items() if n) or "none"],
        ["on the front", len(data.pareto.front)],
        [
            "hypervolume (normalised to the box between reference and ideal point)",
            data.hypervolume.normalized[-1] if data.hypervolume.normalized else None,
        ],
    ]
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(fmt(v))}</td></tr>" for k, v in rows
    )
    notes = "".join(f"<p class='warn'>{html.escape(n)}</p>" for n in data.notes)
    return f"<table>{cells}</table>{notes}"


def _figure_div(fig_id: str) -> str:
    return f'<div class="figure" id="{fig_id}"></div>'


def _hv_note(data: ReportData) -> str:
    hv = data.hypervolume
    if not hv.trials:
        return ""
    ref = ", ".join(f"{o} {fmt(v)}" for o, v in zip(hv.objectives, hv.reference_point, strict=True))
    ideal = ", ".join(f"{o} {fmt(v)}" for o, v in zip(hv.objectives, hv.ideal_point, strict=True))
    return (
        f"<p class='note'>Reference point: {html.escape(ref)}; ideal point: "
        f"{html.escape(ideal)}. The curve and the summary give the normalised hypervolume: the "
        "hypervolume divided by the volume of the box between the two points.</p>"
    )


def render_html(data: ReportData, views: tuple[ScatterView, ...], files: list[str]) -> str:
    """The whole page.

    Args:
        data: The report's data.
        views: The scatter views (from ``scatter_views``).
        files: Paths of the report's other files, relative to the page (linked at the end).

    Returns:
        The HTML text.
    """
    import plotly.offline

    figures: dict[str, Any] = {}
    fronts: list[str] = []
    paper: list[str] = []
    for view in views:
        fig_id = f"fig-{view.key}"
        figures[fig_id] = scatter_figure(view)
        (paper if view.connect else fronts).append(_figure_div(fig_id))
    hv = hypervolume_figure(data)
    if hv is not None:
        figures["fig-hypervolume"] = hv
    figures["fig-states"] = states_figure(data)
    links = "".join(f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>' for f in files)
    verdict = "".join(f"<li>{html.escape(line)}</li>" for line in data.verdict.lines)
    sections = [
        (
            "verdict",
            "Verdict: large-sparse or small-dense at the same bytes?",
            f"<ul>{verdict}</ul>",
        ),
        ("summary", "Summary", _header(data)),
        ("fronts", "Pareto fronts", "".join(fronts) or "<p>No complete trial to plot.</p>"),
        (
            "paper",
            "Large-sparse vs small-dense: the paper's view",
            "".join(paper) or "<p>No complete trial with a footprint to plot.</p>",
        ),
        ("iso", "Iso-footprint comparison (the paper's Table 6 for this model)", iso_table(data)),
        ("front", "Trials on the front", pareto_table(data)),
        (
            "hypervolume",
            "Hypervolume over trials",
            (_figure_div("fig-hypervolume") if hv else "<p>No feasible complete trial yet.</p>")
            + _hv_note(data),
        ),
        ("states", "Trials per state", _figure_div("fig-states")),
        ("failures", "Failures and their reasons", failures_table(data)),
        ("provenance", "Provenance: how each number was obtained", provenance_html(data)),
        ("cost", "What the search itself cost", cost_table(data)),
        (
            "trials",
            "All trials",
            f"<details><summary>{len(data.frame)} trial(s)</summary>{trials_table(data)}</details>",
        ),
        ("files", "Files", f"<ul>{links}</ul>"),
    ]
    nav = "".join(
        f'<a href="#{key}">{html.escape(title.split(":")[0])}</a>' for key, title, _ in sections
    )
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(title)}</h2>{content}</section>'
        for key, title, content in sections
    )
    title = html.escape(f"prunefront report: {data.meta.study_name}")
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_CSS}</style><script>{_GUARD}</script>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{title}</h1><p class='note'>Generated {generated} by prunefront.</p>"
        f"<nav>{nav}</nav>{body}"
        f'<script type="application/json" id="pf-figures">{_json_for_script(figures)}</script>'
        f"<script>{_PLOT}</script></body></html>\n"
    )
