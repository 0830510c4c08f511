"""One candidate, end to end: build at a width, train with gradual pruning, evaluate, size it.

This is the unit of work that the CLI's ``train`` command, the demo and every search trial share.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import (
    GradualPruner,
    LayerSparsity,
    default_schedule,
    find_prunable,
    parse_pattern,
    sparsity_summary,
)
from prunefront.spaces import model_footprint, parse_dtype, parse_format, round_to_dtype
from prunefront.tasks import (
    OnLoss,
    Task,
    TrainSnapshot,
    check_width,
    reports_loss,
    supports_warm_start,
)

__all__ = [
    "Candidate",
    "OnProgress",
    "PruningSettings",
    "StepHook",
    "TrainResult",
    "TrainTick",
    "WarmKey",
    "WarmSlot",
    "WarmStart",
    "build_model",
    "check_max_bytes",
    "train_candidate",
    "warm_start_step",
]

StepHook = Callable[[int, nn.Module], None]


@dataclass(frozen=True, slots=True)
class TrainTick:
    """Where training stands after one optimizer step: what a progress display shows.

    Attributes:
        step: 0-based index of the step just taken (a warm-started run begins past 0).
        total_steps: The task's optimizer steps.
        sparsity: Sparsity of the prunable weights at the last mask update (0 before pruning
            begins and for a small-dense candidate).
        loss: This step's training loss, or None when the task does not report it
            (``reports_loss``).
    """

    step: int
    total_steps: int
    sparsity: float
    loss: float | None


OnProgress = Callable[[TrainTick], None]
"""Receives a ``TrainTick`` after every optimizer step (after the pruner and any step hook)."""


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
    """What training one candidate produced (all plain data).

    ``train_seconds`` is the wall time training actually took: on a warm-start ``"hit"`` the
    steps after the shared snapshot, reading it, and any wait for another worker that was
    computing it. ``warm_start`` is ``"hit"`` (resumed from a snapshot), ``"miss"`` (trained from
    scratch and saved the snapshot) or ``"off"``. ``fit_note`` says how far the last pruning
    update went past ``sparsity_target`` to hold ``max_bytes`` (empty when it did not need to).
    """

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
    warm_start: str = "off"
    fit_note: str = ""
    metric_dtype: str = "float32"
    metric_float32: float | None = None

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
            "fit_note": self.fit_note,
            "metric_dtype": self.metric_dtype,
            "metric_float32": self.metric_float32,
        }


@dataclass(frozen=True, kw_only=True)
class WarmKey:
    """What makes the dense warm-ups of two candidates of one task identical.

    Attributes:
        width: Width multiplier.
        seed: Training seed (initialisation and data order).
        snapshot_step: Last step before pruning begins (``begin_step - 1``).
        total_steps: The task's optimizer steps.
        device: Training device, as given to ``train_candidate``.
    """

    width: float
    seed: int
    snapshot_step: int
    total_steps: int
    device: str


class WarmSlot(Protocol):
    """One entry of a ``WarmStart`` store: its snapshot if present, or the way to save it."""

    @property
    def snapshot(self) -> TrainSnapshot | None:
        """The stored snapshot (a hit), or None (a miss: train from scratch and ``save``)."""
        ...

    def save(self, snapshot: TrainSnapshot) -> None:
        """Store the snapshot this candidate's training took at ``WarmKey.snapshot_step``."""
        ...


class WarmStart(Protocol):
    """Where ``train_candidate`` finds and keeps dense warm-up snapshots (the search's cache)."""

    def open(self, key: WarmKey) -> AbstractContextManager[WarmSlot]:
        """The entry of ``key``, held until the ``with`` block ends."""
        ...


def warm_start_step(total_steps: int, settings: PruningSettings) -> int:
    """The step whose snapshot candidates of one width share: the last before pruning begins.

    At ``begin_step`` the first masks are computed, so every step before it is the same dense
    training whatever the sparsity or pattern; -1 when pruning begins at step 0.
    """
    schedule = default_schedule(
        total_steps,
        0.0,
        begin_frac=settings.begin_frac,
        end_frac=settings.end_frac,
        updates=settings.updates,
    )
    return schedule.begin_step - 1


def build_model(task: Task, width: float, exclude: Sequence[str] = ()) -> nn.Module:
    """``task.build(width)``, checked: an ``nn.Module`` with at least one prunable weight.

    Raises:
        PrunefrontError: One line naming the task: ``build`` raised, returned something that is
            not an ``nn.Module``, or a model with no prunable weight (after ``exclude``).
    """
    name = task.name
    try:
        model = task.build(width)
    except PrunefrontError:
        raise
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [""])[0]
        raise PrunefrontError(
            f"task {name!r}: build({width:g}) failed: {type(exc).__name__}: {text}"
        ) from exc
    if not isinstance(model, nn.Module):
        raise PrunefrontError(
            f"task {name!r}: build({width:g}) returned {type(model).__name__}, not an nn.Module"
        )
    if not find_prunable(model, exclude):
        after = ", after exclude" if exclude else ""
        raise PrunefrontError(
            f"task {name!r}: the model at width {width:g} ({type(model).__name__}) has no "
            "prunable weight (Linear, Conv1d/2d/3d, Embedding, RNN/LSTM/GRU or "
            f"MultiheadAttention{after})"
        )
    return model


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
    warm_start: WarmStart | None = None,
    max_bytes: int | None = None,
    on_progress: OnProgress | None = None,
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
        warm_start: Share the dense warm-up with other candidates of this width and seed: resume
            from its snapshot, or train from scratch and save it. Used only when the task
            supports it (``supports_warm_start``) and pruning does not begin at step 0; the
            result is bit-identical either way, and the steps skipped on a hit see no
            ``step_hook``.
        max_bytes: A cap on the real footprint. Where a format's size depends on where the zeros
            fall (relative indexing's fillers, which clustered zeros multiply), the trained
            weights can take more bytes than the analytic model predicts for the target
            sparsity; the last pruning update then prunes a few more of the smallest weights
            (about 10 % more than the overshoot needs) so that the real bytes fit the cap,
            before the remaining fine-tuning steps (said in ``TrainResult.fit_note``).
            Positions do not matter to the other formats, so they never need it. A cap the
            footprint already rules out is not refused here (a search records the trained
            model's real bytes); call :func:`check_max_bytes` first to refuse it.
        on_progress: Receives a ``TrainTick`` after every step (step, sparsity, loss where the
            task reports it); it should return quickly, e.g. render only every few seconds.

    Returns:
        The trained (stripped, ordinary) model on the CPU and its ``TrainResult``.
    """
    settings = settings or PruningSettings()
    torch.manual_seed(seed)
    model = build_model(task, candidate.width, settings.exclude)
    on_step: Callable[[int], None] = _noop
    pruner: GradualPruner | None = None
    fit: _BytesFit | None = None
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
        if max_bytes is not None:
            fit = _BytesFit(pruner, max_bytes, settings)
            on_step = fit.wrap(on_step)
    if step_hook is not None:
        on_step = _chain(on_step, step_hook, model)
    on_loss: OnLoss | None = None
    if on_progress is not None:
        on_step, on_loss = _ticking(on_step, on_progress, pruner, task, reports_loss(task))
    key = WarmKey(
        width=candidate.width,
        seed=seed,
        snapshot_step=warm_start_step(task.total_steps(), settings),
        total_steps=task.total_steps(),
        device=str(device),
    )
    started = time.perf_counter()
    with deterministic_cuda(device):
        warm = _train(
            task,
            model,
            on_step=on_step,
            device=device,
            seed=seed,
            key=key,
            store=warm_start,
            on_loss=on_loss,
        )
        train_seconds = time.perf_counter() - started
        if pruner is not None:
            pruner.strip()
        metric_float32: float | None = None
        if parse_dtype(settings.dtype).name != "float32":
            metric_float32 = float(task.evaluate(model, device=device))
            round_to_dtype(model, settings.dtype)
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
        warm_start=warm,
        fit_note=fit.note if fit is not None else "",
        metric_dtype=parse_dtype(settings.dtype).name,
        metric_float32=metric_float32,
    )
    return model, result


def check_max_bytes(
    task: Task, candidate: Candidate, settings: PruningSettings, max_bytes: int
) -> None:
    """Refuse, before any training, a ``max_bytes`` cap the footprint already rules out.

    Raises:
        PrunefrontError: a dense candidate over the cap (it has no pruning to fit with), or a
            cap under the predicted bytes even at the fit's highest sparsity (``nm`` and
            ``dense`` bytes never shrink with more zeros).
    """
    model = build_model(task, candidate.width, settings.exclude)

    def predicted(sparsity: float) -> int:
        return model_footprint(
            model,
            sparsity=sparsity,
            pattern=candidate.pattern,
            fmt=settings.storage_format,
            dtype=settings.dtype,
            exclude=settings.exclude,
        ).footprint_bytes

    at_target = predicted(candidate.sparsity)
    if at_target <= max_bytes:
        return
    where = f"width {candidate.width:g}"
    if candidate.sparsity == 0:
        raise PrunefrontError(
            f"max_bytes = {max_bytes}: a dense candidate at {where} takes {at_target} B and "
            "has no pruning to fit with (give a sparsity)"
        )
    floor = predicted(max(candidate.sparsity, _FIT_MAX_SPARSITY))
    if floor > max_bytes:
        raise PrunefrontError(
            f"max_bytes = {max_bytes}: at {where} the {settings.storage_format} footprint is "
            f"{at_target} B at sparsity {candidate.sparsity:g} and still {floor} B at "
            f"{_FIT_MAX_SPARSITY:g}, whatever training does; raise the cap or choose another "
            "format or width"
        )


_FIT_ROUNDS = 12
"""At most this many growing mask updates to fit ``max_bytes`` (each aims 10 % past the gap)."""

_FIT_MAX_SPARSITY = 0.999


class _BytesFit:
    """At the schedule's last pruning update, prune a little further until the real bytes fit."""

    def __init__(self, pruner: GradualPruner, max_bytes: int, settings: PruningSettings) -> None:
        self.pruner = pruner
        self.max_bytes = int(max_bytes)
        self.settings = settings
        self.note = ""

    def wrap(self, on_step: Callable[[int], None]) -> Callable[[int], None]:
        """``on_step`` followed by the fit on the last pruning step."""
        end_step = self.pruner.schedule.end_step

        def fitted(step: int) -> None:
            on_step(step)
            if step == end_step:
                self.fit(step)

        return fitted

    def _bytes(self) -> tuple[int, int]:
        report = model_footprint(
            self.pruner.model,
            sparsity=None,
            pattern=self.pruner.pattern,
            fmt=self.settings.storage_format,
            dtype=self.settings.dtype,
            exclude=self.settings.exclude,
        )
        return report.footprint_bytes, report.params_nonzero

    @torch.no_grad()
    def fit(self, step: int) -> None:
        """Grow the masks (smallest magnitudes first) until the real bytes fit the cap."""
        first, nonzero = self._bytes()
        if first <= self.max_bytes:
            return
        numel = sum(t.param.numel() for t in self.pruner.targets)
        start = self.pruner.current_sparsity
        now, boost = first, 1.0
        for _ in range(_FIT_ROUNDS):
            if self.pruner.current_sparsity >= _FIT_MAX_SPARSITY:
                break
            per_weight = now / max(nonzero, 1)
            extra = math.ceil((now - self.max_bytes) / per_weight * 1.1 * boost) + 1
            target = min(self.pruner.current_sparsity + extra / numel, _FIT_MAX_SPARSITY)
            self.pruner.update_masks(target)
            before_nonzero = nonzero
            now, nonzero = self._bytes()
            if now <= self.max_bytes:
                break
            # Per-layer rounding, whole blocks or a filler that merging gaps needs can leave a
            # small step without effect: take larger ones until the masks really grow.
            boost = boost * 2 if nonzero >= before_nonzero else 1.0
        fitted = "fits" if now <= self.max_bytes else "still does not fit"
        self.note = (
            f"at step {step} the real {self.settings.storage_format} footprint was {first} B, "
            f"over the {self.max_bytes} B cap: pruned from {start:.4f} to "
            f"{self.pruner.current_sparsity:.4f}, now {now} B ({fitted})"
        )


def _train(
    task: Task,
    model: nn.Module,
    *,
    on_step: Callable[[int], None],
    device: str | torch.device,
    seed: int,
    key: WarmKey,
    store: WarmStart | None,
    on_loss: OnLoss | None = None,
) -> str:
    """Train ``model``, warm-started from ``store`` where possible; returns hit, miss or off."""
    # Only a task that takes ``on_loss`` is given it (``_ticking`` checked): user tasks need not.
    extra: dict[str, Any] = {} if on_loss is None else {"on_loss": on_loss}
    if store is None or key.snapshot_step < 0 or not supports_warm_start(task):
        task.train(model, on_step=on_step, device=device, seed=seed, **extra)
        return "off"
    with store.open(key) as slot:
        snapshot = slot.snapshot
        if snapshot is None:
            task.train(
                model,
                on_step=on_step,
                device=device,
                seed=seed,
                snapshot_at=key.snapshot_step,
                on_snapshot=slot.save,
                **extra,
            )
            return "miss"
    task.train(model, on_step=on_step, device=device, seed=seed, resume=snapshot, **extra)
    return "hit"


CUBLAS_WORKSPACE = ":4096:8"
"""The ``CUBLAS_WORKSPACE_CONFIG`` that makes cuBLAS deterministic (CUDA >= 10.2)."""


@contextmanager
def deterministic_cuda(device: str | torch.device) -> Iterator[None]:
    """On CUDA, train with deterministic kernels (restored afterwards); elsewhere do nothing.

    Warm starts and free copies of a drawn-again candidate are claimed bit-identical to
    training from scratch; on CUDA that holds only with deterministic algorithms, cuDNN
    determinism without autotuning, and a fixed cuBLAS workspace. The workspace variable is
    read when cuBLAS first starts in the process, so it is set here (if unset) and left set.
    Ops without a deterministic CUDA kernel warn rather than fail.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic = previous[2]
        torch.backends.cudnn.benchmark = previous[3]


def _noop(step: int) -> None:
    """No pruning: a small-dense candidate trains plainly."""


def _chain(first: Callable[[int], None], hook: StepHook, model: nn.Module) -> Callable[[int], None]:
    def on_step(step: int) -> None:
        first(step)
        hook(step, model)

    return on_step


def _ticking(
    on_step: Callable[[int], None],
    on_progress: OnProgress,
    pruner: GradualPruner | None,
    task: Task,
    with_loss: bool,
) -> tuple[Callable[[int], None], OnLoss | None]:
    """``on_step`` followed by a ``TrainTick``; and the ``on_loss`` that fills in its loss."""
    total = task.total_steps()
    loss: list[float | None] = [None]

    def on_loss(step: int, value: float) -> None:
        loss[0] = value

    def on_step_then_tick(step: int) -> None:
        on_step(step)
        sparsity = pruner.current_sparsity if pruner is not None else 0.0
        on_progress(TrainTick(step, total, sparsity, loss[0]))

    return on_step_then_tick, (on_loss if with_loss else None)
