"""PNG and SVG figures with matplotlib (object API, no pyplot: no global state, no display).

Each figure is drawn from a view record (``ScatterView``) or a report record, never from the
study, and saved in both formats under the same stem.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from prunefront.reports._summary import ReportData
from prunefront.reports._views import SPARSITY_BINS, WIDTH_COLOURS, ScatterView, sparsity_bin

__all__ = ["MARKERS", "write_static_figures"]

MARKERS = ("o", "s", "D", "^", "*")
"""matplotlib marker per entry of ``SPARSITY_BINS``."""


def _save(fig: Figure, directory: Path, stem: str) -> list[Path]:
    paths = [directory / f"{stem}.png", directory / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1], metadata={"Date": None})
    return paths


def _scatter(view: ScatterView) -> Figure:
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for index, (width, points) in enumerate(view.series):
        colour = WIDTH_COLOURS[index % len(WIDTH_COLOURS)]
        if view.connect and len(points) > 1:
            ax.plot([p.x for p in points], [p.y for p in points], color=colour, lw=1, alpha=0.6)
        for b, marker in enumerate(MARKERS):
            chosen = [p for p in points if sparsity_bin(p.sparsity) == b]
            if chosen:
                ax.scatter(
                    [p.x for p in chosen],
                    [p.y for p in chosen],
                    c=colour,
                    marker=marker,
                    s=40,
                    zorder=3,
                )
        label = "width ?" if math.isnan(width) else f"width {width:g}"
        ax.plot([], [], color=colour, marker="o", ls="", label=label)
    if view.infeasible:
        ax.scatter(
            [p.x for p in view.infeasible],
            [p.y for p in view.infeasible],
            c="#bbbbbb",
            marker="x",
            s=30,
            label="over budget",
            zorder=2,
        )
    if view.front and not view.connect:
        ax.plot(
            [p.x for p in view.front],
            [p.y for p in view.front],
            color="black",
            lw=1.2,
            ls="--",
            drawstyle="steps-post" if len(view.front) > 1 else "default",
        )
        ax.scatter(
            [p.x for p in view.front],
            [p.y for p in view.front],
            s=130,
            facecolors="none",
            edgecolors="black",
            linewidths=1.4,
            zorder=4,
            label="Pareto front",
        )
    if view.budget_x is not None:
        ax.axvline(
            view.budget_x, color="#c0392b", ls=":", lw=1.5, label=f"budget {view.budget_x:,.0f} B"
        )
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="#555555", marker=m, ls="", label=SPARSITY_BINS[i])
        for i, m in enumerate(MARKERS)
    ]
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.8)
    if view.x_log:
        ax.set_xscale("log")
    ax.set_xlabel(view.x_label)
    ax.set_ylabel(view.y_label)
    ax.set_title(view.title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _hypervolume(data: ReportData) -> Figure | None:
    hv = data.hypervolume
    if not hv.trials or not any(v > 0 for v in hv.normalized):
        return None
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.step(range(1, len(hv.normalized) + 1), hv.normalized, where="post", color="#1f77b4")
    ax.set_xlabel("completed trials")
    ax.set_ylabel("hypervolume (normalised)")
    ax.set_ylim(0, max(1.0, max(hv.normalized) * 1.05))
    ax.set_title("Hypervolume of the front so far, over " + ", ".join(hv.objectives), fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _states(data: ReportData) -> Figure:
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    names = list(data.states)
    bars = ax.bar(names, [data.states[n] for n in names], color="#1f77b4")
    ax.bar_label(bars)
    ax.set_ylabel("trials")
    ax.set_title("Trials per state", fontsize=10)
    return fig


def write_static_figures(
    data: ReportData, views: tuple[ScatterView, ...], directory: Path
) -> list[Path]:
    """Draw every figure as PNG and SVG into ``directory``.

    Args:
        data: The report's data.
        views: The scatter views (from ``scatter_views``).
        directory: An existing directory.

    Returns:
        The files written.
    """
    written: list[Path] = []
    for view in views:
        written += _save(_scatter(view), directory, view.key)
    hv = _hypervolume(data)
    if hv is not None:
        written += _save(hv, directory, "hypervolume")
    written += _save(_states(data), directory, "states")
    return written
