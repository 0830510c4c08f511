"""Pareto fronts with mixed directions over the trials frame, as plain records.

Only COMPLETE trials that satisfy every constraint and have a finite value for every objective
take part; infeasible, failed, pruned and running trials are listed apart so a report can say why
they are missing from the front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prunefront.reports._frame import StudyMeta

__all__ = ["PAIRWISE_AXES", "ParetoInfo", "candidate_rows", "pareto_info", "pareto_mask"]

PAIRWISE_AXES = ("latency_ms", "energy_mj", "footprint_bytes", "params_nonzero")
"""The x axes of the two-dimensional fronts of the task metric (every one minimised)."""


def pareto_mask(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Which rows of ``points`` no other row dominates.

    Args:
        points: Shape ``(n, d)``, finite.
        directions: ``"maximize"`` or ``"minimize"`` per column.

    Returns:
        Boolean mask of length ``n``; equal points are all kept.
    """
    if points.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    loss = points * signs
    keep = np.ones(len(loss), dtype=bool)
    for i, row in enumerate(loss):
        no_worse = np.all(loss <= row, axis=1)
        better = np.any(loss < row, axis=1)
        keep[i] = not np.any(no_worse & better)
    return keep


def candidate_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Feasible COMPLETE trials with a finite value in every one of ``columns``.

    A trial that took an earlier trial's results (``duplicate_of``) is left out: its point is
    the earlier trial's.
    """
    if frame.empty or any(c not in frame for c in columns):
        return frame.iloc[0:0]
    ok = (frame["state"] == "COMPLETE") & frame["feasible"].astype(bool) & ~_duplicates(frame)
    for column in columns:
        ok &= np.isfinite(pd.to_numeric(frame[column], errors="coerce").astype(float))
    return frame[ok]


def _duplicates(frame: pd.DataFrame) -> pd.Series:
    if "duplicate_of" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["duplicate_of"].notna()


def _front_numbers(
    rows: pd.DataFrame, columns: Sequence[str], directions: Sequence[str]
) -> tuple[int, ...]:
    points = rows[list(columns)].to_numpy(dtype=float)
    on = rows[pareto_mask(points, directions)]
    ascending = directions[0] != "maximize"
    on = on.sort_values([columns[0], "number"], ascending=[ascending, True], kind="stable")
    return tuple(int(n) for n in on["number"])


@dataclass(frozen=True, kw_only=True)
class ParetoInfo:
    """The study's Pareto front and why trials are not on it.

    Attributes:
        objectives: Objective names (the study's, in value order).
        directions: Their directions.
        candidates: Numbers of the trials that took part (feasible, COMPLETE, finite values).
        front: Numbers of the trials on the front, best first in the first objective.
        infeasible: COMPLETE trials that violate a constraint (e.g. over the byte budget).
        not_complete: Trial numbers per state other than COMPLETE (FAIL, PRUNED, RUNNING, ...).
        duplicates: COMPLETE trials that took the results of an earlier trial of the same
            candidate, by number, with the number they repeat.
        pairwise: For each x axis in ``PAIRWISE_AXES`` with data, the front of the task metric
            against it (numbers, best metric first).
    """

    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    candidates: tuple[int, ...]
    front: tuple[int, ...]
    infeasible: tuple[int, ...]
    not_complete: dict[str, tuple[int, ...]]
    pairwise: dict[str, tuple[int, ...]]
    duplicates: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "objectives": list(self.objectives),
            "directions": list(self.directions),
            "candidates": list(self.candidates),
            "front": list(self.front),
            "infeasible": list(self.infeasible),
            "not_complete": {k: list(v) for k, v in self.not_complete.items()},
            "pairwise": {k: list(v) for k, v in self.pairwise.items()},
            "duplicates": {str(k): v for k, v in self.duplicates.items()},
        }


def pareto_info(frame: pd.DataFrame, meta: StudyMeta) -> ParetoInfo:
    """Compute the study's front and the two-dimensional fronts of the metric.

    Args:
        frame: The trials frame.
        meta: The study's metadata (objectives and directions).

    Returns:
        The record.
    """
    columns = [f"values_{name}" for name in meta.objectives]
    rows = candidate_rows(frame, columns)
    front = _front_numbers(rows, columns, meta.directions) if len(rows) else ()
    pairwise: dict[str, tuple[int, ...]] = {}
    for axis in PAIRWISE_AXES:
        pair = candidate_rows(frame, ["metric", axis])
        if len(pair):
            pairwise[axis] = _front_numbers(
                pair, ["metric", axis], [meta.metric_direction, "minimize"]
            )
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    infeasible = complete[~complete["feasible"].astype(bool)] if len(complete) else complete
    not_complete: dict[str, tuple[int, ...]] = {}
    for state, group in frame[frame["state"] != "COMPLETE"].groupby("state") if len(frame) else []:
        not_complete[str(state)] = tuple(int(n) for n in group["number"])
    return ParetoInfo(
        objectives=meta.objectives,
        directions=meta.directions,
        candidates=tuple(int(n) for n in rows["number"]),
        front=front,
        infeasible=tuple(int(n) for n in infeasible["number"]),
        not_complete=not_complete,
        pairwise=pairwise,
        duplicates={
            int(n): int(d)
            for n, d in zip(complete["number"], complete["duplicate_of"], strict=True)
            if pd.notna(d)
        }
        if len(complete) and "duplicate_of" in complete
        else {},
    )
