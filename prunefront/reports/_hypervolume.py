"""Hypervolume of the front so far, after each completed trial: how the search progressed.

The hypervolume is exact in any number of objectives (Optuna's WFG implementation, with the
closed-form 2-D and 3-D cases). Its reference point is derived from the data and recorded: per
objective, the worst value among the feasible completed trials, moved 10 % of the observed range
further in the bad direction (so every trial adds volume, extreme ones included). ``normalized``
divides by the volume of the box between the ideal point (best value per objective) and the
reference point, so 1.0 would be a single trial best in everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from optuna._hypervolume import compute_hypervolume

from prunefront.reports._frame import StudyMeta
from prunefront.reports._pareto import candidate_rows

__all__ = ["HypervolumeInfo", "hypervolume_history"]

_MARGIN = 0.1


@dataclass(frozen=True, kw_only=True)
class HypervolumeInfo:
    """Hypervolume after each completed trial, in completion order.

    Attributes:
        objectives: Objective names.
        directions: Their directions.
        reference_point: Per objective, in its own units (worse than every feasible trial).
        ideal_point: Per objective, the best value seen.
        trials: Numbers of the COMPLETE trials in completion order (infeasible ones included:
            they leave the hypervolume unchanged).
        hypervolume: The hypervolume after each of ``trials`` (product of the objectives' units).
        normalized: The same divided by the ideal-to-reference box volume.
    """

    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    reference_point: tuple[float, ...]
    ideal_point: tuple[float, ...]
    trials: tuple[int, ...]
    hypervolume: tuple[float, ...]
    normalized: tuple[float, ...]

    @property
    def final(self) -> float:
        """The hypervolume after the last completed trial (0.0 with none)."""
        return self.hypervolume[-1] if self.hypervolume else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def _bounds(loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best, worst = loss.min(axis=0), loss.max(axis=0)
    span = worst - best
    fallback = np.where(np.abs(worst) > 0, np.abs(worst), 1.0)
    margin = _MARGIN * np.where(span > 0, span, fallback)
    return best, worst + margin


def hypervolume_history(frame: pd.DataFrame, meta: StudyMeta) -> HypervolumeInfo:
    """Compute the hypervolume after each completed trial.

    Args:
        frame: The trials frame.
        meta: The study's metadata (objectives and directions).

    Returns:
        The record; empty sequences and NaN points when no trial is a candidate.
    """
    columns = [f"values_{name}" for name in meta.objectives]
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in meta.directions])
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    complete = complete.sort_values(
        ["datetime_complete", "number"], na_position="last", kind="stable"
    )
    rows = candidate_rows(frame, columns)
    nan = tuple(math.nan for _ in columns)
    if rows.empty:
        n = len(complete)
        return HypervolumeInfo(
            objectives=meta.objectives,
            directions=meta.directions,
            reference_point=nan,
            ideal_point=nan,
            trials=tuple(int(t) for t in complete["number"]),
            hypervolume=(0.0,) * n,
            normalized=(0.0,) * n,
        )
    losses = {
        int(r["number"]): r[columns].to_numpy(dtype=float) * signs for _, r in rows.iterrows()
    }
    best, reference = _bounds(np.array(list(losses.values())))
    box = float(np.prod(reference - best))
    so_far: list[np.ndarray] = []
    volumes: list[float] = []
    for number in complete["number"]:
        point = losses.get(int(number))
        if point is not None:
            so_far.append(point)
            volumes.append(float(compute_hypervolume(np.array(so_far), reference)))
        else:
            volumes.append(volumes[-1] if volumes else 0.0)
    return HypervolumeInfo(
        objectives=meta.objectives,
        directions=meta.directions,
        reference_point=tuple(float(v) for v in reference * signs),
        ideal_point=tuple(float(v) for v in best * signs),
        trials=tuple(int(t) for t in complete["number"]),
        hypervolume=tuple(volumes),
        normalized=tuple(v / box if box > 0 else 0.0 for v in volumes),
    )
