"""Where a running search stands: the progress record and a watcher that reports every trial.

With one worker, its own trials are reported as they end. With several, trials end in other
processes (or on other machines): ``StudyWatcher`` reads the study from its own storage handle
every few seconds, on a thread of the process that shows progress, and reports each trial that
ended since the last look, whoever ran it. Between trial ends, it can also report every
``tick_s`` seconds where the running trials are (their ``phase``, see ``_phase``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from prunefront.search._phase import running_phases
from prunefront.search._storage import StorageSpec, open_storage
from prunefront.search._trials import (
    DUPLICATE_KEY,
    FREE_DUPLICATE_KEY,
    budget_used,
    front_trials,
)
from prunefront.search._worker import TrialEvent, trial_event

__all__ = ["TICK_S", "Progress", "StudyWatcher", "progress"]

TICK_S = 30.0
"""Seconds without a progress line after which a watcher reports the running trials' phases."""


@dataclass(frozen=True, kw_only=True)
class Progress:
    """Where a search stands: what a live display shows.

    ``phases`` says where each running trial is (``trial 7 training 40%``), whichever worker
    runs it.
    """

    done: int
    budget: int
    failed: int
    pruned: int
    running: int
    front_size: int
    elapsed_s: float
    remaining_s: float | None
    phases: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for a log or a terminal."""
        remaining = "?" if self.remaining_s is None else f"{self.remaining_s / 60:.1f} min"
        running = f"{self.running} running" + (": " + "; ".join(self.phases) if self.phases else "")
        return (
            f"{self.done}/{self.budget} trials done ({self.failed} failed, {self.pruned} pruned, "
            f"{running}), front {self.front_size}, "
            f"elapsed {self.elapsed_s / 60:.1f} min, remaining ~{remaining}"
        )


def progress(study: optuna.Study, budget: int, started: float, done_at_start: int) -> Progress:
    """The progress of ``study``; the remaining time extrapolates this run's own pace."""
    trials = study.get_trials(deepcopy=False)
    by_state = {state: 0 for state in TrialState}
    for trial in trials:
        by_state[trial.state] += 1
    feasible = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values())
    ]
    done = budget_used(trials) - by_state[TrialState.RUNNING]
    elapsed = time.time() - started
    remaining = None
    if done > done_at_start:
        remaining = max(budget - done, 0) * elapsed / (done - done_at_start)
    return Progress(
        done=done,
        budget=budget,
        failed=by_state[TrialState.FAIL],  # as the closing summary and `status` count them
        pruned=by_state[TrialState.PRUNED],
        running=by_state[TrialState.RUNNING],
        front_size=len(front_trials(study)) if feasible else 0,
        elapsed_s=elapsed,
        remaining_s=remaining,
        phases=running_phases(trials),
    )


def _event(trial: FrozenTrial) -> TrialEvent:
    """The ``TrialEvent`` of a finished trial read back from the storage."""
    return trial_event(
        trial.number,
        trial.state.name,
        trial.params,
        trial.user_attrs,
        values=list(trial.values) if trial.values is not None else None,
        reason=trial.user_attrs.get("fail_reason")
        or trial.user_attrs.get("pruned_reason")
        or _duplicate_reason(trial),
    )


def _duplicate_reason(trial: FrozenTrial) -> str | None:
    earlier = trial.user_attrs.get(DUPLICATE_KEY)
    if earlier is None:
        return None
    free = "" if trial.user_attrs.get(FREE_DUPLICATE_KEY) else ", counted against the budget"
    return f"the candidate of trial {earlier}: its results, not trained again{free}"


_ENDED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


class StudyWatcher:
    """A daemon thread that reports every trial of a study that ends while it watches.

    Args:
        spec: The study's storage (opened anew: the watcher shares no handle with a worker).
        study_name: The study.
        budget: The trial budget, for the progress record.
        started: When this run started (``time.time()``).
        done_at_start: Trials already done when it started (for the remaining-time estimate).
        on_event: Receives each ended trial with the progress after it (None: another part
            reports them, e.g. the one worker of this process).
        interval_s: Seconds between looks at the storage.
        on_tick: Receives the progress, with the running trials' phases, after ``tick_s``
            seconds without a line (an event or a tick, see ``reported``) while trials run.
        tick_s: Seconds of silence before ``on_tick``.
    """

    def __init__(
        self,
        spec: StorageSpec,
        study_name: str,
        *,
        budget: int,
        started: float,
        done_at_start: int,
        on_event: Callable[[TrialEvent, Progress], None] | None,
        interval_s: float = 2.0,
        on_tick: Callable[[Progress], None] | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self._study = optuna.load_study(study_name=study_name, storage=open_storage(spec))
        self._budget, self._started, self._done_at_start = budget, started, done_at_start
        self._on_event = on_event
        self._interval_s = interval_s
        self._on_tick, self._tick_s = on_tick, tick_s
        self._last_line = time.monotonic()
        self._seen = {t.number for t in self._study.get_trials(deepcopy=False, states=_ENDED)}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="prunefront-watcher", daemon=True)

    def __enter__(self) -> StudyWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if exc[0] is None:
            self.poll()  # the trials that ended since the last look

    def reported(self) -> None:
        """A progress line was just shown elsewhere: the next tick waits ``tick_s`` from now."""
        self._last_line = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.poll()
            except Exception as error:  # a storage hiccup must not end the progress display
                logging.getLogger(__name__).warning("progress: %s", error)

    def poll(self) -> None:
        """Report the trials that ended since the last look."""
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        ended = [
            t
            for t in self._study.get_trials(deepcopy=False, states=_ENDED)
            if t.number not in self._seen
        ]
        if ended:
            now = progress(self._study, self._budget, self._started, self._done_at_start)
            for trial in sorted(ended, key=lambda t: t.number):
                self._seen.add(trial.number)
                if self._on_event is not None:
                    self._on_event(_event(trial), now)
                    self.reported()
        if self._on_tick is None or time.monotonic() - self._last_line < self._tick_s:
            return
        now = progress(self._study, self._budget, self._started, self._done_at_start)
        if now.running:
            self._on_tick(now)
            self.reported()
