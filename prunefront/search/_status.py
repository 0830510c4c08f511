"""``prunefront status``: a running or finished study at a glance (counts, front, last error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from prunefront.errors import PrunefrontError
from prunefront.search._schema import STUDY_OBJECTIVES
from prunefront.search._storage import open_storage, resolve_storage
from prunefront.search._trials import budget_used

__all__ = ["StudyStatus", "load_study", "study_status"]


def load_study(
    study_name: str | None, *, storage: str | None = None, run_dir: str | Path | None = None
) -> optuna.Study:
    """Open a study by name from a storage URL or a run folder (its journal file).

    With a run folder holding exactly one study the name may be omitted.
    """
    if (storage is None) == (run_dir is None):
        raise PrunefrontError("give exactly one of --storage URL or --run DIR")
    if run_dir is not None:
        folder = Path(run_dir)
        if not (folder / "study.journal").is_file():
            raise PrunefrontError(f"--run: {folder} holds no study.journal (not a run folder)")
        spec = resolve_storage(None, folder)
    else:
        assert storage is not None
        spec = resolve_storage(storage, Path("."))
    opened = open_storage(spec)
    names = optuna.get_all_study_names(opened)
    if study_name is None:
        if len(names) != 1:
            raise PrunefrontError(
                f"--study: {spec.display} holds {len(names)} studies ({', '.join(names)}); name one"
            )
        study_name = names[0]
    if study_name not in names:
        listed = ", ".join(names) if names else "none"
        raise PrunefrontError(f"no study {study_name!r} in {spec.display} (studies: {listed})")
    return optuna.load_study(study_name=study_name, storage=opened)


@dataclass(frozen=True, kw_only=True)
class StudyStatus:
    """Counts per state, the current front and the last error of a study."""

    study: str
    objectives: list[str]
    counts: dict[str, int]
    budget_used: int
    budget: int | None
    front: list[dict[str, Any]] = field(default_factory=list)
    last_error: dict[str, Any] | None = None

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
        best = {t.number for t in study.best_trials}
        for t in complete:
            if t.number in best:
                front.append(
                    {
                        "number": t.number,
                        "width": t.user_attrs.get("width"),
                        "pattern": t.user_attrs.get("pattern"),
                        "sparsity": t.user_attrs.get("sparsity_target"),
                        "values": dict(zip(objectives, t.values or [], strict=False)),
                    }
                )
    failed = [t for t in trials if t.state == TrialState.FAIL and "fail_reason" in t.user_attrs]
    last_error = None
    if failed:
        last = max(failed, key=lambda t: t.number)
        last_error = {"number": last.number, "reason": last.user_attrs["fail_reason"]}
    config = study.user_attrs.get("prunefront_config") or {}
    return StudyStatus(
        study=study.study_name,
        objectives=objectives,
        counts=counts,
        budget_used=budget_used(trials),
        budget=(config.get("search") or {}).get("trials"),
        front=sorted(front, key=lambda f: f["number"]),
        last_error=last_error,
    )
