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

import numpy as np
import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.reports._explain import explain_choice, explain_none
from prunefront.reports._frame import StudyMeta
from prunefront.reports._pareto import candidate_rows, pareto_mask
from prunefront.reports._selection import Binding, Requirements, Selection

__all__ = ["select_trial"]


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
