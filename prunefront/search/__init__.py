"""Search: Optuna over width x sparsity x pattern under a memory budget; resumable, multi-worker.

``run`` does a whole search from Python (a config dict or path, a Task object) and returns the
study and its report data. ``plan_search`` validates a ``RunConfig`` without writing anything;
``run_search`` creates or resumes the study and runs the workers. ``study_status`` summarises a
running or finished study.

Its names load on first use (PEP 562): ``prunefront status`` reads ``study_status`` without the
torch that training needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prunefront.search._api import SearchResult, run
    from prunefront.search._progress import Progress, progress
    from prunefront.search._reprofile import plan_reprofile, run_reprofile
    from prunefront.search._runner import SearchPlan, plan_search, resolve_objectives, run_search
    from prunefront.search._status import StudyStatus, study_status
    from prunefront.search._storage import StorageSpec, resolve_storage
    from prunefront.search._worker import TrialEvent, make_task

__all__ = [
    "Progress",
    "SearchPlan",
    "SearchResult",
    "StorageSpec",
    "StudyStatus",
    "TrialEvent",
    "make_task",
    "plan_reprofile",
    "plan_search",
    "progress",
    "resolve_objectives",
    "resolve_storage",
    "run",
    "run_reprofile",
    "run_search",
    "study_status",
]

_HOMES = {
    "Progress": "_progress",
    "SearchPlan": "_runner",
    "SearchResult": "_api",
    "StorageSpec": "_storage",
    "StudyStatus": "_status",
    "TrialEvent": "_worker",
    "make_task": "_worker",
    "plan_reprofile": "_reprofile",
    "plan_search": "_runner",
    "progress": "_progress",
    "resolve_objectives": "_runner",
    "resolve_storage": "_storage",
    "run": "_api",
    "run_reprofile": "_reprofile",
    "run_search": "_runner",
    "study_status": "_status",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'prunefront.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"prunefront.search.{home}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
