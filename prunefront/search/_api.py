"""``prunefront.search.run``: a whole search from Python (a notebook), with a Task object.

The CLI's ``prunefront search`` in one call: the configuration may be a ``RunConfig``, a dict
shaped like ``search.toml`` or a path to one; the task may be an object rather than a
``package.module:attr`` reference. It returns the study and the data of its report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from prunefront.config import RunConfig, load_config
from prunefront.errors import PrunefrontError
from prunefront.reports import build_report
from prunefront.search._runner import SearchPlan, plan_search, run_search
from prunefront.tasks import Task

if TYPE_CHECKING:
    from prunefront.reports import ReportData

__all__ = ["SearchResult", "run"]


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """What ``run`` returns.

    Attributes:
        study: The Optuna study (every trial, its values and user attributes).
        report: The report's data: ``report.pareto.front``, ``report.iso.rows``,
            ``report.hypervolume``, ``report.failures``, ... (see ``prunefront.reports``).
        plan: The validated search that ran (run folder, storage, objectives, budget).
    """

    study: optuna.Study
    report: ReportData
    plan: SearchPlan


def _task_label(task: Task) -> str:
    cls = type(task)
    return f"{cls.__module__}:{cls.__qualname__}"


def _config(config: RunConfig | Mapping[str, Any] | str | Path, task: Task | None) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, str | Path):
        return load_config(config)
    if not isinstance(config, Mapping):
        raise PrunefrontError(
            f"config must be a RunConfig, a dict or a path to a search.toml, got "
            f"{type(config).__name__}"
        )
    data = dict(config)
    if "task" not in data and task is not None:
        data["task"] = {"ref": _task_label(task)}
    return RunConfig.from_dict(data)


def run(
    config: RunConfig | Mapping[str, Any] | str | Path,
    *,
    task: Task | None = None,
    workers: int | None = None,
    trials: int | None = None,
    say: Callable[[str], None] | None = None,
) -> SearchResult:
    """Run (or resume) a search and return its study and report data.

    Args:
        config: A ``RunConfig``, a dict shaped like ``search.toml`` (``[task]`` may be left
            out when ``task`` is given) or the path of a ``search.toml``.
        task: A Task object to search; it replaces ``config``'s task reference, which then only
            names the study (default: the object's ``module:Class``).
        workers: Worker processes (default ``search.workers``; one with a Task object).
        trials: The trial budget (default ``search.trials``): run again with a larger one to
            extend a finished study by the difference.
        say: Receives the log lines the CLI prints (default: silent).

    Raises:
        PrunefrontError: Anything wrong with the configuration, ``trials`` or the task, before
            anything is written.
    """
    run_config = _config(config, task)
    plan = plan_search(run_config, workers=workers, task=task, trials=trials)
    study = run_search(plan, say=say or (lambda line: None))
    return SearchResult(study=study, report=build_report(study), plan=plan)
