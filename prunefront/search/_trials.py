"""Trial bookkeeping shared by every worker: ownership, dead-worker reaping, the exact budget.

A trial records its owner (host, pid, process start time) as it starts. A RUNNING trial whose
owner process is gone (kill -9, power loss, OOM killer) is failed with that reason and its point
is enqueued again, at most ``MAX_RETRIES`` times; on PostgreSQL, heartbeats find dead workers on
other machines too. The budget counts COMPLETE, PRUNED, RUNNING and FAIL trials, except failures
that were retried, so that resuming after a crash completes exactly the trial budget.

A sampler can draw a candidate that a finished trial already trained (a GP sampler likes the
edge of the space, where every ``sparsity_u`` near 0 is the same dense model). Training is
deterministic for a given width, pattern, sparsity, seed and device, so such a trial takes the
earlier trial's results instead of training again (``duplicate_of``); the sampler still learns
from it.
Up to one budget's worth of these do not count against the budget (``duplicate_free``), so the
search still trains as many distinct candidates as it was asked for.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence

import optuna
import psutil
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "DUPLICATE_KEY",
    "FREE_DUPLICATE_KEY",
    "MAX_RETRIES",
    "OWNER_KEY",
    "budget_used",
    "claim",
    "fail_and_retry",
    "free_duplicates",
    "front_trials",
    "reap_dead_trials",
    "same_candidate",
]

OWNER_KEY = "prunefront:owner"
DUPLICATE_KEY = "duplicate_of"
FREE_DUPLICATE_KEY = "duplicate_free"
MAX_RETRIES = 2
ORPHAN_AFTER_S = 120.0
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
# A retry is the same seed replicate of the same pair side (``search._study.PAIR_KEYS``).
_KEPT_ON_RETRY = ("seeded", "iso_level_bytes", "pair_seed", "replicate")


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def claim(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record this process as the owner of ``trial``."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}
    study._storage.set_trial_system_attr(trial._trial_id, OWNER_KEY, owner)  # type: ignore[arg-type]


def budget_used(trials: Sequence[FrozenTrial]) -> int:
    """Trials that count against the budget (retried failures and free duplicates do not)."""
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    return sum(
        1
        for t in trials
        if not t.user_attrs.get(FREE_DUPLICATE_KEY)
        and (t.state in _COUNTED or (t.state == TrialState.FAIL and t.number not in retried))
    )


def free_duplicates(trials: Sequence[FrozenTrial]) -> int:
    """How many trials took an earlier trial's results without counting against the budget."""
    return sum(1 for t in trials if t.user_attrs.get(FREE_DUPLICATE_KEY))


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's Pareto front without copies: a copy's point is the trial it repeats."""
    return [t for t in study.best_trials if DUPLICATE_KEY not in t.user_attrs]


def same_candidate(
    trials: Sequence[FrozenTrial],
    *,
    width: float,
    pattern: str,
    sparsity: float,
    seed: int,
    max_bytes: int,
    train_device: str,
) -> FrozenTrial | None:
    """The first COMPLETE, trained (not copied) trial whose training this one would repeat.

    Same width, pattern, sparsity target, seed and training device train the same weights (the
    study's task, schedule and budget cannot change on resume), provided the byte cap acts
    alike: the same cap, or an earlier trial that needed no fit and whose real bytes this cap
    also holds. A trial that recorded no training device (an older study) trained on the CPU.
    """
    for trial in trials:
        attrs = trial.user_attrs
        if trial.state != TrialState.COMPLETE or DUPLICATE_KEY in attrs or not trial.values:
            continue
        if (attrs.get("width"), attrs.get("pattern"), attrs.get("sparsity_target")) != (
            width,
            pattern,
            sparsity,
        ) or attrs.get("seed") != seed:
            continue
        if attrs.get("train_device", "cpu") != train_device:
            continue
        footprint = attrs.get("footprint_bytes")
        same_cap = attrs.get("max_bytes") == max_bytes
        cap_idle = "fit_note" not in attrs and isinstance(footprint, int) and footprint <= max_bytes
        if same_cap or cap_idle:
            return trial
    return None


def _retries(trial: FrozenTrial) -> int:
    return int(trial.user_attrs.get("retry_count", 0))


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str) -> bool:
    """Fail a RUNNING ``trial`` with ``reason`` and enqueue its point again (bounded).

    Returns:
        True if this call failed the trial (False if another worker got there first).
    """
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    if _retries(trial) < MAX_RETRIES:
        keep = {k: v for k, v in trial.user_attrs.items() if k in _KEPT_ON_RETRY}
        study.enqueue_trial(
            trial.params,
            user_attrs={**keep, "retry_of": trial.number, "retry_count": _retries(trial) + 1},
            skip_if_exists=False,
        )
    return True


def _owner_dead(trial: FrozenTrial, host: str, now: float) -> str | None:
    owner = trial.system_attrs.get(OWNER_KEY)
    if owner is None:
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        if now - started > ORPHAN_AFTER_S:
            return "worker died before recording itself (no owner after 120 s)"
        return None
    if owner.get("host") != host:
        return None
    start = _process_start(int(owner["pid"]))
    if start is None or (owner.get("start") is not None and abs(start - owner["start"]) > 1.0):
        return f"worker process {owner['pid']} on {host} died (killed, crashed or power loss)"
    return None


def reap_dead_trials(study: optuna.Study) -> list[int]:
    """Fail and retry RUNNING trials whose worker is dead; returns their numbers."""
    reaped: list[int] = []
    host, now = socket.gethostname(), time.time()
    storage = study._storage
    stale: set[int] = set()
    if isinstance(storage, optuna.storages.RDBStorage) and storage.get_heartbeat_interval():
        stale = set(storage._get_stale_trial_ids(study._study_id))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = _owner_dead(trial, host, now)
        if reason is None and trial._trial_id in stale:
            reason = "worker stopped sending heartbeats (machine down or process killed)"
        if reason is not None and fail_and_retry(study, trial, reason):
            reaped.append(trial.number)
    return reaped
