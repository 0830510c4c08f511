"""Interactive figures as plain plotly.js figure dicts (``{"data": [...], "layout": {...}}``).

The page embeds these as JSON and plots them with the plotly.js bundled inline, so nothing here
needs plotly's Python figure classes. Every user-written string is HTML-escaped, because plotly.js
renders a subset of HTML in labels and hover boxes.
"""

from __future__ import annotations

import html
import math
from typing import Any

from prunefront.reports._summary import ReportData
from prunefront.reports._views import SPARSITY_BINS, WIDTH_COLOURS, Point, ScatterView, sparsity_bin

__all__ = ["SYMBOLS", "hypervolume_figure", "scatter_figure", "states_figure"]

SYMBOLS = ("circle", "square", "diamond", "triangle-up", "star")
"""plotly.js marker symbol per entry of ``SPARSITY_BINS``."""

Figure = dict[str, Any]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _hover(points: tuple[Point, ...] | list[Point]) -> list[str]:
    return ["<br>".join(_esc(line) for line in p.hover.splitlines()) for p in points]


def _clean(values: list[float]) -> list[float | None]:
    # JSON has no NaN; plotly.js skips nulls.
    return [v if math.isfinite(v) else None for v in values]


def _layout(title: str, x_title: str, y_title: str, *, x_log: bool = False) -> dict[str, Any]:
    return {
        "title": {"text": _esc(title), "font": {"size": 15}},
        "xaxis": {"title": {"text": _esc(x_title)}, "type": "log" if x_log else "linear"},
        "yaxis": {"title": {"text": _esc(y_title)}},
        "height": 460,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "legend": {"font": {"size": 11}},
        "hovermode": "closest",
        "plot_bgcolor": "#fafafa",
    }


def scatter_figure(view: ScatterView) -> Figure:
    """One scatter view as a plotly.js figure: colour by width, symbol by sparsity."""
    traces: list[dict[str, Any]] = []
    for index, (width, points) in enumerate(view.series):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if view.connect else "markers",
                "name": "width ?" if math.isnan(width) else f"width {width:g}",
                "x": _clean([p.x for p in points]),
                "y": _clean([p.y for p in points]),
                "text": _hover(points),
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "color": WIDTH_COLOURS[index % len(WIDTH_COLOURS)],
                    "size": 10,
                    "symbol": [SYMBOLS[sparsity_bin(p.sparsity)] for p in points],
                    "line": {"width": 0.5, "color": "#333"},
                },
                "line": {"width": 1},
            }
        )
    if view.infeasible:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "over budget",
                "x": _clean([p.x for p in view.infeasible]),
                "y": _clean([p.y for p in view.infeasible]),
                "text": _hover(view.infeasible),
                "hovertemplate": "%{text}<extra>over budget</extra>",
                "marker": {"color": "#bbbbbb", "symbol": "x", "size": 8},
            }
        )
    if view.front and not view.connect:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Pareto front",
                "x": _clean([p.x for p in view.front]),
                "y": _clean([p.y for p in view.front]),
                "hoverinfo": "skip",
                "line": {"shape": "hv", "dash": "dash", "color": "black", "width": 1.2},
                "marker": {
                    "symbol": "circle-open",
                    "size": 18,
                    "color": "black",
                    "line": {"width": 2},
                },
            }
        )
    legend = ", ".join(f"{SYMBOLS[i]}: {label}" for i, label in enumerate(SPARSITY_BINS))
    layout = _layout(view.title, view.x_label, view.y_label, x_log=view.x_log)
    layout["annotations"] = [
        {
            "text": _esc(f"marker by sparsity: {legend}"),
            "xref": "paper",
            "yref": "paper",
            "x": 0,
            "y": -0.3,
            "showarrow": False,
            "font": {"size": 10, "color": "#555"},
            "xanchor": "left",
        }
    ]
    layout["margin"]["b"] = 100
    if view.budget_x is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": view.budget_x,
                "x1": view.budget_x,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#c0392b", "dash": "dot", "width": 1.5},
            }
        ]
        layout["annotations"].append(
            {
                "text": _esc(f"budget {view.budget_x:,.0f} B"),
                "xref": "x",
                "yref": "paper",
                "x": view.budget_x,
                "y": 1.02,
                "showarrow": False,
                "font": {"size": 10, "color": "#c0392b"},
            }
        )
    return {"data": traces, "layout": layout}


def hypervolume_figure(data: ReportData) -> Figure | None:
    """Normalised hypervolume after each completed trial, or None without a feasible trial."""
    hv = data.hypervolume
    if not hv.trials or not any(v > 0 for v in hv.normalized):
        return None
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "hypervolume",
        "x": list(range(1, len(hv.trials) + 1)),
        "y": _clean(list(hv.normalized)),
        "text": [f"trial {n}" for n in hv.trials],
        "hovertemplate": "after %{x} completed (%{text}): %{y:.4f}<extra></extra>",
        "line": {"shape": "hv"},
    }
    title = "Hypervolume of the front so far (" + ", ".join(hv.objectives) + ")"
    layout = _layout(title, "completed trials", "hypervolume (normalised)")
    layout["height"] = 360
    return {"data": [trace], "layout": layout}


def states_figure(data: ReportData) -> Figure:
    """Trials per state as bars."""
    names = list(data.states)
    trace = {
        "type": "bar",
        "x": names,
        "y": [data.states[n] for n in names],
        "text": [str(data.states[n]) for n in names],
        "textposition": "auto",
        "marker": {"color": "#1f77b4"},
        "hovertemplate": "%{x}: %{y}<extra></extra>",
    }
    layout = _layout("Trials per state", "state", "trials")
    layout["xaxis"]["type"] = "category"
    layout["height"] = 320
    return {"data": [trace], "layout": layout}
