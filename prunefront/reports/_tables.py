"""HTML tables of a report's records; every cell is escaped here, whatever its origin.

Study names, task references, layer names and failure reasons are written by users (or by their
code's exceptions), so no text reaches the page unescaped.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from prunefront.reports._frame import LARGE_SPARSE, SMALL_DENSE
from prunefront.reports._iso import IsoRow, IsoSide
from prunefront.reports._summary import ReportData

__all__ = [
    "cost_table",
    "failures_table",
    "fmt",
    "iso_table",
    "pareto_table",
    "provenance_html",
    "table",
    "trials_table",
]

Cell = Any


def fmt(value: Any) -> str:
    """A cell's text: 4 significant digits for floats, thousands separators for ints."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e5 and value.is_integer() else f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _classes(value: Any, mark: str) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return " ".join(c for c in (mark, "num" if numeric else "") if c)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    css: str = "",
    marks: Iterable[Sequence[str]] | None = None,
) -> str:
    """An escaped HTML table; ``marks`` gives a CSS class per cell (same shape as rows)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    mark_rows = list(marks) if marks is not None else None
    for i, row in enumerate(rows):
        classes = mark_rows[i] if mark_rows is not None else [""] * len(row)
        cells = "".join(
            f'<td class="{html.escape(_classes(v, c))}">{html.escape(fmt(v))}</td>'
            for v, c in zip(row, classes, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    css_attr = f' class="{html.escape(css)}"' if css else ""
    return f"<table{css_attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _mean_std(side: IsoSide | None) -> str:
    if side is None:
        return "none yet"
    std = "" if math.isnan(side.metric_std) else f" ± {side.metric_std:.4g}"
    return f"{side.metric_mean:.4g}{std} (n={len(side.metric_values)})"


def _with_ci(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    ci = record.get("ci95")
    text = fmt(value)
    if isinstance(ci, list) and len(ci) == 2:
        text += f" [{fmt(ci[0])}, {fmt(ci[1])}]"
    return text


def _winners_words(row: IsoRow, metric: str) -> str:
    names = {"metric": metric, "latency_ms": "latency", "energy_mj": "energy"}
    names["footprint_bytes"] = "bytes"
    return "; ".join(f"{names[m]}: {w}" for m, w in row.winners.items())


def _candidate(side: IsoSide | None, sparse: bool) -> str:
    if side is None:
        return "-"
    text = f"width {side.width:g}"
    if sparse:
        text += f" at {side.sparsity:.1%}"
    flag = "" if side.footprints_in_level else " (outside 90-100 % of the level)"
    return f"{text}, {side.footprint_bytes:,} B{flag}; trials {', '.join(map(str, side.trials))}"


def iso_table(data: ReportData) -> str:
    """The iso-footprint verdict table: one row per level, statistics and winners in words."""
    iso = data.iso
    m = iso.metric_name
    rows, marks = [], []
    for r in iso.rows:
        rows.append(
            [
                r.level_bytes,
                _candidate(r.small_dense, False),
                _mean_std(r.small_dense),
                _candidate(r.large_sparse, True),
                _mean_std(r.large_sparse),
                _with_ci(r.comparison["metric"], "difference"),
                _with_ci(r.comparison["latency_ratio"], "value"),
                _winners_words(r, m),
            ]
        )
        marks.append([""] * 8)
    headers = [
        "level (bytes)",
        "small-dense",
        f"{m} mean ± sd",
        "large-sparse",
        f"{m} mean ± sd",
        f"{m} difference (sparse - dense) [95 % CI]",
        "latency ratio sparse/dense [95 % CI]",
        "winners",
    ]
    note = (
        f"<p class='note'>Each level is a dense width's footprint; its large-sparse side is a "
        f"wider model pruned to 90-100 % of the same bytes. Both are trained with every pair "
        f"seed; the {html.escape(m)} difference is paired by seed with a 95 % t-interval, the "
        "latency ratio is timed side by side in one process after the search. A winner is "
        "named only where the interval excludes no difference.</p>"
    )
    body = (
        note + table(headers, rows, css="iso", marks=marks)
        if iso.rows
        else "<p>No complete equal-footprint pair yet (space.iso_levels, search.pair_seeds).</p>"
    )
    return body + _best_under_level(data)


def _best_under_level(data: ReportData) -> str:
    rows = []
    for level in data.iso.best_under_level:
        cells: list[Cell] = [level["level_bytes"]]
        for family in (SMALL_DENSE, LARGE_SPARSE):
            best = level.get(family)
            cells += (
                [best["trial"], best["width"], best["sparsity"], best["metric"]]
                if best
                else ["none fits", None, None, None]
            )
        rows.append(cells)
    if not rows:
        return ""
    m = data.iso.metric_name
    headers = ["level (bytes)"] + [
        f"{family} {column}"
        for family in ("best small-dense", "best large-sparse")
        for column in ("trial", "width", "sparsity", m)
    ]
    return (
        "<details><summary>Not a pair: the best trial of each family whose footprint fits each "
        "level (sampler trials included, one seed each)</summary>"
        + table(headers, rows, css="iso small")
        + "</details>"
    )


_TRIAL_COLUMNS = (
    ("number", "trial"),
    ("state", "state"),
    ("width", "width"),
    ("sparsity", "sparsity"),
    ("pattern", "pattern"),
    ("metric", "metric"),
    ("latency_ms", "latency ms"),
    ("latency_kind", "latency kind"),
    ("latency_strategy", "strategy"),
    ("energy_mj", "energy mJ"),
    ("energy_kind", "energy kind"),
    ("footprint_bytes", "bytes"),
    ("params_nonzero", "nonzero params"),
    ("feasible", "feasible"),
    ("seeded", "seeded"),
)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e3:
        return int(value)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _rows(frame: pd.DataFrame, metric_name: str) -> tuple[list[str], list[list[Any]]]:
    present = [(c, h) for c, h in _TRIAL_COLUMNS if c in frame]
    headers = [metric_name if c == "metric" else h for c, h in present]
    rows = [[_cell(r[c]) for c, _ in present] for _, r in frame.iterrows()]
    return headers, rows


def pareto_table(data: ReportData) -> str:
    """The trials on the study's front with their configuration and measurements."""
    front = data.frame[data.frame["number"].isin(data.pareto.front)] if len(data.frame) else None
    if front is None or front.empty:
        return "<p>No trial on the front yet.</p>"
    order = {n: i for i, n in enumerate(data.pareto.front)}
    front = front.sort_values("number", key=lambda s: s.map(order))
    headers, rows = _rows(front, data.meta.metric_name)
    return table(headers, rows)


def trials_table(data: ReportData) -> str:
    """Every trial, one row each."""
    if data.frame.empty:
        return "<p>The study has no trials.</p>"
    headers, rows = _rows(data.frame, data.meta.metric_name)
    return table(headers, rows, css="small")


def failures_table(data: ReportData) -> str:
    """Failed, pruned and infeasible trials with their reasons."""
    if not data.failures:
        return "<p>No trial failed, was stopped early or broke a constraint.</p>"
    return table(
        ["trial", "state", "reason"], [[f.trial, f.state, f.reason] for f in data.failures]
    )


def _kv(mapping: dict[str, Any]) -> str:
    return table(["key", "value"], [[k, v] for k, v in mapping.items()])


def provenance_html(data: ReportData) -> str:
    """Device, how each number was obtained (counts per kind/method), and library versions."""
    p = data.provenance
    parts = ["<h3>Device</h3>", _kv(p.device) if p.device else "<p>Not recorded.</p>"]
    if p.counts:
        rows = [[key, value, n] for key, counts in p.counts.items() for value, n in counts.items()]
        parts += [
            "<h3>How each number was obtained (complete trials)</h3>",
            table(["attribute", "value", "trials"], rows),
        ]
    if p.measurements:
        parts += [
            "<h3>Stored measurement records (name / kind / method)</h3>",
            table(["record", "count"], list(p.measurements.items())),
        ]
    for group in p.versions:
        trials = group["trials"]
        parts.append(f"<h3>Library versions ({len(trials)} trial(s))</h3>")
        versions = group["versions"]
        parts.append(
            _kv(versions) if isinstance(versions, dict) else table(["versions"], [[versions]])
        )
    return "".join(parts)


def cost_table(data: ReportData) -> str:
    """The search's own cost: per worker as recorded, and time summed over the trials."""
    c = data.cost
    rows: list[list[Any]] = [
        ["wall time, first start to last completion (s)", c.wall_seconds],
        ["trial time, summed (s)", c.trial_seconds],
        ["training time, summed (s)", c.train_seconds],
        ["profiling time, summed (s)", c.profile_seconds],
    ]
    rows += [[f"{key}, all workers", value] for key, value in c.totals.items()]
    parts = [table(["", "value"], rows)]
    if c.per_worker:
        keys = sorted({k for record in c.per_worker.values() for k in record})
        per = [[worker, *(record.get(k) for k in keys)] for worker, record in c.per_worker.items()]
        parts += ["<h3>Per worker</h3>", table(["worker", *keys], per)]
    return "".join(parts)
