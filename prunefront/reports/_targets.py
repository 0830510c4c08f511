"""One front per target, and which configuration wins where.

A study measured on further targets (``prunefront reprofile``) has one view per target: the
search's own (named ``search``) and each stored one, built by handing ``pareto_info`` and
``select_trial`` the trials frame of that target. ``targets_info`` gathers, per target, the front,
the fastest trial on it and the knee of the front (``select --prefer knee``), and per
configuration that is on some target's front, its latency on every target and where it wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.reports._frame import StudyMeta, study_meta, trials_frame
from prunefront.reports._pareto import candidate_rows, pareto_info
from prunefront.reports._select import select_trial
from prunefront.reports._selection import Requirements
from prunefront.studies import SEARCH_TARGET, target_records

__all__ = ["TargetFront", "TargetsInfo", "WinRow", "targets_info"]


@dataclass(frozen=True, kw_only=True)
class TargetFront:
    """One target's view of the study.

    Attributes:
        name: ``search`` or the stored target's name.
        label: The name and its settings, one line.
        measured: Trials with a latency on this target.
        front: Trial numbers on its Pareto front (metric and its own latency/energy).
        fastest: The trial with the lowest latency on it (None when nothing was measured).
        knee: The front's knee (``select --prefer knee``) on it.
        best_metric: The best metric among its front (ties: the faster).
    """

    name: str
    label: str
    measured: tuple[int, ...]
    front: tuple[int, ...]
    fastest: int | None
    knee: int | None
    best_metric: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "name": self.name,
            "label": self.label,
            "measured": list(self.measured),
            "front": list(self.front),
            "fastest": self.fastest,
            "knee": self.knee,
            "best_metric": self.best_metric,
        }


@dataclass(frozen=True, kw_only=True)
class WinRow:
    """A configuration on at least one target's front.

    Attributes:
        trial: Trial number.
        width: Width multiplier.
        sparsity: Final sparsity.
        pattern: Sparsity pattern.
        metric: Task metric (the same on every target).
        latency_ms: Median latency per target (None where not measured).
        wins: Per target, what it is there: a subset of ``front``, ``fastest``, ``knee``.
    """

    trial: int
    width: float
    sparsity: float
    pattern: str
    metric: float
    latency_ms: dict[str, float | None]
    wins: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "trial": self.trial,
            "width": self.width,
            "sparsity": self.sparsity,
            "pattern": self.pattern,
            "metric": self.metric,
            "latency_ms": self.latency_ms,
            "wins": {k: list(v) for k, v in self.wins.items()},
        }


@dataclass(frozen=True, kw_only=True)
class TargetsInfo:
    """Every target's front and the configurations that win somewhere.

    Attributes:
        targets: One view per target, the search's first.
        rows: Configurations on at least one front, by trial number.
    """

    targets: tuple[TargetFront, ...]
    rows: tuple[WinRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "targets": [t.to_dict() for t in self.targets],
            "rows": [r.to_dict() for r in self.rows],
        }


def _float(value: Any) -> float:
    number = pd.to_numeric(value, errors="coerce")
    return float(number) if pd.notna(number) else math.nan


def _view(name: str, label: str, frame: pd.DataFrame, meta: StudyMeta) -> TargetFront:
    pareto = pareto_info(frame, meta)
    measured = candidate_rows(frame, ["metric", "latency_ms"])
    fastest = (
        int(measured.sort_values(["latency_ms", "number"], kind="stable").iloc[0]["number"])
        if len(measured)
        else None
    )
    knee = best = None
    if pareto.front:
        try:
            knee = select_trial(frame, meta, Requirements(prefer="knee")).chosen
            best = select_trial(frame, meta, Requirements(prefer="metric")).chosen
        except PrunefrontError:  # nothing selectable on this target
            knee = best = None
    return TargetFront(
        name=name,
        label=label,
        measured=tuple(int(n) for n in measured["number"]),
        front=pareto.front,
        fastest=fastest,
        knee=knee,
        best_metric=best,
    )


def targets_info(study: optuna.Study) -> TargetsInfo | None:
    """Per-target fronts and wins; None when the study was measured on its own target only."""
    records = target_records(study.user_attrs)
    if not records:
        return None
    meta = study_meta(study)
    frames = {SEARCH_TARGET: (trials_frame(study, meta), meta)}
    device = meta.device.get("device") or meta.config.get("target", {}).get("device", "?")
    labels = {SEARCH_TARGET: f"{SEARCH_TARGET} ({device}, as searched)"}
    for name, record in records.items():
        target_meta = study_meta(study, name)
        frames[name] = (trials_frame(study, target_meta, name), target_meta)
        labels[name] = record.label()
    views = tuple(_view(name, labels[name], f, m) for name, (f, m) in frames.items())
    on_some_front = sorted({n for view in views for n in view.front})
    base = frames[SEARCH_TARGET][0].set_index("number")
    rows = []
    for number in on_some_front:
        row = base.loc[number]
        latency: dict[str, float | None] = {}
        for name, (frame, _) in frames.items():
            value = _float(frame.loc[frame["number"] == number, "latency_ms"].squeeze())
            latency[name] = None if math.isnan(value) else value
        wins = {
            view.name: tuple(
                role
                for role, hit in (
                    ("front", number in view.front),
                    ("fastest", number == view.fastest),
                    ("knee", number == view.knee),
                )
                if hit
            )
            for view in views
        }
        rows.append(
            WinRow(
                trial=int(number),
                width=_float(row.get("width")),
                sparsity=_float(row.get("sparsity")),
                pattern=str(row.get("pattern")),
                metric=_float(row.get("metric")),
                latency_ms=latency,
                wins=wins,
            )
        )
    return TargetsInfo(targets=views, rows=tuple(rows))
