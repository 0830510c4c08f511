"""Training machinery shared by the built-in tasks: seeding, the step loop, the LR schedule.

Keeping the loop in one place means every task calls ``on_step`` at the same point (after the
optimizer and LR-scheduler steps, where a pruner must re-apply its masks) and fails the same way
when the loss diverges.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn

from prunefront.tasks._base import OnStep
from prunefront.tasks._loss import OnLoss

__all__ = ["LossFn", "hold_then_cosine", "init_rng", "seeded", "to_device", "train_steps"]

LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]
"""Computes the scalar training loss of ``model`` on one batch already on the device."""


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's RNGs inside the block and restore the caller's RNG state afterwards.

    Forking keeps a task's training reproducible without disturbing whatever the caller does
    with the global generator before or after.
    """
    devices: list[int] = []
    if device is not None and device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def init_rng(seed: int | None) -> Iterator[None]:
    """The RNG a task's ``build`` initialises weights under.

    ``None`` (the default of every built-in task) draws from torch's global generator, which
    ``train_candidate`` seeds with the trial's seed: a seed replicate then changes the initial
    weights as well as the data order. A fixed ``seed`` gives every build the same weights
    (an explicit choice, e.g. to study data-order noise alone).
    """
    if seed is None:
        yield
        return
    with seeded(seed):
        yield


def to_device(batch: Iterable[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Move every tensor of a batch to ``device``."""
    return tuple(t.to(device, non_blocking=True) for t in batch)


def train_steps(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, ...]],
    *,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    on_step: OnStep,
    max_grad_norm: float | None = None,
    first_step: int = 0,
    on_loss: OnLoss | None = None,
) -> int:
    """Take one optimizer step per batch, calling ``on_step`` after each; return the next step.

    ``on_loss(step, loss)``, when given, receives each step's training loss just before
    ``on_step(step)`` (the loss is read for the divergence check anyway: it costs nothing more).

    Raises:
        FloatingPointError: If the loss is NaN or infinite; the message names the step.
    """
    step = first_step
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"training loss became {value} at step {step}")
        loss.backward()
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if on_loss is not None:
            on_loss(step, value)
        on_step(step)
        step += 1
    return step


def hold_then_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, *, hold_fraction: float = 0.75
) -> torch.optim.lr_scheduler.LambdaLR:
    """Keep the LR constant for ``hold_fraction`` of training, then cosine-decay it to zero.

    Gradual pruning must finish while the learning rate is still large enough for the network
    to recover (Zhu & Gupta 2017); a pruner running between 1/3 and 3/4 of training sees the
    full LR, and the decay afterwards lets the pruned network settle.
    """
    hold = int(total_steps * hold_fraction)
    decay = max(total_steps - hold, 1)

    def factor(step: int) -> float:
        if step < hold:
            return 1.0
        progress = min((step - hold) / decay, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
