"""Sentences that explain a selection: why this trial, what the runner-up trades, what binds."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from prunefront.reports._frame import StudyMeta
from prunefront.reports._selection import Binding, Selection

__all__ = ["describe_trial", "explain_choice", "explain_none"]


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def describe_trial(row: pd.Series) -> str:
    """``trial 3 (width 1, sparsity 0.500, unstructured)``."""
    width, sparsity, pattern = _num(row.get("width")), _num(row.get("sparsity")), row.get("pattern")
    parts = [f"width {width:g}"] if math.isfinite(width) else []
    if math.isfinite(sparsity):
        parts.append(f"sparsity {sparsity:.3f}")
        if isinstance(pattern, str) and sparsity > 0:
            parts.append(pattern)
    described = f" ({', '.join(parts)})" if parts else ""
    return f"trial {int(row['number'])}{described}"


def _measures(row: pd.Series, metric_name: str, base: pd.Series | None = None) -> str:
    parts = []
    for column, label, unit in (
        ("metric", metric_name, ""),
        ("latency_ms", "latency", " ms"),
        ("energy_mj", "energy", " mJ"),
        ("footprint_bytes", "footprint", " B"),
    ):
        value = _num(row.get(column))
        if not math.isfinite(value):
            continue
        text = (
            f"{label} {value:,.0f}{unit}"
            if column == "footprint_bytes"
            else f"{label} {value:.4g}{unit}"
        )
        if base is not None and math.isfinite(_num(base.get(column))):
            delta = value - _num(base.get(column))
            text += f" ({delta:+,.0f})" if column == "footprint_bytes" else f" ({delta:+.4g})"
        parts.append(text)
    return ", ".join(parts)


def _row(frame: pd.DataFrame, number: int) -> pd.Series:
    return frame[frame["number"] == number].iloc[0]


def _knee_words(selection: Selection, metric: str) -> str:
    """The knee, saying when several trials were equally close and how the tie was broken."""
    distance = selection.scores.get(selection.chosen or -1, math.nan)
    text = (
        "the knee: closest to the utopia point after scaling each objective to [0, 1] over "
        f"these trials (distance {distance:.3f}"
    )
    tied = sorted(
        n
        for n, d in selection.scores.items()
        if n != selection.chosen and math.isclose(d, distance, rel_tol=1e-9, abs_tol=1e-12)
    )
    if tied:
        others = ", ".join(str(n) for n in tied)
        text += (
            f"; tied with trial{'s' if len(tied) > 1 else ''} {others} at that distance, broken "
            f"by the better {metric}, then the lower latency, then the lower trial number"
        )
    return text + ")"


def explain_choice(frame: pd.DataFrame, meta: StudyMeta, selection: Selection) -> str:
    """Why ``selection.chosen`` won, and what the runner-up would trade."""
    if selection.chosen is None:
        raise ValueError("explain_choice needs a selection with a chosen trial")
    chosen = _row(frame, selection.chosen)
    prefer = selection.requirements.prefer
    why = {
        "metric": f"the best {meta.metric_name} ({_num(chosen['metric']):.4g})",
        "latency": f"the lowest latency ({_num(chosen['latency_ms']):.4g} ms)",
        "energy": f"the lowest energy per inference ({_num(chosen['energy_mj']):.4g} mJ)",
        "knee": _knee_words(selection, meta.metric_name),
    }[prefer]
    bounds = ", ".join(label for label, *_ in selection.requirements.bounds(meta.metric_name))
    n = len(selection.eligible)
    if n == 1:
        among = f"the only trial that meets {bounds}" if bounds else "the only feasible trial"
    else:
        pool = (
            f"the {n} that meet {bounds}"
            if bounds
            else f"the {n} feasible complete trials (no requirement given)"
        )
        among = f"{why} among the {len(selection.front)} Pareto-optimal trials of {pool}"
    text = f"Chose {describe_trial(chosen)}: {among}. It has {_measures(chosen, meta.metric_name)}."
    if selection.runner_up is not None:
        runner = _row(frame, selection.runner_up)
        text += (
            f" Runner-up: {describe_trial(runner)} with "
            f"{_measures(runner, meta.metric_name, base=chosen)} (differences to the choice)."
        )
    return text


def explain_none(
    pool: pd.DataFrame,
    meta: StudyMeta,
    binding: Binding,
    bounds: list[tuple[str, str, str, float]],
) -> str:
    """Which requirement binds, and how far the closest trial is from meeting them all."""
    labels = [label for label, *_ in bounds]
    others = [f"{k} excludes {n}" for k, n in binding.excluded.items() if k != binding.requirement]
    text = (
        f"No trial meets {', '.join(labels)}. Binding: {binding.requirement} excludes "
        f"{binding.excluded[binding.requirement]} of the {len(pool)} feasible complete trials"
        + (f" ({'; '.join(others)})" if others else "")
        + "."
    )
    if binding.closest_trial is not None:
        closest = _row(pool, binding.closest_trial)
        ops = {label: op for label, _, op, _ in bounds}
        misses = [
            f"{label}: not measured"
            if gap is None
            else f"{label}: {gap:.4g} {'short' if ops[label] == '>=' else 'over'}"
            for label, gap in binding.shortfall.items()
        ]
        text += f" Closest: {describe_trial(closest)}, missing {'; '.join(misses)}."
    return text
