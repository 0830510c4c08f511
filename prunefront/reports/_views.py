"""Plot-ready views of a report: what each figure shows, decided once for every renderer.

The static (matplotlib) and interactive (plotly) renderers draw the same ``ScatterView`` records,
so a figure means the same thing in the PNG, the SVG and the HTML page. Hover texts here are
plain text; each renderer escapes them for its medium.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from prunefront.reports._summary import ReportData

__all__ = [
    "SPARSITY_BINS",
    "WIDTH_COLOURS",
    "Point",
    "ScatterView",
    "hover_text",
    "scatter_views",
    "sparsity_bin",
]

WIDTH_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
"""One colour per width, shared by the interactive and the static figures."""

SPARSITY_BINS = ("dense", "sparsity <= 50 %", "<= 80 %", "<= 90 %", "> 90 %")
"""Marker classes of the scatter plots, by sparsity (``sparsity_bin`` maps a value to one)."""

_UNITS = {
    "latency_ms": ("latency", "ms"),
    "energy_mj": ("energy per inference", "mJ"),
    "footprint_bytes": ("footprint", "bytes"),
    "params_nonzero": ("nonzero parameters", "count"),
}


def sparsity_bin(sparsity: float) -> int:
    """Index into ``SPARSITY_BINS`` for a sparsity in [0, 1)."""
    if not math.isfinite(sparsity) or sparsity <= 1e-3:
        return 0
    for index, upper in enumerate((0.5, 0.8, 0.9), start=1):
        if sparsity <= upper:
            return index
    return 4


@dataclass(frozen=True, kw_only=True)
class Point:
    """One trial in a scatter view."""

    trial: int
    x: float
    y: float
    width: float
    sparsity: float
    feasible: bool
    on_front: bool
    hover: str


@dataclass(frozen=True, kw_only=True)
class ScatterView:
    """One scatter figure: the metric against one measure.

    Attributes:
        key: File stem of the figure (``front_latency_ms``, ``paper_footprint_bytes``, ...).
        title: Figure title.
        x_label: X axis label with unit (and kinds of measurement when not all measured).
        y_label: Y axis label (metric name and direction).
        x_log: Whether the x axis is logarithmic.
        connect: Whether points of one width are joined in order of sparsity (paper's view).
        series: ``(width, points)`` per width, smallest width first: the feasible trials (every
            complete trial in the paper's view).
        infeasible: Complete trials that violate a constraint (drawn grey; empty in the
            paper's view).
        front: The two-dimensional front, in order of x.
        budget_x: The footprint budget, drawn as a vertical line where x is the footprint.
    """

    key: str
    title: str
    x_label: str
    y_label: str
    x_log: bool
    connect: bool
    series: tuple[tuple[float, tuple[Point, ...]], ...]
    infeasible: tuple[Point, ...]
    front: tuple[Point, ...]
    budget_x: float | None = None


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def hover_text(row: pd.Series, metric_name: str) -> str:
    """One trial's configuration and measurements, one item per line (plain text)."""
    lines = [
        f"trial {int(row['number'])}",
        f"width {_num(row['width']):g}, sparsity {_num(row['sparsity']):.3f}"
        + (f" ({row['pattern']})" if isinstance(row.get("pattern"), str) else ""),
        f"{metric_name} {_num(row['metric']):.4g}",
    ]
    latency = _num(row.get("latency_ms"))
    if math.isfinite(latency):
        how = ", ".join(
            str(v)
            for v in (row.get("latency_kind"), row.get("latency_strategy"))
            if isinstance(v, str)
        )
        lines.append(f"latency {latency:.4g} ms" + (f" ({how})" if how else ""))
    energy = _num(row.get("energy_mj"))
    if math.isfinite(energy):
        kind = row.get("energy_kind")
        lines.append(f"energy {energy:.4g} mJ" + (f" ({kind})" if isinstance(kind, str) else ""))
    footprint = _num(row.get("footprint_bytes"))
    if math.isfinite(footprint):
        lines.append(f"footprint {int(footprint):,} B")
    nonzero = _num(row.get("params_nonzero"))
    if math.isfinite(nonzero):
        lines.append(f"nonzero params {int(nonzero):,}")
    if isinstance(row.get("seeded"), str):
        lines.append(f"seeded {row['seeded']} pair")
    return "\n".join(lines)


def _kinds_note(rows: pd.DataFrame, axis: str) -> str:
    column = {"latency_ms": "latency_kind", "energy_mj": "energy_kind"}.get(axis)
    if column is None or column not in rows:
        return ""
    kinds = rows[column].dropna().astype(str).value_counts()
    if kinds.empty or list(kinds.index) == ["measured"]:
        return ""
    return " [" + ", ".join(f"{k}: {n}" for k, n in kinds.items()) + "]"


def _points(rows: pd.DataFrame, axis: str, front: set[int], metric_name: str) -> list[Point]:
    return [
        Point(
            trial=int(r["number"]),
            x=float(r[axis]),
            y=float(r["metric"]),
            width=_num(r["width"]),
            sparsity=_num(r["sparsity"]),
            feasible=bool(r["feasible"]),
            on_front=int(r["number"]) in front,
            hover=hover_text(r, metric_name),
        )
        for _, r in rows.iterrows()
    ]


def _view(data: ReportData, axis: str, paper: bool) -> ScatterView | None:
    frame = data.frame
    if frame.empty or axis not in frame:
        return None
    ok = (frame["state"] == "COMPLETE") & frame["metric"].notna() & frame[axis].notna()
    rows = frame[ok]
    if rows.empty:
        return None
    meta = data.meta
    front_numbers = data.pareto.pairwise.get(axis, ())
    points = _points(rows, axis, set(front_numbers), meta.metric_name)
    # The paper's view is about the trade-off itself: over-budget trials stay on their curve.
    feasible = points if paper else [p for p in points if p.feasible]
    widths = sorted({p.width for p in feasible}, key=lambda w: (math.isnan(w), w))
    series = []
    for width in widths:
        same = [
            p for p in feasible if p.width == width or (math.isnan(p.width) and math.isnan(width))
        ]
        series.append((width, tuple(sorted(same, key=lambda p: (p.sparsity, p.x)))))
    by_number = {p.trial: p for p in points}
    front = tuple(
        sorted((by_number[n] for n in front_numbers if n in by_number), key=lambda p: p.x)
    )
    name, unit = _UNITS[axis]
    title = (
        f"{meta.metric_name} vs {name}, one curve per width (sparsity grows along each)"
        if paper
        else f"Pareto front: {meta.metric_name} vs {name}"
    )
    return ScatterView(
        key=("paper_" if paper else "front_") + axis,
        title=title,
        x_label=f"{name} ({unit})" + _kinds_note(rows, axis),
        y_label=f"{meta.metric_name} ({meta.metric_direction})",
        x_log=axis == "params_nonzero",
        connect=paper,
        series=tuple(series),
        infeasible=() if paper else tuple(p for p in points if not p.feasible),
        front=front,
        budget_x=float(meta.budget_bytes)
        if axis == "footprint_bytes" and meta.budget_bytes
        else None,
    )


def scatter_views(data: ReportData) -> tuple[ScatterView, ...]:
    """The report's scatter figures that have data, in the order the report shows them.

    The fronts (metric vs latency, vs energy when any trial has an energy value, vs footprint)
    come first, then the paper's view (metric vs footprint and vs nonzeros, one curve per width).
    """
    wanted = [
        ("latency_ms", False),
        ("energy_mj", False),
        ("footprint_bytes", False),
        ("footprint_bytes", True),
        ("params_nonzero", True),
    ]
    views = (_view(data, axis, paper) for axis, paper in wanted)
    return tuple(v for v in views if v is not None)
