"""The Task protocol: the one extension point through which prunefront trains a user's model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["OnStep", "Task"]

OnStep = Callable[[int], None]
"""Called by ``Task.train`` after every optimizer step with the 0-based index of that step."""


@runtime_checkable
class Task(Protocol):
    """What prunefront needs to know about a model family. Names are a public contract.

    Attributes:
        name: Short identifier used in reports and run folders.
        metric: Name of the task metric, e.g. ``"accuracy"`` or ``"bits_per_char"``.
        direction: ``"maximize"`` or ``"minimize"`` for ``metric``.
    """

    name: str
    metric: str
    direction: str

    def build(self, width: float) -> nn.Module:
        """Return a freshly initialised model at width multiplier ``width`` in (0, 1]."""
        ...

    def total_steps(self) -> int:
        """Return the number of optimizer steps that ``train`` will take."""
        ...

    def train(
        self, model: nn.Module, *, on_step: OnStep, device: torch.device | str, seed: int
    ) -> None:
        """Train ``model`` in place, calling ``on_step(step)`` after every optimizer step."""
        ...

    def evaluate(self, model: nn.Module, *, device: torch.device | str) -> float:
        """Return the task metric of ``model`` on held-out data."""
        ...

    def example_inputs(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Return inputs of batch size ``batch_size`` for profiling and export."""
        ...
