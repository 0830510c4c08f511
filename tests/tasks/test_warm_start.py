"""Warm start: every built-in task snapshots at a step and resumes bit-identically from it."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.tasks import (
    CharLmLstm,
    CharLmTransformer,
    Mnist1dCnn,
    OnStep,
    SupportsWarmStart,
    TrainSnapshot,
    supports_warm_start,
)
from prunefront.testing import TinyConvTask, TinyLstmTask, TinyTask

# Tiny settings with more than one epoch, so that snapshots fall mid-epoch and on epoch ends.
FACTORIES: dict[str, Callable[[], SupportsWarmStart]] = {
    "mnist1d-cnn": lambda: Mnist1dCnn(epochs=2, batch_size=64, num_samples=300),
    "charlm-lstm": lambda: CharLmLstm(steps=6, batch_size=4, seq_len=16, eval_chars=256),
    "charlm-transformer": lambda: CharLmTransformer(
        steps=6, batch_size=4, seq_len=16, eval_chars=256
    ),
    "tiny": lambda: TinyTask(epochs=2, num_samples=200),
    "tiny-conv": lambda: TinyConvTask(epochs=2, num_samples=160),
    "tiny-lstm": lambda: TinyLstmTask(epochs=2, num_samples=96),
}
SEED = 3


def _build(task: SupportsWarmStart) -> nn.Module:
    torch.manual_seed(SEED)  # the initial weights come from the seed, as in train_candidate
    return task.build(0.5)


def _round_trip(snapshot: TrainSnapshot) -> TrainSnapshot:
    """Through a file as the search's cache stores it (weights_only: plain tensors and values)."""
    buffer = io.BytesIO()
    torch.save(snapshot.to_dict(), buffer)
    buffer.seek(0)
    return TrainSnapshot.from_dict(torch.load(buffer, weights_only=True))


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _snapshot_steps(task: SupportsWarmStart) -> list[int]:
    """The first step, the last step of the first epoch, a middle step and the last step."""
    total = task.total_steps()
    epochs = int(getattr(task, "epochs", 1))
    return sorted({0, total // epochs - 1, total // 2, total - 1})


@pytest.fixture(params=sorted(FACTORIES))
def task(request: pytest.FixtureRequest) -> SupportsWarmStart:
    return FACTORIES[str(request.param)]()


def test_builtin_tasks_declare_warm_start_support(task: SupportsWarmStart) -> None:
    assert supports_warm_start(task)


def test_resuming_from_a_snapshot_is_bit_identical_to_training_from_scratch(
    task: SupportsWarmStart,
) -> None:
    total = task.total_steps()
    scratch = _build(task)
    task.train(scratch, on_step=lambda step: None, device="cpu", seed=SEED)
    for at in _snapshot_steps(task):
        snapshots: list[TrainSnapshot] = []
        first = _build(task)
        task.train(
            first,
            on_step=lambda step: None,
            device="cpu",
            seed=SEED,
            snapshot_at=at,
            on_snapshot=snapshots.append,
        )
        assert _same_weights(first, scratch), f"taking a snapshot at {at} changed training"
        resumed = _build(task)
        steps: list[int] = []
        task.train(
            resumed, on_step=steps.append, device="cpu", seed=SEED, resume=_round_trip(snapshots[0])
        )
        assert steps == list(range(at + 1, total))
        assert _same_weights(resumed, scratch), f"resuming after step {at} of {total} differs"


def test_the_snapshot_is_taken_once_right_after_on_step_of_its_step(
    task: SupportsWarmStart,
) -> None:
    at = task.total_steps() // 2
    events: list[tuple[str, int]] = []
    model = _build(task)

    def on_step(step: int) -> None:
        events.append(("step", step))

    def on_snapshot(snapshot: TrainSnapshot) -> None:
        events.append(("snapshot", snapshot.step))

    task.train(
        model, on_step=on_step, device="cpu", seed=SEED, snapshot_at=at, on_snapshot=on_snapshot
    )
    steps = [("step", s) for s in range(task.total_steps())]
    assert events == [*steps[: at + 1], ("snapshot", at), *steps[at + 1 :]]


def test_a_snapshot_holds_the_weights_of_its_step_not_the_final_ones(
    task: SupportsWarmStart,
) -> None:
    at = task.total_steps() // 2
    seen: list[dict[str, torch.Tensor]] = []
    snapshots: list[TrainSnapshot] = []
    model = _build(task)

    def on_step(step: int) -> None:
        if step == at:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    task.train(
        model,
        on_step=on_step,
        device="cpu",
        seed=SEED,
        snapshot_at=at,
        on_snapshot=snapshots.append,
    )
    (snapshot,) = snapshots
    assert snapshot.step == at
    assert all(torch.equal(snapshot.model_state[k], v) for k, v in seen[0].items())
    final = model.state_dict()
    assert not all(torch.equal(snapshot.model_state[k], final[k]) for k in final)


def test_resume_loads_weights_in_place_so_a_pruner_holding_them_stays_attached() -> None:
    task = TinyTask(epochs=2, num_samples=200)
    snapshots: list[TrainSnapshot] = []
    task.train(
        task.build(0.5),
        on_step=lambda step: None,
        device="cpu",
        seed=SEED,
        snapshot_at=3,
        on_snapshot=snapshots.append,
    )
    model = task.build(0.5)
    weight = model.get_parameter("0.weight")

    def zero_first_row(step: int) -> None:
        with torch.no_grad():
            weight[0].zero_()

    task.train(model, on_step=zero_first_row, device="cpu", seed=SEED, resume=snapshots[0])
    assert model.get_parameter("0.weight") is weight
    assert int(torch.count_nonzero(model.get_parameter("0.weight")[0])) == 0


@pytest.mark.parametrize("bad", [-1, 8])
def test_a_snapshot_step_outside_training_is_refused(bad: int) -> None:
    task = TinyTask(epochs=1, num_samples=512)  # 8 steps
    with pytest.raises(PrunefrontError, match=r"snapshot_at must be in \[0, 7\]"):
        task.train(
            task.build(0.5),
            on_step=lambda step: None,
            device="cpu",
            seed=0,
            snapshot_at=bad,
            on_snapshot=lambda snapshot: None,
        )


def test_tasks_without_the_keywords_do_not_support_warm_start() -> None:
    class OldStyle(TinyTask):
        def train(  # type: ignore[override]
            self, model: nn.Module, *, on_step: OnStep, device: torch.device | str, seed: int
        ) -> None:
            super().train(model, on_step=on_step, device=device, seed=seed)

    class Swallowing(TinyTask):
        def train(self, model: nn.Module, **kwargs: object) -> None:
            pass

    assert not supports_warm_start(OldStyle())
    assert not supports_warm_start(Swallowing())
    assert not supports_warm_start(object())
