"""Everything a report shows, computed once: ``ReportData`` and the records it is made of.

``build_report(study)`` reads the study into the trials frame and computes the fronts, the
iso-footprint table, the hypervolume history, trials per state, failures with reasons, the
provenance of every number and the search's own cost. Renderers only draw this record; tests
assert on it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd

from prunefront.reports._frame import StudyMeta, study_meta, trials_frame
from prunefront.reports._hypervolume import HypervolumeInfo, hypervolume_history
from prunefront.reports._iso import IsoTable, iso_footprint_table
from prunefront.reports._pareto import ParetoInfo, pareto_info
from prunefront.reports._targets import targets_info
from prunefront.reports._verdict import Verdict, verdict

if TYPE_CHECKING:
    from prunefront.reports._targets import TargetsInfo

__all__ = ["Failure", "Provenance", "ReportData", "SearchCost", "build_report", "report_data"]

_STATES = ("COMPLETE", "FAIL", "PRUNED", "RUNNING", "WAITING")
_PROVENANCE_KEYS = (
    "latency_kind",
    "latency_method",
    "latency_strategy",
    "energy_kind",
    "energy_method",
    "energy_reason",
    "warm_start",
    "host",
    "device",
)
_NO_REASON = {
    "FAIL": "no reason recorded (the worker may have died)",
    "PRUNED": "stopped early (no reason recorded)",
}


@dataclass(frozen=True, kw_only=True)
class Failure:
    """A trial that did not produce a usable candidate, and why.

    Attributes:
        trial: Trial number.
        state: ``FAIL``, ``PRUNED`` or ``INFEASIBLE`` (complete, but a constraint is violated).
        reason: The recorded reason, one line.
    """

    trial: int
    state: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {"trial": self.trial, "state": self.state, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """How every number was obtained.

    Attributes:
        device: The study's description of the target.
        counts: Per attribute (``latency_kind``, ``latency_method``, ``latency_strategy``,
            ``energy_kind``, ``energy_method``, ``energy_reason``, ...), the number of COMPLETE
            trials with each value (``"(none)"`` where the attribute is absent).
        measurements: Per ``name / kind / method`` of the stored measurement records, the count.
        strategy_by_trial: The execution strategy whose latency each COMPLETE trial reports.
        versions: Each distinct set of library versions and the trials that ran with it.
    """

    device: dict[str, Any]
    counts: dict[str, dict[str, int]]
    measurements: dict[str, int]
    strategy_by_trial: dict[int, str]
    versions: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "device": self.device,
            "counts": self.counts,
            "measurements": self.measurements,
            "strategy_by_trial": {str(k): v for k, v in self.strategy_by_trial.items()},
            "versions": list(self.versions),
        }


@dataclass(frozen=True, kw_only=True)
class SearchCost:
    """What the search itself cost.

    Attributes:
        per_worker: The study's ``search_cost`` attribute, per worker.
        totals: Every numeric field summed over the workers.
        trial_seconds: Sum of the trials' durations.
        train_seconds: Sum of the trials' training time.
        profile_seconds: Sum of the trials' profiling time.
        wall_seconds: First trial start to last trial completion.
    """

    per_worker: dict[str, Any]
    totals: dict[str, float]
    trial_seconds: float
    train_seconds: float
    profile_seconds: float
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True, eq=False)
class ReportData:
    """The whole report as data.

    Attributes:
        meta: The study's metadata.
        frame: One row per trial (see ``trials_frame``).
        pareto: The fronts.
        iso: The iso-footprint table.
        hypervolume: Hypervolume after each completed trial.
        states: Number of trials per state (every Optuna state listed, zeros included).
        failures: Failed, pruned and infeasible trials with their reasons.
        provenance: How each number was obtained.
        cost: The search's own cost.
        notes: Sentences a reader must see (e.g. "no complete trial yet").
        target: The target whose measurements this report shows (``search``: the search's).
        targets: Every target's front and which configuration wins where (None when the
            study was measured on its own target only).
        verdict: The answer first: per level, who wins on each measure, in words.
    """

    meta: StudyMeta
    frame: pd.DataFrame
    pareto: ParetoInfo
    iso: IsoTable
    hypervolume: HypervolumeInfo
    states: dict[str, int]
    failures: tuple[Failure, ...]
    provenance: Provenance
    cost: SearchCost
    notes: tuple[str, ...] = field(default_factory=tuple)
    target: str = "search"
    targets: TargetsInfo | None = None
    verdict: Verdict = field(default_factory=lambda: Verdict(lines=(), levels=()))

    def to_dict(self) -> dict[str, Any]:
        """Everything but the frame, JSON-ready (``summary.json``)."""
        return {
            "study": self.meta.to_dict(),
            "verdict": self.verdict.to_dict(),
            "budget_bytes": self.meta.budget_bytes,
            "trials": len(self.frame),
            "states": self.states,
            "pareto": self.pareto.to_dict(),
            "iso_footprint": self.iso.to_dict(),
            "hypervolume": self.hypervolume.to_dict(),
            "failures": [f.to_dict() for f in self.failures],
            "provenance": self.provenance.to_dict(),
            "search_cost": self.cost.to_dict(),
            "notes": list(self.notes),
            "target": self.target,
            "targets": self.targets.to_dict() if self.targets is not None else None,
        }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dict | list):
        value = json.dumps(value)  # as older studies stored it
    return " ".join(str(value).split())


def _failures(frame: pd.DataFrame) -> tuple[Failure, ...]:
    found: list[Failure] = []
    for _, row in frame.iterrows():
        state = str(row["state"])
        if state in _NO_REASON:
            key = "fail_reason" if state == "FAIL" else "pruned_reason"
            reason = _text(row.get(key)) or _NO_REASON[state]
            found.append(Failure(trial=int(row["number"]), state=state, reason=reason))
        elif state == "COMPLETE" and not bool(row["feasible"]):
            violated = [
                f"constraint {c.removeprefix('constraint_')} exceeded by {row[c]:,.6g}"
                for c in frame.columns
                if c.startswith("constraint_") and pd.notna(row[c]) and row[c] > 0
            ]
            reason = "; ".join(violated) or "a constraint is violated"
            found.append(Failure(trial=int(row["number"]), state="INFEASIBLE", reason=reason))
    return tuple(found)


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        return []
    try:
        loaded = json.loads(value)
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def _provenance(frame: pd.DataFrame, meta: StudyMeta) -> Provenance:
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    counts: dict[str, dict[str, int]] = {}
    for key in _PROVENANCE_KEYS:
        if key in complete and complete[key].notna().any():
            values = (_text(v) or "(none)" for v in complete[key])
            counts[key] = dict(Counter(values).most_common())
    measured: Counter[str] = Counter()
    for records in complete.get("measurements", pd.Series(dtype=object)):
        for m in _json_list(records):
            if isinstance(m, dict):
                measured[f"{m.get('name')} / {m.get('kind')} / {m.get('method')}"] += 1
    groups: dict[str, list[int]] = {}
    for number, versions in zip(
        frame["number"], frame.get("versions", [None] * len(frame)), strict=True
    ):
        if isinstance(versions, dict) and versions:
            versions = json.dumps(versions)  # as older studies stored it: one group per text
        if isinstance(versions, str) and versions:
            groups.setdefault(versions, []).append(int(number))
    version_sets = []
    for text, numbers in groups.items():
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = text
        version_sets.append({"versions": parsed, "trials": numbers})
    strategies = {
        int(n): str(s)
        for n, s in zip(complete["number"], complete["latency_strategy"], strict=True)
        if _text(s)
    }
    return Provenance(
        device=meta.device,
        counts=counts,
        measurements=dict(measured.most_common()),
        strategy_by_trial=strategies,
        versions=tuple(version_sets),
    )


def _total(frame: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(frame[column], errors="coerce").sum()) if len(frame) else 0.0


def _cost(frame: pd.DataFrame, meta: StudyMeta) -> SearchCost:
    raw = meta.search_cost
    per_worker = (
        raw
        if raw and all(isinstance(v, dict) for v in raw.values())
        else ({"all": raw} if raw else {})
    )
    totals: dict[str, float] = {}
    for record in per_worker.values():
        for key, value in record.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0.0) + float(value)
    starts = pd.to_datetime(frame["datetime_start"]).dropna() if len(frame) else []
    ends = pd.to_datetime(frame["datetime_complete"]).dropna() if len(frame) else []
    wall = (max(ends) - min(starts)).total_seconds() if len(starts) and len(ends) else 0.0
    return SearchCost(
        per_worker=per_worker,
        totals=totals,
        trial_seconds=_total(frame, "duration_s"),
        train_seconds=_total(frame, "train_seconds"),
        profile_seconds=_total(frame, "profile_seconds"),
        wall_seconds=float(wall),
    )


def _notes(meta: StudyMeta, states: dict[str, int], pareto: ParetoInfo) -> tuple[str, ...]:
    notes: list[str] = []
    if meta.format_version is None:
        notes.append(
            "this study was not written by prunefront (no 'prunefront_format' attribute): "
            "candidate configurations and measurement kinds are missing"
        )
    if states.get("COMPLETE", 0) == 0:
        others = ", ".join(f"{n} {s.lower()}" for s, n in states.items() if n) or "no trials"
        notes.append(f"no complete trial yet ({others}): there is no front to show")
    elif not pareto.candidates:
        notes.append("no complete trial satisfies the constraints: there is no feasible front")
    if states.get("RUNNING", 0):
        notes.append(f"{states['RUNNING']} trial(s) still running: the search may not be finished")
    return tuple(notes)


def report_data(frame: pd.DataFrame, meta: StudyMeta) -> ReportData:
    """Compute every record of a report from a trials frame.

    Args:
        frame: The trials frame.
        meta: The study's metadata.

    Returns:
        The report's data.
    """
    states = dict.fromkeys(_STATES, 0)
    for state, count in Counter(frame["state"] if len(frame) else []).items():
        states[str(state)] = int(count)
    pareto = pareto_info(frame, meta)
    iso = iso_footprint_table(frame, meta)
    return ReportData(
        meta=meta,
        frame=frame,
        pareto=pareto,
        iso=iso,
        verdict=verdict(iso),
        hypervolume=hypervolume_history(frame, meta),
        states=states,
        failures=_failures(frame),
        provenance=_provenance(frame, meta),
        cost=_cost(frame, meta),
        notes=_notes(meta, states, pareto),
    )


def build_report(study: optuna.Study, target: str | None = None) -> ReportData:
    """Read a study and compute its report's data.

    Args:
        study: The study (any storage).
        target: A target the trials were measured on again (``prunefront reprofile``): the
            fronts, the iso-footprint table and every measured column are that target's.

    Returns:
        The report's data.
    """
    from dataclasses import replace

    meta = study_meta(study, target)
    data = report_data(trials_frame(study, meta, target), meta)
    return replace(data, target=target or "search", targets=targets_info(study))
