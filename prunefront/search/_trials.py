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
search still trains as many distinct candidates as it was asked for. A model-based sampler that
repeats itself tends to repeat itself again (the demo's GP drew one edge candidate 14 times in a
row), so after each repeat one candidate that nobody has trained is queued, drawn uniformly
(``explores_after``): the next trial trains something new whatever the sampler believes.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import optuna
import psutil
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages._cached_storage import _CachedStorage  # what load_study wraps RDB in
from optuna.trial import FrozenTrial, TrialState

from prunefront.studies import STUDY_FINAL_LATENCY, STUDY_OBJECTIVES, TrialKey, trial_attrs

if TYPE_CHECKING:  # status, select and report read studies through here without torch
    from prunefront.spaces import SearchSpace

__all__ = [
    "DUPLICATE_KEY",
    "FREE_DUPLICATE_KEY",
    "MAX_RETRIES",
    "OWNER_KEY",
    "budget_used",
    "claim",
    "fail_and_retry",
    "final_latencies",
    "free_duplicates",
    "front_trials",
    "heartbeat_storage",
    "nondominated",
    "queue_exploration",
    "reap_dead_trials",
    "reap_own_trials",
    "running_twin",
    "same_candidate",
    "trial_values",
]

OWNER_KEY = "prunefront:owner"
DUPLICATE_KEY = TrialKey.DUPLICATE_OF
FREE_DUPLICATE_KEY = TrialKey.DUPLICATE_FREE
MAX_RETRIES = 2
ORPHAN_AFTER_S = 120.0
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
# A retry is the same seed replicate of the same pair side (``search._study.PAIR_KEYS``).
_KEPT_ON_RETRY = (
    TrialKey.SEEDED,
    TrialKey.ISO_LEVEL_BYTES,
    TrialKey.PAIR_SEED,
    TrialKey.REPLICATE,
)


def _process_start(pid: int) -> float | None:
    """The start time of a live process ``pid``; None when it is gone or a zombie.

    A killed ``--workers`` helper stays a zombie until its parent waits for it, and a zombie
    still has its pid and start time: it is as dead as a process that is gone.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def heartbeat_storage(storage: BaseStorage) -> RDBStorage | None:
    """The RDB storage under ``storage`` when it records heartbeats, else None.

    ``optuna.load_study`` and ``create_study`` wrap an ``RDBStorage`` in a ``_CachedStorage``;
    the heartbeat check must look through that wrapper, or no dead machine is ever found.
    """
    backend = storage._backend if isinstance(storage, _CachedStorage) else storage
    if isinstance(backend, RDBStorage) and backend.get_heartbeat_interval():
        return backend
    return None


def claim(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record this process as the owner of ``trial`` (and, on PostgreSQL, its first heartbeat).

    The first heartbeat is written here, with the claim, so that a machine that dies before its
    heartbeat thread starts still leaves a heartbeat to go stale (Optuna never finds a trial
    without one).
    """
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}
    study._storage.set_trial_system_attr(trial._trial_id, OWNER_KEY, owner)  # type: ignore[arg-type]
    rdb = heartbeat_storage(study._storage)
    if rdb is not None:
        rdb.record_heartbeat(trial._trial_id)


def budget_used(trials: Sequence[FrozenTrial]) -> int:
    """Trials that count against the budget (retried failures and free duplicates do not)."""
    retried = {t.user_attrs[TrialKey.RETRY_OF] for t in trials if TrialKey.RETRY_OF in t.user_attrs}
    return sum(
        1
        for t in trials
        if not t.user_attrs.get(FREE_DUPLICATE_KEY)
        and (t.state in _COUNTED or (t.state == TrialState.FAIL and t.number not in retried))
    )


def free_duplicates(trials: Sequence[FrozenTrial]) -> int:
    """How many trials took an earlier trial's results without counting against the budget."""
    return sum(1 for t in trials if t.user_attrs.get(FREE_DUPLICATE_KEY))


def nondominated(points: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Which rows of ``points`` no other row dominates (equal rows are all kept)."""
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    loss = points * np.array([-1.0 if m else 1.0 for m in maximize])
    keep = np.ones(len(loss), dtype=bool)
    for i, row in enumerate(loss):
        keep[i] = not np.any(np.all(loss <= row, axis=1) & np.any(loss < row, axis=1))
    return keep


def final_latencies(study: optuna.Study) -> dict[int, float]:
    """Trial number -> its latency re-measured side by side after the search (``final_latency``),
    for the trials that were; empty before a search has finished."""
    record = study.user_attrs.get(STUDY_FINAL_LATENCY)
    trials = record.get("trials") if isinstance(record, dict) else None
    if not isinstance(trials, dict):
        return {}
    return {
        int(number): float(row["latency_ms"])
        for number, row in trials.items()
        if isinstance(row, dict) and isinstance(row.get("latency_ms"), int | float)
    }


def trial_values(
    trial: FrozenTrial, objectives: Sequence[str], final: dict[int, float]
) -> list[float]:
    """``trial``'s objective values, its latency the re-measured one where there is one."""
    values = list(trial.values or [])
    if "latency_ms" in objectives and trial.number in final and len(values) == len(objectives):
        values[list(objectives).index("latency_ms")] = final[trial.number]
    return values


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's Pareto front without copies (a copy's point is the trial it repeats), with
    the latencies re-measured after the search where they were: the report's front."""
    final = final_latencies(study)
    if not final:
        return [t for t in study.best_trials if DUPLICATE_KEY not in t.user_attrs]
    objectives = [str(name) for name in study.user_attrs.get(STUDY_OBJECTIVES) or []]
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values
        and DUPLICATE_KEY not in t.user_attrs
        and all(c <= 0 for c in t.constraints.values())
    ]
    if len(objectives) != len(study.directions):
        return [t for t in study.best_trials if DUPLICATE_KEY not in t.user_attrs]
    maximize = [d == optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
    points = np.array([trial_values(t, objectives, final) for t in trials], dtype=float)
    mask = nondominated(points, maximize)
    return [t for t, on in zip(trials, mask, strict=True) if on]


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
        drawn = (
            attrs.get(TrialKey.WIDTH),
            attrs.get(TrialKey.PATTERN),
            attrs.get(TrialKey.SPARSITY_TARGET),
        )
        if drawn != (width, pattern, sparsity) or attrs.get(TrialKey.SEED) != seed:
            continue
        if attrs.get(TrialKey.TRAIN_DEVICE, "cpu") != train_device:
            continue
        footprint = attrs.get(TrialKey.FOOTPRINT_BYTES)
        same_cap = attrs.get(TrialKey.MAX_BYTES) == max_bytes
        cap_idle = (
            TrialKey.FIT_NOTE not in attrs and isinstance(footprint, int) and footprint <= max_bytes
        )
        if same_cap or cap_idle:
            return trial
    return None


def queue_exploration(
    study: optuna.Study,
    space: SearchSpace,
    *,
    run_seed: int,
    after: int,
    budget: int,
    draws: int = 64,
) -> int | None:
    """Queue one untrained candidate, drawn uniformly from ``space``, after trial ``after``
    repeated a trained one; returns the queued point's index among the draws, None if none.

    Nothing is queued when the trial ``budget`` has no room left (the point would wait after
    the search ends), while an earlier exploration point still waits, or when ``draws`` uniform
    draws all hit a candidate that is trained, running or queued (a nearly exhausted space).
    The draw is reproducible: seeded by the run's seed and ``after``.
    """
    trials = study.get_trials(deepcopy=False)
    if budget_used(trials) >= budget:
        return None
    taken: set[tuple[float, str, float]] = set()
    for trial in trials:
        if trial.state == TrialState.WAITING:
            if TrialKey.EXPLORES_AFTER in trial.user_attrs:
                return None
            fixed = trial.system_attrs.get("fixed_params")
            if isinstance(fixed, dict) and {"pattern", "width_index", "sparsity_u"} <= set(fixed):
                width = space.widths[int(fixed["width_index"])]
                pattern = str(fixed["pattern"])
                taken.add((width, pattern, space.sparsity_of(width, pattern, fixed["sparsity_u"])))
        elif TrialKey.WIDTH in trial.user_attrs:
            attrs = trial.user_attrs
            taken.add(
                (attrs[TrialKey.WIDTH], attrs[TrialKey.PATTERN], attrs[TrialKey.SPARSITY_TARGET])
            )
    rng = np.random.default_rng([run_seed, after])
    for index in range(draws):
        width = space.widths[int(rng.integers(len(space.widths)))]
        pattern = space.patterns[int(rng.integers(len(space.patterns)))]
        sparsity = space.sparsity_of(width, pattern, float(rng.random()))
        if (width, pattern, sparsity) not in taken:
            study.enqueue_trial(
                space.params_for(width, pattern, sparsity),
                user_attrs=trial_attrs({TrialKey.EXPLORES_AFTER: after}),
                skip_if_exists=False,
            )
            return index
    return None


def running_twin(
    trials: Sequence[FrozenTrial],
    *,
    number: int,
    width: float,
    pattern: str,
    sparsity: float,
    seed: int,
    max_bytes: int,
    train_device: str,
) -> FrozenTrial | None:
    """An earlier RUNNING trial (another worker's) that trains the very candidate of ``number``.

    Two workers that draw one candidate at once would train it twice; the later one waits for
    the earlier instead, and then takes its results as it would a COMPLETE trial's. Only an
    earlier trial counts, so two twins never wait for each other.
    """
    wanted = (width, pattern, sparsity, seed, train_device, max_bytes)
    for trial in trials:
        attrs = trial.user_attrs
        if trial.state != TrialState.RUNNING or trial.number >= number:
            continue
        drawn = (
            attrs.get(TrialKey.WIDTH),
            attrs.get(TrialKey.PATTERN),
            attrs.get(TrialKey.SPARSITY_TARGET),
            attrs.get(TrialKey.SEED),
            attrs.get(TrialKey.TRAIN_DEVICE, "cpu"),
            attrs.get(TrialKey.MAX_BYTES),
        )
        if drawn == wanted:
            return trial
    return None


def _retries(trial: FrozenTrial) -> int:
    return int(trial.user_attrs.get(TrialKey.RETRY_COUNT, 0))


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str) -> bool:
    """Fail a RUNNING ``trial`` with ``reason`` and enqueue its point again (bounded).

    Returns:
        True if this call failed the trial (False if another worker got there first).
    """
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, TrialKey.FAIL_REASON, reason)
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    if _retries(trial) < MAX_RETRIES:
        keep = {k: v for k, v in trial.user_attrs.items() if k in _KEPT_ON_RETRY}
        # An enqueued point (a pair's side, a retry) that stopped before its first suggest call
        # has its point only in Optuna's ``fixed_params``: without them the retry would be a
        # random candidate labelled as that pair's side.
        fixed = trial.system_attrs.get("fixed_params")
        study.enqueue_trial(
            {**(fixed if isinstance(fixed, dict) else {}), **trial.params},
            user_attrs=trial_attrs(
                {
                    **keep,
                    TrialKey.RETRY_OF: trial.number,
                    TrialKey.RETRY_COUNT: _retries(trial) + 1,
                }
            ),
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


def reap_own_trials(study: optuna.Study, reason: str) -> list[int]:
    """Fail and retry the RUNNING trials that this very process owns; returns their numbers.

    For a worker that is not running a trial: one whose trial an interrupt left RUNNING (the
    signal landed after the trial was claimed but before its training began), or a notebook
    that runs the search again after such an interrupt. The owner is alive, so
    ``reap_dead_trials`` would never free these, and the search would wait for them forever.
    """
    me = {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}
    reaped: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.system_attrs.get(OWNER_KEY) == me and fail_and_retry(study, trial, reason):
            reaped.append(trial.number)
    return reaped


def reap_dead_trials(study: optuna.Study) -> list[int]:
    """Fail and retry RUNNING trials whose worker is dead; returns their numbers."""
    reaped: list[int] = []
    host, now = socket.gethostname(), time.time()
    rdb = heartbeat_storage(study._storage)
    stale = set(rdb._get_stale_trial_ids(study._study_id)) if rdb is not None else set()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = _owner_dead(trial, host, now)
        if reason is None and trial._trial_id in stale:
            reason = "worker stopped sending heartbeats (machine down or process killed)"
        if reason is not None and fail_and_retry(study, trial, reason):
            reaped.append(trial.number)
    return reaped
