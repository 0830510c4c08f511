"""SupervisedTask: the training loop a user gets from datasets, a loss and an optimizer factory."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from prunefront.errors import PrunefrontError
from prunefront.tasks import SupervisedTask, Task


def _data(n: int, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    return TensorDataset(x, (x.sum(dim=1) > 0).long())


def _task(**overrides: object) -> SupervisedTask:
    options: dict[str, object] = {
        "name": "toy",
        "model_fn": lambda width: nn.Linear(4, 2),
        "train_data": _data(50),
        "eval_data": _data(20, seed=1),
        "loss_fn": nn.functional.cross_entropy,
        "optimizer_fn": lambda params: torch.optim.SGD(params, lr=0.1),
        "epochs": 3,
        "batch_size": 8,
    }
    options.update(overrides)
    return SupervisedTask(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("num_train", "batch_size", "epochs", "drop_last", "expected"),
    [(50, 8, 3, False, 21), (50, 8, 3, True, 18), (48, 8, 2, False, 12), (5, 8, 4, False, 4)],
)
def test_total_steps_counts_every_optimizer_step_train_takes(
    num_train: int, batch_size: int, epochs: int, drop_last: bool, expected: int
) -> None:
    task = _task(
        train_data=_data(num_train), batch_size=batch_size, epochs=epochs, drop_last=drop_last
    )
    steps: list[int] = []
    task.train(task.build(1.0), on_step=steps.append, device="cpu", seed=0)
    assert task.total_steps() == expected
    assert steps == list(range(expected))


def test_supervised_task_is_a_task_with_the_given_metric() -> None:
    task = _task(metric="error", direction="minimize", metric_fn=lambda out, y: 0.5)
    assert isinstance(task, Task)
    assert (task.metric, task.direction) == ("error", "minimize")
    assert task.evaluate(task.build(1.0), device="cpu") == 0.5


def test_training_learns_the_toy_problem_with_default_accuracy_metric() -> None:
    task = _task(epochs=20, eval_data=_data(200, seed=1))
    model = task.build(1.0)
    before = task.evaluate(model, device="cpu")
    task.train(model, on_step=lambda step: None, device="cpu", seed=0)
    after = task.evaluate(model, device="cpu")
    assert after >= 0.85
    assert after > before


def test_nan_loss_raises_floating_point_error_naming_the_step() -> None:
    calls = {"n": 0}

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, target)
        return loss * math.nan if calls["n"] == 5 else loss

    task = _task(loss_fn=loss_fn)
    steps: list[int] = []
    with pytest.raises(FloatingPointError, match=r"nan at step 4"):
        task.train(task.build(1.0), on_step=steps.append, device="cpu", seed=0)
    assert steps == [0, 1, 2, 3]


def test_infinite_loss_also_raises() -> None:
    task = _task(loss_fn=lambda out, target: out.sum() * math.inf)
    with pytest.raises(FloatingPointError, match=r"at step 0"):
        task.train(task.build(1.0), on_step=lambda step: None, device="cpu", seed=0)


def test_scheduler_is_stepped_once_per_optimizer_step() -> None:
    seen: list[int] = []

    def scheduler_fn(
        optimizer: torch.optim.Optimizer, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        seen.append(total_steps)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total_steps)

    optimizers: list[torch.optim.Optimizer] = []

    def optimizer_fn(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        optimizers.append(torch.optim.SGD(params, lr=1.0))
        return optimizers[-1]

    lrs: list[float] = []
    task = _task(scheduler_fn=scheduler_fn, optimizer_fn=optimizer_fn)
    task.train(
        task.build(1.0),
        on_step=lambda step: lrs.append(optimizers[0].param_groups[0]["lr"]),
        device="cpu",
        seed=0,
    )
    assert seen == [21]
    assert lrs[0] == pytest.approx(1 - 1 / 21)
    assert lrs[-1] == pytest.approx(0.0)


def test_gradient_clipping_bounds_the_gradient_norm() -> None:
    norms: list[float] = []
    task = _task(
        max_grad_norm=0.01,
        loss_fn=lambda out, target: 1000 * nn.functional.cross_entropy(out, target),
    )
    model = task.build(1.0)

    def on_step(step: int) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    task.train(model, on_step=on_step, device="cpu", seed=0)
    assert max(norms) <= 0.01 + 1e-6


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.a(x) + self.b(z)
        return out


def test_items_with_several_inputs_are_passed_to_the_model_in_order() -> None:
    x, z, y = torch.randn(12, 4), torch.randn(12, 3), torch.randint(0, 2, (12,))
    task = _task(
        model_fn=lambda width: _TwoInputs(),
        train_data=TensorDataset(x, z, y),
        eval_data=TensorDataset(x, z, y),
    )
    model = task.build(1.0)
    steps: list[int] = []
    task.train(model, on_step=steps.append, device="cpu", seed=0)
    assert len(steps) == task.total_steps() == 6
    inputs = task.example_inputs(5)
    assert [tuple(t.shape) for t in inputs] == [(5, 4), (5, 3)]
    assert model(*inputs).shape == (5, 2)


def test_example_inputs_default_to_training_samples_repeated_to_the_batch() -> None:
    data = _data(3)
    (inputs,) = _task(train_data=data).example_inputs(7)
    assert inputs.shape == (7, 4)
    assert torch.equal(inputs[3], data[0][0])


def test_example_input_fn_overrides_the_dataset_sample() -> None:
    task = _task(example_input_fn=lambda batch: (torch.zeros(batch, 4),))
    (inputs,) = task.example_inputs(2)
    assert torch.equal(inputs, torch.zeros(2, 4))


def test_build_receives_the_validated_width() -> None:
    widths: list[float] = []
    task = _task(model_fn=lambda width: widths.append(width) or nn.Linear(4, 2))
    task.build(1)
    task.build(0.5)
    assert widths == [1.0, 0.5]
    with pytest.raises(PrunefrontError, match="width must be in"):
        task.build(0)
    assert widths == [1.0, 0.5]


def test_init_seed_none_uses_the_global_rng() -> None:
    task = _task(init_seed=None)
    torch.manual_seed(1)
    a = task.build(1.0)
    torch.manual_seed(2)
    b = task.build(1.0)
    assert not torch.equal(a.weight, b.weight)


class _Stream(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield torch.zeros(4), torch.tensor(0)


class _Empty(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __len__(self) -> int:
        return 0

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise IndexError(index)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, r"epochs must be an integer >= 1, got 0"),
        ({"batch_size": -1}, r"batch_size must be an integer >= 1, got -1"),
        ({"epochs": 2.5}, r"epochs must be an integer >= 1, got 2.5"),
        ({"direction": "max"}, r"direction must be 'maximize' or 'minimize', got 'max'"),
        ({"train_data": _Stream()}, r"train_data must be a map-style Dataset"),
        ({"eval_data": _Empty()}, r"eval_data is empty"),
        ({"drop_last": True, "batch_size": 64}, r"batch_size must be <= len\(train_data\)=50"),
    ],
)
def test_invalid_configuration_is_rejected_with_one_line(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(PrunefrontError, match=message) as info:
        _task(**overrides)
    assert "\n" not in str(info.value)
