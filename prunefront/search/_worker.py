"""A search worker: count, ask, run and tell trials until the budget or the deadline is reached.

Several workers (processes on one machine, or machines sharing a PostgreSQL study) run this same
loop; ``BudgetLock`` makes "count, then ask" atomic so the budget is exact. A trial that raises,
diverges or runs out of memory is told FAIL with its reason and the loop goes on; Ctrl-C or
SIGTERM fails the running trial as *interrupted*, re-enqueues its point and stops the worker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
import torch
from optuna.storages._heartbeat import get_heartbeat_thread  # Optuna's own heartbeat thread
from optuna.trial import TrialState

from prunefront.candidate import build_model
from prunefront.config import RunConfig
from prunefront.errors import PrunefrontError
from prunefront.profilers import LatencySettings, ProfileSettings, profile_candidate
from prunefront.remote import profile_remote
from prunefront.search._cache import WarmStartCache, task_identity
from prunefront.search._early import EarlyStop
from prunefront.search._gate import ProfileGate
from prunefront.search._objective import TrialContext, TrialFailed, library_versions, run_trial
from prunefront.search._storage import BudgetLock
from prunefront.search._trials import (
    budget_used,
    claim,
    fail_and_retry,
    reap_dead_trials,
    reap_own_trials,
)
from prunefront.spaces import SearchSpace
from prunefront.studies import TrialKey, set_trial_attrs
from prunefront.tasks import Task, resolve_task

__all__ = [
    "TrialEvent",
    "build_context",
    "build_space",
    "install_stop_handlers",
    "make_task",
    "profile_function",
    "restore_handlers",
    "stop_on_signal",
    "worker_loop",
]


@dataclass(frozen=True)
class TrialEvent:
    """What happened to one trial, for progress displays.

    ``params`` are Optuna's (``width_index``, ``sparsity_u``, ...); ``candidate`` is what they
    drew: ``width``, ``pattern`` and ``sparsity_target`` (those known when the trial ended).
    """

    number: int
    state: str
    params: dict[str, Any] = field(default_factory=dict)
    values: list[float] | None = None
    reason: str | None = None
    candidate: dict[str, Any] = field(default_factory=dict)


CANDIDATE_KEYS = (TrialKey.WIDTH, TrialKey.PATTERN, TrialKey.SPARSITY_TARGET)


def trial_event(
    number: int,
    state: str,
    params: dict[str, Any],
    user_attrs: dict[str, Any],
    *,
    values: list[float] | None = None,
    reason: str | None = None,
) -> TrialEvent:
    """A ``TrialEvent``, its candidate read from the trial's user attributes."""
    candidate = {k: user_attrs[k] for k in CANDIDATE_KEYS if k in user_attrs}
    return TrialEvent(number, state, dict(params), values, reason, candidate)


def make_task(config: RunConfig) -> Task:
    """The configured task, with ``[task] options`` passed to a built-in task's constructor."""
    return resolve_task(config.task.ref, config.task.options)


def profile_function(config: RunConfig) -> Callable[[torch.nn.Module, Task], Any]:
    """How candidates are profiled on the configured target."""
    target = config.target

    def profile(model: torch.nn.Module, task: Task) -> Any:

        settings = ProfileSettings(
            latency=LatencySettings(
                min_time_s=target.latency_min_time_s, max_time_s=target.latency_max_time_s
            )
        )
        model.eval()
        if target.device.startswith(("remote://", "adb://")):
            # Unreachable devices raise RemoteUnavailable after bounded retries: the trial
            # fails with that reason and the search goes on.
            return profile_remote(
                model,
                task.example_inputs(target.batch_size),
                target.device,
                token_file=target.token_file,
                threads=target.threads,
                batch_size=target.batch_size,
                energy=target.energy,
                settings=settings,
                adb_binary=target.adb_binary,
                dtype=config.budget.dtype,
            )
        return profile_candidate(
            model,
            task.example_inputs(target.batch_size),
            device=target.device,
            threads=target.threads,
            batch_size=target.batch_size,
            energy=target.energy,
            settings=settings,
        )

    return profile


def build_space(config: RunConfig, task: Task) -> SearchSpace:
    """The search space of ``config`` for ``task`` (validates the budget).

    Raises:
        PrunefrontError: the budget fits nothing, or the task's ``build`` raised or built no
            prunable ``nn.Module`` (one line that names the task, not its traceback).
    """
    exclude = config.space.schedule.exclude

    def build(width: float) -> torch.nn.Module:
        return build_model(task, width, exclude)

    return SearchSpace(
        build,
        widths=config.space.widths,
        patterns=config.space.patterns,
        sparsity_min=config.space.sparsity_min,
        sparsity_max=config.space.sparsity_max,
        budget_bytes=config.budget.bytes,
        fmt=config.budget.format,
        dtype=config.budget.dtype,
        exclude=config.space.schedule.exclude,
    )


def build_context(
    config: RunConfig,
    run_dir: Path,
    *,
    workers: int,
    objectives: tuple[str, ...],
    task: Task | None = None,
) -> TrialContext:
    """Everything a worker process needs, built once (``task``: an object given in Python)."""
    if task is None:
        task = make_task(config)
        identity = task_identity(config)
    else:  # the same reference may name different objects from one notebook to the next
        identity = task_identity(config, detail=repr(task))
    space = build_space(config, task)
    return TrialContext(
        config=config,
        task=task,
        space=space,
        run_dir=run_dir,
        objectives=objectives,
        train_threads=max(1, (os.cpu_count() or 1) // workers),
        gate=ProfileGate(run_dir, enabled=workers > 1),
        versions=library_versions(),
        profile=profile_function(config),
        warm_start=(WarmStartCache(run_dir, identity) if config.search.warm_start else None),
    )


_STOPPING = threading.Event()


def stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """The workers' SIGTERM and SIGINT handler: remember the stop, then interrupt what runs.

    The flag keeps a stop a stop where code between the signal and the worker swallows the
    ``KeyboardInterrupt`` or turns it into another error (Optuna's journal-file lock raises
    ``RuntimeError`` when the signal lands while it acquires; training frameworks catch it).
    A second signal while the first is handled is ignored, so that it cannot cut short the
    bookkeeping that queues the interrupted trial's point again.
    """
    if _STOPPING.is_set():
        return
    _STOPPING.set()
    raise KeyboardInterrupt


def install_stop_handlers() -> dict[int, Any]:
    """Install ``stop_on_signal`` for SIGTERM and SIGINT; returns the handlers it replaced.

    A fresh stop flag is taken only where no stop handler was installed yet (an enclosing
    caller's stop stays recorded).
    """
    if signal.getsignal(signal.SIGTERM) is not stop_on_signal:
        _STOPPING.clear()
    return {sig: signal.signal(sig, stop_on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}


def restore_handlers(previous: dict[int, Any]) -> None:
    """Put back the handlers ``install_stop_handlers`` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _raise_if_stopping() -> None:
    if _STOPPING.is_set():
        raise KeyboardInterrupt


_INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); its point runs again"


def _fail_interrupted(study: optuna.Study, trial: optuna.Trial) -> None:
    frozen = study._storage.get_trial(trial._trial_id)
    fail_and_retry(study, frozen, _INTERRUPTED)


def _is_oom(error: BaseException) -> bool:
    return isinstance(error, MemoryError | torch.OutOfMemoryError) or "out of memory" in str(error)


def _run_one(ctx: TrialContext, study: optuna.Study, trial: optuna.Trial) -> TrialEvent:
    heartbeat = get_heartbeat_thread(trial._trial_id, study._storage)
    heartbeat.start()
    try:
        values = run_trial(ctx, trial)
        _raise_if_stopping()  # the task caught the interrupt and returned
    except KeyboardInterrupt:
        _fail_interrupted(study, trial)
        raise
    except EarlyStop as stop:
        set_trial_attrs(trial, {TrialKey.PRUNED_REASON: str(stop)})
        study.tell(trial, state=TrialState.PRUNED)
        return trial_event(trial.number, "PRUNED", trial.params, trial.user_attrs, reason=str(stop))
    except Exception as error:  # any failure of the user's task is recorded, not fatal
        if _STOPPING.is_set():  # an interrupt turned into another error: still a stop
            _fail_interrupted(study, trial)
            raise KeyboardInterrupt from error
        first = str(error).strip().splitlines()
        detail = f"{type(error).__name__}: {first[0] if first else ''}".rstrip(": ")
        if isinstance(error, TrialFailed):
            reason = str(error)
        elif _is_oom(error):
            reason = f"out of memory: {detail}"
        else:
            reason = detail
        set_trial_attrs(trial, {TrialKey.FAIL_REASON: reason[:500]})
        study.tell(trial, state=TrialState.FAIL)
        return trial_event(trial.number, "FAIL", trial.params, trial.user_attrs, reason=reason)
    finally:
        heartbeat.join()
    study.tell(trial, values)
    return trial_event(trial.number, "COMPLETE", trial.params, trial.user_attrs, values=values)


SYSTEMATIC_FAILURES = 3


def _stop_if_systematic(study: optuna.Study, failures: list[str]) -> None:
    """Stop when the first trials all fail alike: the task is broken, not the candidates."""
    if len(failures) < SYSTEMATIC_FAILURES or len(set(failures)) != 1:
        return
    if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return
    raise PrunefrontError(
        f"the first {len(failures)} trials all failed with {failures[0]!r}; fix the task, then "
        "start a new study (search.study_name) or remove the run folder"
    )


def _next_trial(study: optuna.Study, lock: BudgetLock, budget: int) -> optuna.Trial | None:
    """Count, then ask and claim a trial, atomically across workers; None at the budget."""
    with lock.hold():
        reap_dead_trials(study)
        if budget_used(study.get_trials(deepcopy=False)) >= budget:
            return None
        with warnings.catch_warnings():
            # Optuna warns that heartbeats are meant for Study.optimize; the worker runs
            # Optuna's heartbeat thread itself around every trial (``_run_one``).
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        claim(study, trial)
    return trial


BUDGET_WAIT_POLL_S = 2.0
"""How often a worker at the budget looks again at trials that other workers still run."""


def _others_running(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def worker_loop(
    ctx: TrialContext,
    study: optuna.Study,
    lock: BudgetLock,
    *,
    budget: int,
    deadline: float | None,
    on_event: Callable[[TrialEvent], None] | None = None,
) -> int:
    """Run trials until the budget is used or the deadline passes; returns how many ran here.

    At the budget, the worker waits while other workers' trials still run, so that a trial
    whose worker died (another machine's, found by its heartbeats) is run again here.

    Raises:
        KeyboardInterrupt: SIGTERM or SIGINT stopped the worker (its running trial was failed
            as interrupted and its point queued again).
    """
    previous = install_stop_handlers()
    ran = 0
    failures: list[str] = []
    try:
        # Only one search runs per process (signal handlers need the main thread), so a trial
        # this process owns and still shows RUNNING is one an earlier interrupt left behind.
        reap_own_trials(study, _INTERRUPTED)
        while deadline is None or time.time() < deadline:
            _raise_if_stopping()
            try:
                trial = _next_trial(study, lock, budget)
            except Exception as error:  # the journal lock turns an interrupt into RuntimeError
                if _STOPPING.is_set():
                    raise KeyboardInterrupt from error
                raise
            if trial is None:
                if not _others_running(study):
                    break
                # A trial counted in the budget still runs somewhere: it completes, or its worker
                # is found dead (here, by pid or heartbeat) and its point is queued again for
                # this worker to take. Leaving now would leave a dead machine's trial RUNNING.
                time.sleep(BUDGET_WAIT_POLL_S)
                continue
            event = _run_one(ctx, study, trial)
            ran += 1
            if on_event is not None:
                on_event(event)
            failures = [*failures, event.reason or ""] if event.state == "FAIL" else []
            _stop_if_systematic(study, failures)
        _raise_if_stopping()
    except KeyboardInterrupt:
        # The signal may land after a trial was claimed and before ``_run_one`` could fail it.
        reap_own_trials(study, _INTERRUPTED)
        raise
    finally:
        restore_handlers(previous)
        ctx.gate.close()
    return ran
