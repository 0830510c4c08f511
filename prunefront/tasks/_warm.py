"""Warm start: an optional Task capability to snapshot training at a step and resume from it.

Candidates of the same width and seed train identically until pruning begins, so a search can run
that dense warm-up once and resume every later candidate from a snapshot of it. A task opts in by
accepting three more keyword arguments in ``train`` (``resume``, ``snapshot_at``,
``on_snapshot``); the ``Task`` protocol itself is unchanged and user tasks need not support it.

A resumed run must be bit-identical to an uninterrupted one with the same seed, so a snapshot
holds everything the remaining steps read: weights and buffers, optimizer and LR-scheduler state,
torch's RNG states (CPU, and CUDA when training there) and the task's data-order state. Python's
``random`` and NumPy's global RNGs are not captured: the built-in loops seed only torch's, so a
task drawing from those would not be reproducible from scratch either.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.tasks._base import OnStep, Task
from prunefront.tasks._loss import train_takes

__all__ = [
    "OnSnapshot",
    "SupportsWarmStart",
    "TrainSnapshot",
    "capture_snapshot",
    "check_warm_args",
    "restore_snapshot",
    "supports_warm_start",
    "with_snapshot",
]

_WARM_KEYWORDS = ("resume", "snapshot_at", "on_snapshot")


@dataclass(frozen=True, kw_only=True)
class TrainSnapshot:
    """Training state right after ``on_step(step)`` of optimizer step ``step``; CPU tensors only.

    Attributes:
        step: 0-based index of the last completed optimizer step; resuming runs ``step + 1`` on.
        model_state: ``model.state_dict()`` (parameters and persistent buffers), cloned.
        optimizer_state: ``optimizer.state_dict()``, cloned.
        scheduler_state: ``scheduler.state_dict()``, or None when the task uses no scheduler.
        cpu_rng_state: ``torch.get_rng_state()``.
        cuda_rng_state: ``torch.cuda.get_rng_state(device)`` when training on CUDA, else None.
        data_state: What the task's data order needs to continue (task-specific; tensors and
            plain values only).
    """

    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any] | None
    cpu_rng_state: torch.Tensor
    cuda_rng_state: torch.Tensor | None = None
    data_state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Tensors, numbers and containers only: ``torch.load(weights_only=True)`` reads it."""
        return {
            "step": self.step,
            "model_state": dict(self.model_state),
            "optimizer_state": self.optimizer_state,
            "scheduler_state": self.scheduler_state,
            "cpu_rng_state": self.cpu_rng_state,
            "cuda_rng_state": self.cuda_rng_state,
            "data_state": self.data_state,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSnapshot:
        """The inverse of ``to_dict``."""
        return cls(**data)


OnSnapshot = Callable[[TrainSnapshot], None]
"""Receives the snapshot taken right after ``on_step(snapshot_at)``."""


class SupportsWarmStart(Task, Protocol):
    """A task whose ``train`` can hand out a snapshot and resume from one (optional capability).

    ``train(..., resume=snap)`` restores ``snap`` into the freshly built ``model`` and runs steps
    ``snap.step + 1`` to the end, calling ``on_step`` for each; the result is bit-identical to
    training from scratch with the same seed. ``train(..., snapshot_at=k, on_snapshot=fn)`` calls
    ``fn(snapshot)`` once, right after ``on_step(k)``, and then goes on training normally.
    ``total_steps()`` is unchanged. Check a task with ``supports_warm_start``.
    """

    def train(
        self,
        model: nn.Module,
        *,
        on_step: OnStep,
        device: torch.device | str,
        seed: int,
        resume: TrainSnapshot | None = None,
        snapshot_at: int | None = None,
        on_snapshot: OnSnapshot | None = None,
    ) -> None:
        """Train ``model`` in place (resuming from ``resume``), snapshotting at ``snapshot_at``."""
        ...


def supports_warm_start(task: object) -> TypeGuard[SupportsWarmStart]:
    """Whether ``task.train`` takes ``resume``, ``snapshot_at`` and ``on_snapshot`` by keyword.

    A ``train(**kwargs)`` that might swallow them does not count: support must be declared.
    """
    return train_takes(task, *_WARM_KEYWORDS)


def check_warm_args(
    total_steps: int, resume: TrainSnapshot | None, snapshot_at: int | None
) -> None:
    """Refuse a snapshot step or resume point that is not a step of training.

    Raises:
        PrunefrontError: Naming the bad value and the valid range.
    """
    if snapshot_at is not None and not 0 <= snapshot_at < total_steps:
        raise PrunefrontError(
            f"snapshot_at must be in [0, {total_steps - 1}] (the steps of training), "
            f"got {snapshot_at}"
        )
    if resume is not None and not 0 <= resume.step < total_steps:
        raise PrunefrontError(
            f"resume.step must be in [0, {total_steps - 1}] (the steps of training), "
            f"got {resume.step}"
        )


def _cpu_clone(value: Any) -> Any:
    """Deep copy with every tensor detached onto the CPU (the live ones keep training)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_clone(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cpu_clone(v) for v in value)
    return copy.deepcopy(value)


def capture_snapshot(
    step: int,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    device: torch.device,
    data_state: dict[str, Any],
) -> TrainSnapshot:
    """Take a ``TrainSnapshot`` of a training loop right after ``on_step(step)``."""
    cuda_state = None
    if device.type == "cuda":
        cuda_state = torch.cuda.get_rng_state(device)
    return TrainSnapshot(
        step=step,
        model_state=_cpu_clone(model.state_dict()),
        optimizer_state=_cpu_clone(optimizer.state_dict()),
        scheduler_state=None if scheduler is None else _cpu_clone(scheduler.state_dict()),
        cpu_rng_state=torch.get_rng_state(),
        cuda_rng_state=cuda_state,
        data_state=_cpu_clone(data_state),
    )


def restore_snapshot(
    snapshot: TrainSnapshot,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    device: torch.device,
) -> None:
    """Load ``snapshot`` into a freshly built loop; call inside the loop's ``seeded`` block.

    The weights are copied into the existing parameters, so a pruner already holding them stays
    attached. The optimizer is restored after the scheduler was built, because building a
    scheduler rewrites the optimizer's learning rates.
    """
    model.load_state_dict(snapshot.model_state)
    optimizer.load_state_dict(snapshot.optimizer_state)
    if scheduler is not None:
        if snapshot.scheduler_state is None:
            raise PrunefrontError(
                "resume: the snapshot has no LR-scheduler state, the task has one"
            )
        scheduler.load_state_dict(snapshot.scheduler_state)
    torch.set_rng_state(snapshot.cpu_rng_state)
    if device.type == "cuda" and snapshot.cuda_rng_state is not None:
        torch.cuda.set_rng_state(snapshot.cuda_rng_state, device)


def with_snapshot(
    on_step: OnStep,
    *,
    snapshot_at: int | None,
    on_snapshot: OnSnapshot | None,
    take: Callable[[int], TrainSnapshot],
) -> OnStep:
    """Wrap ``on_step`` so that ``on_snapshot(take(step))`` follows ``on_step(snapshot_at)``."""
    if snapshot_at is None or on_snapshot is None:
        return on_step

    def step_then_snapshot(step: int) -> None:
        on_step(step)
        if step == snapshot_at:
            on_snapshot(take(step))

    return step_then_snapshot
