"""One contract suite run against every built-in and tiny task (with tiny settings)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.tasks import CharLmLstm, CharLmTransformer, Mnist1dCnn, Task, reports_loss
from prunefront.testing import TinyConvTask, TinyLstmTask, TinyTask

WIDTHS = (0.25, 0.5, 1.0)

FACTORIES: dict[str, Callable[..., Task]] = {
    "mnist1d-cnn": lambda **kw: Mnist1dCnn(epochs=1, batch_size=64, num_samples=300, **kw),
    "charlm-lstm": lambda **kw: CharLmLstm(steps=3, batch_size=4, seq_len=16, eval_chars=256, **kw),
    "charlm-transformer": lambda **kw: CharLmTransformer(
        steps=3, batch_size=4, seq_len=16, eval_chars=256, **kw
    ),
    "tiny": lambda **kw: TinyTask(epochs=2, **kw),
    "tiny-conv": lambda **kw: TinyConvTask(epochs=2, **kw),
    "tiny-lstm": lambda **kw: TinyLstmTask(epochs=2, **kw),
}


@pytest.fixture(params=sorted(FACTORIES))
def task_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def task(task_name: str) -> Task:
    return FACTORIES[task_name]()


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _scaled_sizes(model: nn.Module) -> list[int]:
    """Channel / unit counts that scale with width (every output size but the last layer's)."""
    sizes: list[int] = []
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            sizes.append(module.out_channels)
        elif isinstance(module, nn.Linear):
            sizes.append(module.out_features)
        elif isinstance(module, nn.LSTM):
            sizes.append(module.hidden_size)
        elif isinstance(module, nn.Embedding):
            sizes.append(module.embedding_dim)
    return sizes


def _train(task: Task, model: nn.Module, seed: int = 0) -> list[int]:
    steps: list[int] = []
    task.train(model, on_step=steps.append, device="cpu", seed=seed)
    return steps


def test_task_satisfies_the_protocol(task: Task, task_name: str) -> None:
    assert isinstance(task, Task)
    assert task.name == task_name
    assert task.direction in ("maximize", "minimize")
    assert task.metric


def test_larger_width_builds_more_parameters(task: Task) -> None:
    counts = [_num_params(task.build(w)) for w in WIDTHS]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1]
    assert len(set(counts)) == len(counts)


def test_scaled_channel_counts_are_multiples_of_8(task: Task) -> None:
    for width in (0.2, 0.3, 0.6, 0.85, 1.0):
        sizes = _scaled_sizes(task.build(width))
        assert len(sizes) >= 2
        # Every task ends in a Linear output layer (classes or vocabulary), which never scales.
        assert all(size % 8 == 0 for size in sizes[:-1]), (width, sizes)


def test_channel_multiple_of_one_gives_exact_channel_counts(task_name: str) -> None:
    exact = FACTORIES[task_name](channel_multiple=1)
    rounded = FACTORIES[task_name]()
    width = 0.3
    assert _num_params(exact.build(width)) != _num_params(rounded.build(width))
    assert any(size % 8 for size in _scaled_sizes(exact.build(width)))


def test_on_step_is_called_once_per_optimizer_step_in_order(task: Task) -> None:
    steps = _train(task, task.build(0.5))
    assert task.total_steps() > 0
    assert steps == list(range(task.total_steps()))


def test_every_on_step_call_follows_a_real_optimizer_step(task: Task) -> None:
    model = task.build(0.5)
    before = [p.detach().clone() for p in model.parameters()]
    changed: list[bool] = []

    def on_step(step: int) -> None:
        now = [p.detach() for p in model.parameters()]
        changed.append(any(not torch.equal(a, b) for a, b in zip(before, now, strict=True)))
        for a, b in zip(before, now, strict=True):
            a.copy_(b)

    task.train(model, on_step=on_step, device="cpu", seed=0)
    assert changed and all(changed)


def test_each_step_reports_its_finite_loss_just_before_on_step(task: Task) -> None:
    assert reports_loss(task)
    calls: list[tuple[str, int]] = []
    losses: list[float] = []

    def on_loss(step: int, loss: float) -> None:
        calls.append(("loss", step))
        losses.append(loss)

    task.train(  # type: ignore[call-arg]
        task.build(0.5),
        on_step=lambda step: calls.append(("step", step)),
        device="cpu",
        seed=0,
        on_loss=on_loss,
    )
    expected = [(kind, step) for step in range(task.total_steps()) for kind in ("loss", "step")]
    assert calls == expected
    assert all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in losses)


def test_evaluate_returns_a_finite_metric_in_range(task: Task) -> None:
    model = task.build(1.0)
    _train(task, model)
    value = task.evaluate(model, device=torch.device("cpu"))
    assert isinstance(value, float)
    assert math.isfinite(value)
    if task.metric == "accuracy":
        assert 0.0 <= value <= 1.0
    else:
        assert task.metric == "bits_per_char"
        # Between perfect prediction and a uniform guess over a ~100-character vocabulary.
        assert 0.0 < value < 10.0


def test_evaluate_leaves_the_model_in_training_mode_it_found(task: Task) -> None:
    model = task.build(0.5)
    model.train()
    task.evaluate(model, device="cpu")
    assert model.training
    model.eval()
    task.evaluate(model, device="cpu")
    assert not model.training


@pytest.mark.parametrize("width", WIDTHS)
def test_example_inputs_run_through_the_model(task: Task, width: float) -> None:
    model = task.build(width).eval()
    inputs = task.example_inputs(3)
    assert all(isinstance(x, torch.Tensor) and x.shape[0] == 3 for x in inputs)
    with torch.no_grad():
        out = model(*inputs)
    assert out.shape[0] == 3
    assert torch.isfinite(out).all()


def test_same_seed_gives_the_same_metric(task_name: str) -> None:
    values = []
    for _ in range(2):
        task = FACTORIES[task_name]()
        torch.manual_seed(3)  # as train_candidate seeds the build with the training seed
        model = task.build(0.5)
        _train(task, model, seed=3)
        values.append(task.evaluate(model, device="cpu"))
    assert values[0] == values[1]


def test_different_seed_gives_a_different_model(task: Task) -> None:
    a, b = task.build(0.5), task.build(0.5)
    _train(task, a, seed=1)
    _train(task, b, seed=2)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_the_seed_before_build_sets_the_initial_weights(task: Task) -> None:
    # Seed replicates must differ in initialisation, not only in data order.
    torch.manual_seed(123)
    a = task.build(0.5)
    torch.manual_seed(456)
    b = task.build(0.5)
    torch.manual_seed(123)
    c = task.build(0.5)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


def test_training_does_not_disturb_the_callers_torch_rng(task: Task) -> None:
    model = task.build(0.25)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    _train(task, model)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("width", [0.0, -1.0, 1.5, math.nan])
def test_build_rejects_width_outside_zero_one(task: Task, width: float) -> None:
    with pytest.raises(PrunefrontError, match=r"width must be in \(0, 1\]"):
        task.build(width)


def test_seed_replicates_differ_in_initial_weights_and_repeat_bit_identically(
    task_name: str,
) -> None:
    # A seed replicate of the verdict must be a replicate: another initialisation, and the same
    # seed must give the very same trained model.
    from prunefront.candidate import Candidate, train_candidate

    first_steps: dict[int, list[torch.Tensor]] = {}

    def record(seed: int) -> Callable[[int, nn.Module], None]:
        def hook(step: int, model: nn.Module) -> None:
            if step == 0:
                first_steps[seed] = [p.detach().clone() for p in model.parameters()]

        return hook

    results = []
    for seed in (0, 1, 0):
        model, result = train_candidate(
            FACTORIES[task_name](),
            Candidate(width=0.5, sparsity=0.0),
            seed=seed,
            step_hook=record(seed),
        )
        results.append((model.state_dict(), result.metric_value))
    assert not all(torch.equal(p, q) for p, q in zip(first_steps[0], first_steps[1], strict=True))
    (a, metric_a), _, (c, metric_c) = results
    assert metric_a == metric_c
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_a_fixed_init_seed_gives_every_build_the_same_weights(task_name: str) -> None:
    task = FACTORIES[task_name](init_seed=5)
    torch.manual_seed(1)
    a = task.build(0.5)
    torch.manual_seed(2)
    b = task.build(0.5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
