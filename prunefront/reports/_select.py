"""Choose one trial to ship: the user's deployment requirements, then a stated preference.

The choice is made among the Pareto-optimal trials (over the study's objectives) of the feasible
COMPLETE trials that meet every requirement. A value that was not measured never meets a bound.
Preferences:

- ``metric``: the best task metric (ties: faster, then less energy, then fewer bytes).
- ``latency``: the lowest latency (ties: better metric).
- ``energy``: the lowest energy per inference (ties: better metric).
- ``knee``: the front point closest (Euclidean) to the utopia point after normalisation: each
  objective is scaled over the choice set so that its best value is 0 and its worst is 1; the
  utopia point is all zeros. An objective on which all choices agree contributes nothing.

When no trial meets the requirements, the record names the binding requirement (the one that
excludes the most trials) and the closest trial with its shortfall on each requirement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.reports._frame import StudyMeta
from prunefront.reports._pareto import candidate_rows, pareto_mask

__all__ = ["PREFERENCES", "Binding", "Requirements", "Selection", "select_trial"]

PREFERENCES = ("metric", "latency", "energy", "knee")


def _check_bound(key: str, value: float | None, *, positive: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or (positive and value <= 0):
        valid = "a positive number" if positive else "a finite number"
        raise PrunefrontError(f"{key} must be {valid}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Requirements:
    """Deployment requirements (every bound inclusive) and the preference among what is left.

    Attributes:
        min_metric: The task metric must be >= this (whatever its direction).
        max_metric: The task metric must be <= this (e.g. a perplexity ceiling).
        max_latency_ms: Latency (median) must be <= this.
        max_energy_mj: Energy per inference must be <= this.
        max_bytes: Footprint must be <= this many bytes.
        prefer: One of ``PREFERENCES``.
    """

    min_metric: float | None = None
    max_metric: float | None = None
    max_latency_ms: float | None = None
    max_energy_mj: float | None = None
    max_bytes: int | None = None
    prefer: str = "metric"

    def __post_init__(self) -> None:
        if self.prefer not in PREFERENCES:
            raise PrunefrontError(
                f"--prefer must be one of {', '.join(PREFERENCES)}, got {self.prefer!r}"
            )
        _check_bound("--min-metric", self.min_metric, positive=False)
        _check_bound("--max-metric", self.max_metric, positive=False)
        _check_bound("--max-latency-ms", self.max_latency_ms, positive=True)
        _check_bound("--max-energy-mj", self.max_energy_mj, positive=True)
        _check_bound("--max-bytes", self.max_bytes, positive=True)
        if (
            self.min_metric is not None
            and self.max_metric is not None
            and self.min_metric > self.max_metric
        ):
            raise PrunefrontError(
                f"--min-metric {self.min_metric} is above --max-metric {self.max_metric}"
            )

    def bounds(self, metric_name: str) -> list[tuple[str, str, str, float]]:
        """``(label, column, op, value)`` per given bound; op is ``>=`` or ``<=``."""
        spec = [
            (self.min_metric, "metric", ">=", metric_name),
            (self.max_metric, "metric", "<=", metric_name),
            (self.max_latency_ms, "latency_ms", "<=", "latency_ms"),
            (self.max_energy_mj, "energy_mj", "<=", "energy_mj"),
            (self.max_bytes, "footprint_bytes", "<=", "footprint_bytes"),
        ]
        return [
            (f"{name} {op} {value:g}", col, op, float(value))
            for value, col, op, name in spec
            if value is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Binding:
    """Why nothing was chosen.

    Attributes:
        requirement: The binding requirement (excludes the most trials).
        excluded: Per requirement, how many feasible complete trials it excludes.
        closest_trial: The trial nearest to meeting them all: fewest unmeasured values, then
            the smallest sum of shortfalls relative to each bound.
        shortfall: Per requirement that trial misses, by how much in the measure's unit
            (None where the value was not measured).
    """

    requirement: str
    excluded: dict[str, int]
    closest_trial: int | None
    shortfall: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """The outcome of ``select_trial``.

    Attributes:
        requirements: What was asked.
        considered: Feasible COMPLETE trials with every objective value.
        eligible: Those meeting every requirement.
        front: The Pareto-optimal trials among ``eligible`` (the choice set).
        chosen: The chosen trial, or None when no trial meets the requirements.
        runner_up: The next best by the same preference, or None.
        explanation: One paragraph saying why.
        binding: Set when nothing was chosen.
        scores: For ``knee``, each front trial's distance to the utopia point.
    """

    requirements: Requirements
    considered: tuple[int, ...]
    eligible: tuple[int, ...]
    front: tuple[int, ...]
    chosen: int | None
    runner_up: int | None
    explanation: str
    binding: Binding | None = None
    scores: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "requirements": self.requirements.to_dict(),
            "considered": list(self.considered),
            "eligible": list(self.eligible),
            "front": list(self.front),
            "chosen": self.chosen,
            "runner_up": self.runner_up,
            "explanation": self.explanation,
            "binding": self.binding.to_dict() if self.binding else None,
            "scores": {str(k): v for k, v in self.scores.items()},
        }


def _meets(values: pd.Series, op: str, bound: float) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    return numbers >= bound if op == ">=" else numbers <= bound  # NaN compares False


def _binding(pool: pd.DataFrame, bounds: list[tuple[str, str, str, float]]) -> Binding:
    excluded = {label: int((~_meets(pool[col], op, b)).sum()) for label, col, op, b in bounds}
    requirement = max(excluded, key=lambda k: excluded[k])
    # Closest: fewest unmeasured values first, then the smallest shortfall relative to each bound.
    best: tuple[int, float, int] | None = None
    shortfalls: dict[int, dict[str, float | None]] = {}
    for _, row in pool.iterrows():
        total, unmeasured = 0.0, 0
        misses: dict[str, float | None] = {}
        for label, col, op, b in bounds:
            value = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
            if pd.isna(value):
                unmeasured += 1
                misses[label] = None
                continue
            gap = (b - value) if op == ">=" else (value - b)
            if gap > 0:
                misses[label] = float(gap)
                total += gap / (abs(b) or 1.0)
        number = int(row["number"])
        shortfalls[number] = misses
        if best is None or (unmeasured, total, number) < best:
            best = (unmeasured, total, number)
    closest = best[2] if best is not None else None
    return Binding(
        requirement=requirement,
        excluded=excluded,
        closest_trial=closest,
        shortfall=shortfalls.get(closest, {}) if closest is not None else {},
    )


def _rank(front: pd.DataFrame, meta: StudyMeta, prefer: str) -> tuple[list[int], dict[int, float]]:
    sign = -1.0 if meta.metric_direction == "maximize" else 1.0
    ranked = front.assign(_metric=front["metric"] * sign)
    scores: dict[int, float] = {}
    if prefer == "knee":
        columns = [f"values_{o}" for o in meta.objectives]
        signs = np.array([-1.0 if d == "maximize" else 1.0 for d in meta.directions])
        loss = front[columns].to_numpy(dtype=float) * signs
        low, span = loss.min(axis=0), np.ptp(loss, axis=0)
        scaled = np.where(span > 0, (loss - low) / np.where(span > 0, span, 1.0), 0.0)
        distance = np.sqrt((scaled**2).sum(axis=1))
        scores = {int(n): float(d) for n, d in zip(front["number"], distance, strict=True)}
        ranked = ranked.assign(_score=distance)
        keys = ["_score", "_metric", "latency_ms", "number"]
    elif prefer == "latency":
        keys = ["latency_ms", "_metric", "energy_mj", "number"]
    elif prefer == "energy":
        if front["energy_mj"].isna().all():
            raise PrunefrontError(
                "--prefer energy: no eligible trial has an energy value (energy was not measured); "
                "use --prefer metric, latency or knee"
            )
        keys = ["energy_mj", "_metric", "latency_ms", "number"]
    else:
        keys = ["_metric", "latency_ms", "energy_mj", "footprint_bytes", "number"]
    ranked = ranked.sort_values(keys, na_position="last", kind="stable")
    return [int(n) for n in ranked["number"]], scores


def select_trial(frame: pd.DataFrame, meta: StudyMeta, requirements: Requirements) -> Selection:
    """Choose the trial to deploy.

    Args:
        frame: The trials frame.
        meta: The study's metadata.
        requirements: Bounds and preference.

    Returns:
        The selection; ``chosen`` is None when no trial meets the requirements.

    Raises:
        PrunefrontError: the study has no feasible complete trial, or ``--prefer energy``
            without any energy value.
    """
    from prunefront.reports._explain import explain_choice, explain_none

    pool = candidate_rows(frame, [f"values_{o}" for o in meta.objectives])
    if pool.empty:
        states = frame["state"].value_counts().to_dict() if len(frame) else {}
        seen = ", ".join(f"{n} {str(s).lower()}" for s, n in states.items()) or "no trials"
        raise PrunefrontError(
            f"study {meta.study_name!r} has no complete feasible trial to select from ({seen})"
        )
    bounds = requirements.bounds(meta.metric_name)
    ok = pd.Series(True, index=pool.index)
    for _, col, op, bound in bounds:
        ok &= _meets(pool[col], op, bound)
    eligible = pool[ok]
    considered = tuple(int(n) for n in pool["number"])
    if eligible.empty:
        binding = _binding(pool, bounds)
        return Selection(
            requirements=requirements,
            considered=considered,
            eligible=(),
            front=(),
            chosen=None,
            runner_up=None,
            explanation=explain_none(pool, meta, binding, bounds),
            binding=binding,
        )
    columns = [f"values_{o}" for o in meta.objectives]
    front = eligible[pareto_mask(eligible[columns].to_numpy(dtype=float), meta.directions)]
    order, scores = _rank(front, meta, requirements.prefer)
    runner_up = order[1] if len(order) > 1 else None
    if runner_up is None and len(eligible) > 1:
        # One point on the front: the runner-up is the best of the rest (knee needs a front).
        fallback = requirements.prefer if requirements.prefer in ("metric", "latency") else "metric"
        rest, _ = _rank(eligible[eligible["number"] != order[0]], meta, fallback)
        runner_up = rest[0]
    selection = Selection(
        requirements=requirements,
        considered=considered,
        eligible=tuple(int(n) for n in eligible["number"]),
        front=tuple(order),
        chosen=order[0],
        runner_up=runner_up,
        explanation="",
        scores=scores,
    )
    return Selection(
        **{**selection.__dict__, "explanation": explain_choice(frame, meta, selection)}
    )
