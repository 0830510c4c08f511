"""``train_candidate(on_progress=...)``: one tick per step with its sparsity and, where the task
reports it, its loss; user tasks without ``on_loss`` still train and tick, without a loss."""

from __future__ import annotations

import pytest
import torch

from prunefront.candidate import Candidate, TrainTick, train_candidate
from prunefront.tasks import reports_loss
from prunefront.testing import TinyTask


class PlainTrainTask(TinyTask):
    """A user task whose ``train`` takes only the protocol's arguments (no ``on_loss``)."""

    def train(self, model, *, on_step, device, seed):  # type: ignore[no-untyped-def,override]
        super().train(model, on_step=on_step, device=device, seed=seed)


def _ticks(task: TinyTask, sparsity: float) -> list[TrainTick]:
    ticks: list[TrainTick] = []
    train_candidate(task, Candidate(width=1.0, sparsity=sparsity), seed=0, on_progress=ticks.append)
    return ticks


def test_every_step_ticks_with_the_schedules_sparsity_and_the_loss() -> None:
    task = TinyTask(epochs=4)
    ticks = _ticks(task, 0.75)
    total = task.total_steps()
    assert [t.step for t in ticks] == list(range(total))
    assert all(t.total_steps == total for t in ticks)
    sparsities = [t.sparsity for t in ticks]
    assert sparsities[0] == 0.0 and sparsities == sorted(sparsities)
    assert sparsities[-1] == pytest.approx(0.75)
    assert all(t.loss is not None and t.loss > 0 for t in ticks)


def test_progress_does_not_change_what_training_gives() -> None:
    task = TinyTask(epochs=3)
    candidate = Candidate(width=0.5, sparsity=0.5)
    plain, _ = train_candidate(task, candidate, seed=1)
    ticked, _ = train_candidate(task, candidate, seed=1, on_progress=lambda tick: None)
    for a, b in zip(plain.state_dict().values(), ticked.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_task_without_on_loss_ticks_without_a_loss() -> None:
    task = PlainTrainTask(epochs=2)
    assert not reports_loss(task) and reports_loss(TinyTask())
    ticks = _ticks(task, 0.5)
    assert len(ticks) == task.total_steps()
    assert all(t.loss is None for t in ticks)
