"""``prunefront status``: a running or finished study at a glance (counts, front, last error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from prunefront.search._trials import (
    DUPLICATE_KEY,
    budget_used,
    final_latencies,
    front_trials,
    trial_values,
)
from prunefront.studies import STUDY_CONFIG, STUDY_OBJECTIVES, TrialKey

__all__ = ["StudyStatus", "study_status"]


@dataclass(frozen=True, kw_only=True)
class StudyStatus:
    """Counts per state, the current front and the last error of a study.

    ``duplicates`` counts the COMPLETE trials that took an earlier trial's results because the
    sampler drew a candidate already trained (``duplicate_of``).
    """

    study: str
    objectives: list[str]
    counts: dict[str, int]
    budget_used: int
    budget: int | None
    front: list[dict[str, Any]] = field(default_factory=list)
    last_error: dict[str, Any] | None = None
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "study": self.study,
            "objectives": self.objectives,
            "counts": self.counts,
            "budget_used": self.budget_used,
            "budget": self.budget,
            "front": self.front,
            "last_error": self.last_error,
            "duplicates": self.duplicates,
        }


def study_status(study: optuna.Study) -> StudyStatus:
    """Summarise ``study`` (works while workers are running)."""
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    objectives = list(study.user_attrs.get(STUDY_OBJECTIVES, []))
    complete = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values())
    ]
    front = []
    if complete:
        best = {t.number for t in front_trials(study)}
        final = final_latencies(study)  # the front's latencies as the report shows them
        for t in complete:
            if t.number in best:
                front.append(
                    {
                        "number": t.number,
                        "width": t.user_attrs.get(TrialKey.WIDTH),
                        "pattern": t.user_attrs.get(TrialKey.PATTERN),
                        "sparsity": t.user_attrs.get(TrialKey.SPARSITY_TARGET),
                        "values": dict(
                            zip(objectives, trial_values(t, objectives, final), strict=False)
                        ),
                    }
                )
    failed = [
        t for t in trials if t.state == TrialState.FAIL and TrialKey.FAIL_REASON in t.user_attrs
    ]
    last_error = None
    if failed:
        last = max(failed, key=lambda t: t.number)
        last_error = {"number": last.number, "reason": last.user_attrs[TrialKey.FAIL_REASON]}
    config = study.user_attrs.get(STUDY_CONFIG) or {}
    return StudyStatus(
        study=study.study_name,
        objectives=objectives,
        counts=counts,
        budget_used=budget_used(trials),
        budget=(config.get("search") or {}).get("trials"),
        front=sorted(front, key=lambda f: f["number"]),
        last_error=last_error,
        duplicates=sum(
            1 for t in trials if t.state == TrialState.COMPLETE and DUPLICATE_KEY in t.user_attrs
        ),
    )
