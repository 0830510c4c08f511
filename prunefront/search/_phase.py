"""The phase of a running trial, kept on the trial where every progress display can read it.

A worker writes the user attribute ``phase`` of its running trial as the trial moves on:
``training 40%``, ``evaluating``, ``profiling``. Stored with the trial, it is seen by the
process that shows progress whichever worker (or machine) runs the trial, and by
``optuna-dashboard``. A change of phase is written at once; the training percentage at each
quarter of training and otherwise at most every ``PHASE_WRITE_S`` seconds, so that a long
training writes a handful of records, not one per step, and a short one still shows how far
it got. A finished trial keeps the last phase it reached (where a failed one stopped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from prunefront.candidate import TrainTick
from prunefront.studies import TrialKey, set_trial_attrs

__all__ = ["PHASE_KEY", "PHASE_WRITE_S", "TrialPhase", "running_phases"]

PHASE_KEY = TrialKey.PHASE
"""User attribute: the phase a trial is in (``training 40%``, ``evaluating``, ``profiling``)."""

PHASE_WRITE_S = 10.0
"""Least seconds between two writes of the training percentage of one trial."""


class TrialPhase:
    """Writes the ``phase`` of one running trial: at once on a change; in training, at each
    quarter and otherwise at most every ``min_interval_s``.

    Args:
        trial: The running trial.
        min_interval_s: Least seconds between two training-percentage writes (default
            ``PHASE_WRITE_S``).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        *,
        min_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trial = trial
        self._interval_s = PHASE_WRITE_S if min_interval_s is None else min_interval_s
        self._clock = clock
        self._name = ""
        self._text = ""
        self._written = float("-inf")
        self._percent = 0

    def set(self, name: str, detail: str = "") -> None:
        """Enter phase ``name`` (written at once unless it is the phase already written)."""
        text = f"{name} {detail}".strip()
        if text == self._text:
            return
        self._name, self._text, self._written = name, text, self._clock()
        set_trial_attrs(self._trial, {PHASE_KEY: text})

    def training(self, tick: TrainTick) -> None:
        """``train_candidate``'s ``on_progress``: the percentage, then ``evaluating``."""
        done = tick.step + 1
        if done >= tick.total_steps:
            self.set("evaluating")
            return
        percent = 100 * done // max(tick.total_steps, 1)
        quarter = percent // 25 > self._percent // 25
        recent = self._clock() - self._written < self._interval_s
        if self._name == "training" and recent and not quarter:
            return
        self._percent = percent
        self.set("training", f"{percent}%")


def running_phases(trials: Sequence[FrozenTrial]) -> tuple[str, ...]:
    """``trial 7 training 40%`` for every running trial, in trial order."""
    return tuple(
        f"trial {t.number} {t.user_attrs.get(PHASE_KEY) or 'starting'}"
        for t in sorted(trials, key=lambda t: t.number)
        if t.state == TrialState.RUNNING
    )
