"""The report's per-target section: one front per target, and which configuration wins where."""

from __future__ import annotations

import html

from prunefront.reports._summary import ReportData
from prunefront.reports._tables import table

__all__ = ["targets_html"]

_ROLES = (("front", "front"), ("fastest", "fastest"), ("knee", "knee"))


def targets_html(data: ReportData) -> str:
    """Two tables: each target's front, and every configuration's latency on each target."""
    info = data.targets
    if info is None:
        return ""
    fronts = table(
        ["target", "trials measured", "front", "fastest", "knee"],
        [
            (
                t.label,
                len(t.measured),
                ", ".join(str(n) for n in t.front) or "-",
                t.fastest,
                t.knee,
            )
            for t in info.targets
        ],
    )
    names = [t.name for t in info.targets]
    rows = []
    for r in info.rows:
        cells: list[object] = [r.trial, r.width, r.sparsity, r.pattern, r.metric]
        for name in names:
            latency = r.latency_ms[name]
            roles = ", ".join(label for role, label in _ROLES if role in r.wins[name])
            text = "-" if latency is None else f"{latency:.4g}"
            cells.append(f"{text} ({roles})" if roles else text)
        rows.append(cells)
    headers = ["trial", "width", "sparsity", "pattern", data.meta.metric_name]
    wins = table([*headers, *[f"{n} ms" for n in names]], rows)
    shown = html.escape(data.target)
    return (
        f"<p>This report's fronts and tables use the measurements of target <b>{shown}</b> "
        "(<code>prunefront report --target NAME</code> shows another).</p>"
        f"{fronts}<h3>Which configuration wins where</h3>"
        "<p>Latency (median, ms) of every configuration on some target's front, on each "
        "target; front = on that target's front, fastest = lowest latency there, knee = "
        "<code>select --prefer knee</code> there.</p>"
        f"{wins}"
    )
