"""One candidate, end to end: build at a width, train with gradual pruning, evaluate, size it.

This is the unit of work that the CLI's ``train`` command, the demo and every search trial share.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import (
    GradualPruner,
    LayerSparsity,
    default_schedule,
    parse_pattern,
    sparsity_summary,
)
from prunefront.spaces import model_footprint, parse_dtype, parse_format
from prunefront.tasks import Task, check_width

__all__ = ["Candidate", "PruningSettings", "StepHook", "TrainResult", "train_candidate"]

StepHook = Callable[[int, nn.Module], None]


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A point of the search space.

    Attributes:
        width: Width multiplier in (0, 1].
        sparsity: Final sparsity of the prunable weights in [0, 1); 0 = small-dense.
        pattern: ``"unstructured"``, ``"N:M"`` or ``"RxC"``.
    """

    width: float
    sparsity: float
    pattern: str = "unstructured"

    def __post_init__(self) -> None:
        check_width(self.width)
        if not 0.0 <= self.sparsity < 1.0:
            raise PrunefrontError(f"sparsity must be in [0, 1), got {self.sparsity}")
        parsed = parse_pattern(self.pattern)
        if 0.0 < self.sparsity < parsed.min_sparsity:
            raise PrunefrontError(
                f"sparsity {self.sparsity} is below {parsed.min_sparsity}, "
                f"the least that pattern {parsed} can express"
            )
        object.__setattr__(self, "pattern", str(parsed))


@dataclass(frozen=True, kw_only=True)
class PruningSettings:
    """How a candidate is pruned during training.

    Attributes:
        begin_frac: Fraction of training before pruning starts (dense warm-up).
        end_frac: Fraction of training at which the final sparsity is reached.
        updates: Approximate number of mask updates between begin and end.
        scope: ``"layer"`` or ``"global"`` magnitude ranking.
        exclude: ``fnmatch`` patterns of layers to keep dense.
        storage_format: Footprint storage format (``"auto"`` = cheapest per tensor).
        dtype: Storage dtype of the weights.
    """

    begin_frac: float = 1 / 3
    end_frac: float = 3 / 4
    updates: int = 20
    scope: str = "layer"
    exclude: tuple[str, ...] = ()
    storage_format: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        parse_format(self.storage_format)
        parse_dtype(self.dtype)


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """What training one candidate produced (all plain data)."""

    task: str
    width: float
    pattern: str
    sparsity_target: float
    sparsity_actual: float
    params_total: int
    params_prunable: int
    params_nonzero: int
    footprint_bytes: int
    footprint_format: str
    metric_name: str
    metric_value: float
    metric_direction: str
    train_seconds: float
    seed: int
    layers: list[LayerSparsity] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``prunefront train --json`` document."""
        return {
            "task": self.task,
            "width": self.width,
            "pattern": self.pattern,
            "sparsity_target": self.sparsity_target,
            "sparsity_actual": self.sparsity_actual,
            "params_total": self.params_total,
            "params_prunable": self.params_prunable,
            "params_nonzero": self.params_nonzero,
            "footprint_bytes": self.footprint_bytes,
            "footprint_format": self.footprint_format,
            "metric": {
                "name": self.metric_name,
                "value": self.metric_value,
                "direction": self.metric_direction,
            },
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _prunable_sparsity(layers: Sequence[LayerSparsity]) -> float:
    numel = sum(layer.numel for layer in layers)
    nonzero = sum(layer.nonzero for layer in layers)
    return 1.0 - nonzero / numel if numel else 0.0


def train_candidate(
    task: Task,
    candidate: Candidate,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    settings: PruningSettings | None = None,
    step_hook: StepHook | None = None,
) -> tuple[nn.Module, TrainResult]:
    """Build ``candidate``, train it with the gradual pruner, evaluate and size it.

    Args:
        task: The task.
        candidate: Width, sparsity and pattern.
        seed: Seed of initialisation and data order.
        device: Training device.
        settings: Pruning schedule and footprint settings.
        step_hook: Called as ``step_hook(step, model)`` after the pruner on every step (the
            search uses it to pause for other workers' profiles and to stop hopeless trials).

    Returns:
        The trained (stripped, ordinary) model on the CPU and its ``TrainResult``.
    """
    settings = settings or PruningSettings()
    torch.manual_seed(seed)
    model = task.build(candidate.width)
    on_step: Callable[[int], None] = _noop
    pruner: GradualPruner | None = None
    if candidate.sparsity > 0:
        schedule = default_schedule(
            task.total_steps(),
            candidate.sparsity,
            begin_frac=settings.begin_frac,
            end_frac=settings.end_frac,
            updates=settings.updates,
        )
        pruner = GradualPruner(
            model,
            schedule,
            pattern=candidate.pattern,
            exclude=settings.exclude,
            scope=settings.scope,
        )
        on_step = pruner.on_step
    if step_hook is not None:
        on_step = _chain(on_step, step_hook, model)
    started = time.perf_counter()
    task.train(model, on_step=on_step, device=device, seed=seed)
    train_seconds = time.perf_counter() - started
    if pruner is not None:
        pruner.strip()
    metric = float(task.evaluate(model, device=device))
    model = model.cpu()
    layers = sparsity_summary(model, settings.exclude)
    footprint = model_footprint(
        model,
        sparsity=None,
        pattern=candidate.pattern,
        fmt=settings.storage_format,
        dtype=settings.dtype,
        exclude=settings.exclude,
    )
    result = TrainResult(
        task=task.name,
        width=candidate.width,
        pattern=candidate.pattern,
        sparsity_target=candidate.sparsity,
        sparsity_actual=_prunable_sparsity(layers),
        params_total=footprint.params_total,
        params_prunable=footprint.params_prunable,
        params_nonzero=footprint.params_nonzero,
        footprint_bytes=footprint.footprint_bytes,
        footprint_format=str(footprint.format),
        metric_name=task.metric,
        metric_value=metric,
        metric_direction=task.direction,
        train_seconds=train_seconds,
        seed=seed,
        layers=layers,
    )
    return model, result


def _noop(step: int) -> None:
    """No pruning: a small-dense candidate trains plainly."""


def _chain(first: Callable[[int], None], hook: StepHook, model: nn.Module) -> Callable[[int], None]:
    def on_step(step: int) -> None:
        first(step)
        hook(step, model)

    return on_step
