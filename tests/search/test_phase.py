"""The search's progress line says where each running trial is: training N%, evaluating, ..."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from torch import nn

from prunefront.candidate import TrainTick
from prunefront.config import load_config
from prunefront.search import Progress, _phase, plan_search, progress, run_search
from prunefront.search._phase import PHASE_KEY, TrialPhase
from prunefront.testing import TinyTask

PAUSE_S = 0.5


def test_progress_line_names_the_phase_of_every_running_trial() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.ask().set_user_attr(PHASE_KEY, "training 40%")
    study.ask()  # not in any phase yet
    line = progress(study, budget=5, started=time.time(), done_at_start=0).line()
    assert "2 running: trial 0 training 40%; trial 1 starting)" in line


class _Recorder:
    """Stands in for an ``optuna.Trial``: records what is written."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def set_user_attr(self, key: str, value: Any) -> None:
        assert key == PHASE_KEY
        self.writes.append(value)


def test_a_phase_change_is_written_at_once_and_the_percentage_at_quarters_or_intervals() -> None:
    trial, now = _Recorder(), [0.0]
    phase = TrialPhase(trial, min_interval_s=4.0, clock=lambda: now[0])  # type: ignore[arg-type]
    phase.set("training", "0%")
    for step in range(100):
        now[0] = step * 0.25  # 25 s of training, 4 steps a second
        phase.training(TrainTick(step, 100, 0.0, None))
    phase.set("profiling")
    # 4 s = 16 steps after the last write, or a quarter of training reached; the last step
    # ends training at once.
    percentages = ["0%", "17%", "25%", "41%", "50%", "66%", "75%", "91%"]
    assert trial.writes == [f"training {p}" for p in percentages] + ["evaluating", "profiling"]


def test_a_short_training_still_shows_its_quarters() -> None:
    trial = _Recorder()
    phase = TrialPhase(trial, min_interval_s=3600.0)  # type: ignore[arg-type]
    phase.set("training", "0%")
    for step in range(40):
        phase.training(TrainTick(step, 40, 0.0, None))
    assert trial.writes == [
        "training 0%",
        "training 25%",
        "training 50%",
        "training 75%",
        "evaluating",
    ]


class _SlowTinyTask(TinyTask):
    """Pauses halfway through training and in evaluation, so that a tick can see both."""

    def train(self, model: nn.Module, *, on_step: Callable[[int], None], **kwargs: Any) -> None:
        half = self.total_steps() // 2

        def pausing(step: int) -> None:
            on_step(step)
            if step == half - 1:
                time.sleep(PAUSE_S)

        super().train(model, on_step=pausing, **kwargs)

    def evaluate(self, model: nn.Module, *, device: Any) -> float:
        time.sleep(PAUSE_S)
        return super().evaluate(model, device=device)


def test_a_search_ticks_with_the_running_trials_phase_between_trial_ends(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_phase, "PHASE_WRITE_S", 0.0)  # every step's percentage is stored
    ticks: list[Progress] = []
    plan = plan_search(load_config(write_config(trials=1)), task=_SlowTinyTask(epochs=2))
    study = run_search(plan, say=lambda line: None, on_tick=ticks.append, tick_s=0.05)
    lines = [tick.line() for tick in ticks]
    assert any("1 running: trial 0 training 50%)" in line for line in lines), lines
    assert any("1 running: trial 0 evaluating)" in line for line in lines), lines
    assert all(tick.running == 1 and len(tick.phases) == 1 for tick in ticks)
    assert study.trials[0].user_attrs[PHASE_KEY] == "profiling"  # the last phase it reached
