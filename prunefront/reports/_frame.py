"""A study as data: its metadata (``StudyMeta``) and one DataFrame row per trial.

Everything downstream (fronts, tables, selection, renderers) reads these two, never the study, so
tests can build them from synthetic studies and assert on plain numbers.

Columns of the trials frame: ``number``, ``state``, ``datetime_start``, ``datetime_complete``,
``duration_s``, ``params_<name>``, ``values_<objective>`` (the trial values by objective name),
``constraint_<key>`` and ``feasible`` (every constraint <= 0), every user attribute under its own
name (``user_attrs_<name>`` if it collides with one of the columns above), and the derived
``metric`` (the task metric), ``sparsity`` (target, else actual) and ``family``
(``large-sparse`` when sparsity > 0, else ``small-dense``; a seeded pair's label wins).

Both take ``target``: the name of a target the study's trials were measured on again
(``prunefront reprofile``); the frame then carries that target's latency and energy (and the
meta its device), so everything computed from them is that target's view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd

from prunefront.reports._target_frame import swap_target, target_inputs
from prunefront.studies import (
    STUDY_CONFIG,
    STUDY_DEVICE,
    STUDY_FINAL_LATENCY,
    STUDY_FORMAT_VERSION,
    STUDY_METRIC,
    STUDY_OBJECTIVES,
    STUDY_PAIR_LATENCY,
    STUDY_SEARCH_COST,
    TrialKey,
    read_trial_attrs,
)

__all__ = ["LARGE_SPARSE", "SMALL_DENSE", "StudyMeta", "study_meta", "trials_frame"]

LARGE_SPARSE = "large-sparse"
SMALL_DENSE = "small-dense"
# A dense model trained without pruning has (almost) no exact zeros; below this it counts dense.
_DENSE_SPARSITY = 1e-3

_NUMERIC = (
    TrialKey.WIDTH,
    TrialKey.SPARSITY_TARGET,
    TrialKey.SPARSITY_ACTUAL,
    TrialKey.PARAMS_TOTAL,
    TrialKey.PARAMS_NONZERO,
    TrialKey.FOOTPRINT_BYTES,
    TrialKey.FOOTPRINT_PREDICTED_BYTES,
    TrialKey.BUDGET_BYTES,
    TrialKey.ISO_LEVEL_BYTES,
    TrialKey.METRIC_VALUE,
    TrialKey.LATENCY_MS,
    TrialKey.LATENCY_P90_MS,
    TrialKey.LATENCY_IQR_MS,
    TrialKey.ENERGY_MJ,
    TrialKey.PEAK_MEMORY_BYTES,
    TrialKey.FILE_BYTES,
    TrialKey.TRAIN_SECONDS,
    TrialKey.PROFILE_SECONDS,
    TrialKey.SEED,
    TrialKey.PAIR_SEED,
)
_TEXT = (
    TrialKey.PATTERN,
    TrialKey.SEEDED,
    TrialKey.LATENCY_KIND,
    TrialKey.LATENCY_METHOD,
    TrialKey.LATENCY_STRATEGY,
    TrialKey.ENERGY_KIND,
    TrialKey.ENERGY_METHOD,
    TrialKey.ENERGY_REASON,
    TrialKey.FOOTPRINT_FORMAT,
    TrialKey.FAIL_REASON,
    TrialKey.PRUNED_REASON,
)


@dataclass(frozen=True, kw_only=True)
class StudyMeta:
    """What the study says about itself (its user attributes and directions).

    Attributes:
        study_name: The study's name.
        objectives: Objective names in the order of the trial values.
        directions: ``"maximize"`` or ``"minimize"`` per objective.
        metric_name: The task metric's name (e.g. ``accuracy``).
        metric_direction: ``"maximize"`` or ``"minimize"``.
        device: The target's description.
        config: The run configuration that created the study (``RunConfig.to_dict()``).
        search_cost: The search's own cost, per worker (from the ``search_cost`` attribute and
            every ``search_cost:<worker>:<start>`` attribute a worker stored).
        format_version: The study's prunefront schema version; None for a study that
            prunefront did not write.
        budget_bytes: The footprint budget the search ran under (``budget.bytes``, else the
            trials' ``budget_bytes``; None when neither is recorded).
        final_latency: The final front re-measured side by side (``final_latency``).
        pair_latency: Per level, the pair's latency ratio measured side by side.
    """

    study_name: str
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    metric_name: str = "metric"
    metric_direction: str = "maximize"
    device: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    search_cost: dict[str, Any] = field(default_factory=dict)
    format_version: int | None = None
    final_latency: dict[str, Any] = field(default_factory=dict)
    pair_latency: dict[str, Any] = field(default_factory=dict)
    budget_bytes: int | None = None

    @property
    def task_ref(self) -> str | None:
        """The task reference of the run configuration, if recorded."""
        task = self.config.get("task")
        ref = task.get("ref") if isinstance(task, dict) else None
        return str(ref) if ref else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "study_name": self.study_name,
            "objectives": list(self.objectives),
            "directions": list(self.directions),
            "metric": {"name": self.metric_name, "direction": self.metric_direction},
            "task": self.task_ref,
            "device": self.device,
            "search_cost": self.search_cost,
            "format_version": self.format_version,
        }


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _search_cost(attrs: dict[str, Any]) -> dict[str, Any]:
    """Per-worker cost records: the ``search_cost`` dict and every ``search_cost:<worker>:<t>``."""
    cost = _as_dict(attrs.get(STUDY_SEARCH_COST))
    prefix = f"{STUDY_SEARCH_COST}:"
    for key in sorted(attrs):
        if key.startswith(prefix) and isinstance(attrs[key], dict):
            cost[key.removeprefix(prefix)] = dict(attrs[key])
    return cost


def _budget(study: optuna.Study) -> int | None:
    budget = _as_dict(study.user_attrs.get(STUDY_CONFIG)).get("budget")
    value = budget.get("bytes") if isinstance(budget, dict) else None
    if isinstance(value, int):
        return value
    for trial in study.get_trials(deepcopy=False):  # budget.bytes unset: the search's default
        recorded = trial.user_attrs.get(TrialKey.BUDGET_BYTES)
        if isinstance(recorded, int):
            return recorded
    return None


def study_meta(study: optuna.Study, target: str | None = None) -> StudyMeta:
    """Read a study's metadata, with defaults where an attribute is missing.

    Args:
        study: The study.
        target: A reprofiled target's name: its device, and only the objectives it measured
            (a target without energy values has no ``energy_mj`` objective).

    Returns:
        Its metadata; objective names default to ``metric``, ``latency_ms``, ``energy_mj``,
        ``footprint_bytes`` (in that order) when the ``objectives`` attribute is absent.
    """
    attrs = study.user_attrs
    version = attrs.get(STUDY_FORMAT_VERSION)
    directions = tuple(d.name.lower() for d in study.directions)
    objectives = attrs.get(STUDY_OBJECTIVES)
    if not isinstance(objectives, list) or len(objectives) != len(directions):
        defaults = ("metric", "latency_ms", "energy_mj", "footprint_bytes")
        objectives = [
            defaults[i] if i < len(defaults) else f"objective_{i}" for i in range(len(directions))
        ]
    objectives = tuple(str(o) for o in objectives)
    metric = _as_dict(attrs.get(STUDY_METRIC))
    direction = metric.get("direction")
    if direction not in ("maximize", "minimize"):
        direction = directions[objectives.index("metric")] if "metric" in objectives else "maximize"
    device = _as_dict(attrs.get(STUDY_DEVICE))
    if target is not None:
        record, profiles = target_inputs(attrs, target)
        device = {**record.device, "target": record.name, "settings": record.settings}
        kept = [
            i
            for i, name in enumerate(objectives)
            if name != "energy_mj" or any(p.energy_mj is not None for p in profiles.values())
        ]
        objectives = tuple(objectives[i] for i in kept)
        directions = tuple(directions[i] for i in kept)
    return StudyMeta(
        study_name=study.study_name,
        objectives=objectives,
        directions=directions,
        metric_name=str(metric.get("name") or "metric"),
        metric_direction=str(direction),
        device=device,
        config=_as_dict(attrs.get(STUDY_CONFIG)),
        search_cost=_search_cost(attrs),
        format_version=version if isinstance(version, int) else None,
        budget_bytes=_budget(study),
        # Side-by-side re-measurements were made on the search's target, not on another one.
        final_latency={} if target is not None else _as_dict(attrs.get(STUDY_FINAL_LATENCY)),
        pair_latency={} if target is not None else _as_dict(attrs.get(STUDY_PAIR_LATENCY)),
    )


def _trial_row(trial: optuna.trial.FrozenTrial, objectives: tuple[str, ...]) -> dict[str, Any]:
    start, end = trial.datetime_start, trial.datetime_complete
    row: dict[str, Any] = {
        "number": trial.number,
        "state": trial.state.name,
        "datetime_start": start,
        "datetime_complete": end,
        "duration_s": (end - start).total_seconds() if start and end else math.nan,
    }
    for name, value in trial.params.items():
        row[f"params_{name}"] = value
    values = trial.values or []
    for i, name in enumerate(objectives):
        row[f"values_{name}"] = values[i] if i < len(values) else math.nan
    constraints = trial.constraints
    for key, value in constraints.items():
        row[f"constraint_{key}"] = value
    row["feasible"] = all(v <= 0.0 for v in constraints.values())
    fixed = set(row)
    # Dicts and lists as such, also where an older study stored them as JSON text.
    for key, value in read_trial_attrs(trial.user_attrs).items():
        if key == TrialKey.SPARSITY:
            continue  # the same as sparsity_target; the frame derives its own ``sparsity``
        row[f"user_attrs_{key}" if key in fixed else key] = value
    return row


def _family(seeded: Any, sparsity: float) -> str | None:
    if seeded in (LARGE_SPARSE, SMALL_DENSE):
        return str(seeded)
    if math.isnan(sparsity):
        return None
    return LARGE_SPARSE if sparsity > _DENSE_SPARSITY else SMALL_DENSE


def trials_frame(
    study: optuna.Study, meta: StudyMeta | None = None, target: str | None = None
) -> pd.DataFrame:
    """One row per trial (every state), ordered by trial number.

    Args:
        study: The study.
        meta: Its metadata (read from the study when omitted).
        target: A reprofiled target's name: its measurements replace the search's.

    Returns:
        The trials frame (columns described in the module docstring); zero rows for an empty
        study, with every derived column present.
    """
    meta = meta or study_meta(study, target)
    profiles = target_inputs(study.user_attrs, target)[1] if target is not None else None
    # Trial values follow the study's objectives, whatever a target's meta leaves out.
    stored = study_meta(study).objectives if target is not None else meta.objectives
    rows = [_trial_row(t, stored) for t in study.get_trials(deepcopy=False)]
    frame = pd.DataFrame.from_records(rows)
    for column in ("number", "state", "datetime_start", "datetime_complete", "duration_s"):
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    for name in stored:
        frame[f"values_{name}"] = pd.to_numeric(frame.get(f"values_{name}"), errors="coerce")
    for column in _NUMERIC:
        if column not in frame and f"params_{column}" in frame:
            frame[column] = frame[f"params_{column}"]
        frame[column] = (
            pd.to_numeric(frame[column], errors="coerce") if column in frame else math.nan
        )
    for column in _TEXT:
        if column not in frame:
            frame[column] = frame.get(f"params_{column}", None)
    if "feasible" not in frame:
        frame["feasible"] = pd.Series(dtype=bool)
    metric_col = "values_metric" if "metric" in meta.objectives else "metric_value"
    frame["metric"] = frame[metric_col].where(frame[metric_col].notna(), frame["metric_value"])
    frame["sparsity"] = frame["sparsity_target"].where(
        frame["sparsity_target"].notna(), frame["sparsity_actual"]
    )
    frame["family"] = [
        _family(seeded, float(s))
        for seeded, s in zip(frame["seeded"], frame["sparsity"], strict=True)
    ]
    _use_final_latency(frame, meta)
    if profiles is not None and target is not None:
        frame = swap_target(frame, target, profiles)
    return frame.sort_values("number", kind="stable").reset_index(drop=True)


def _use_final_latency(frame: pd.DataFrame, meta: StudyMeta) -> None:
    """Where the final front was re-measured side by side, those latencies replace the trial's
    own (kept as ``latency_first_ms``): fronts, tables and ``select`` compare like with like."""
    frame["latency_first_ms"] = frame["latency_ms"]
    frame["latency_remeasured"] = False
    final = meta.final_latency.get("trials")
    if not isinstance(final, dict) or frame.empty:
        return
    for key, record in final.items():
        value = record.get("latency_ms") if isinstance(record, dict) else None
        if not isinstance(value, int | float):
            continue
        rows = frame["number"] == int(key)
        frame.loc[rows, "latency_ms"] = float(value)
        frame.loc[rows, "latency_remeasured"] = True
        if "values_latency_ms" in frame:
            frame.loc[rows, "values_latency_ms"] = float(value)
