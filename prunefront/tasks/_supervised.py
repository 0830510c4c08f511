"""SupervisedTask: a complete Task built from datasets, a loss, an optimizer factory and epochs.

This is the shortest path from an ordinary PyTorch training script to something prunefront can
search over: hand over the pieces and the training loop (seeding, device placement, the
``on_step`` callback where the pruner lives, divergence detection) comes with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sized

import torch
from torch import nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    default_collate,
)

from prunefront.errors import PrunefrontError
from prunefront.tasks._base import OnStep
from prunefront.tasks._checks import positive_int
from prunefront.tasks._loop import init_rng, seeded, to_device, train_steps
from prunefront.tasks._loss import OnLoss
from prunefront.tasks._warm import (
    OnSnapshot,
    TrainSnapshot,
    capture_snapshot,
    check_warm_args,
    restore_snapshot,
    with_snapshot,
)
from prunefront.tasks._width import check_width

__all__ = ["SupervisedTask", "accuracy"]

ModelFn = Callable[[float], nn.Module]
OptimizerFn = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFn = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]
ExampleInputFn = Callable[[int], tuple[torch.Tensor, ...]]
_DIRECTIONS = ("maximize", "minimize")


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max over the last dimension equals the target class."""
    return float((outputs.argmax(dim=-1) == targets).float().mean())


def _sized(key: str, data: Dataset[tuple[torch.Tensor, ...]]) -> int:
    if not isinstance(data, Sized):
        raise PrunefrontError(f"{key} must be a map-style Dataset with __len__")
    if len(data) == 0:
        raise PrunefrontError(f"{key} is empty; it needs at least one sample")
    return len(data)


class _SkippingBatchSampler(Sampler[list[int]]):
    """A ``BatchSampler`` whose next pass leaves out its first ``skip`` batches.

    The skipped batches are still drawn (only their indices, no data is loaded), so the shared
    generator advances exactly as in an uninterrupted pass.
    """

    def __init__(self, inner: BatchSampler) -> None:
        self.inner = inner
        self.skip = 0

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        for index, batch in enumerate(self.inner):
            if index >= skip:
                yield batch

    def __len__(self) -> int:
        return len(self.inner)


class SupervisedTask:
    """A Task assembled from the parts of a supervised training script.

    Every dataset item is ``(input, target)`` or ``(*inputs, target)``; the model is called as
    ``model(*inputs)`` and the loss as ``loss_fn(outputs, targets)``. Training shuffles the data
    with a generator seeded from ``seed``, takes ``epochs * batches_per_epoch`` optimizer steps and
    calls ``on_step(step)`` after each (after the LR-scheduler step, so a pruner sees final
    weights). ``build(width)`` draws the initial weights from torch's global RNG, which
    ``train_candidate`` seeds with the training seed, so seed replicates differ in initialisation
    as well as in data order; a fixed ``init_seed`` gives every build equal initial weights.
    Attributes are the constructor's arguments; treat them as read-only.

    Args:
        name: Short identifier used in reports and run folders.
        model_fn: ``model_fn(width) -> nn.Module``; called with a validated width in (0, 1].
        train_data: Map-style training dataset.
        eval_data: Map-style held-out dataset for ``evaluate``.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        optimizer_fn: ``optimizer_fn(params) -> Optimizer``; a fresh optimizer per ``train``.
        epochs: Passes over ``train_data``.
        batch_size: Training batch size.
        metric: Name of the metric ``metric_fn`` computes.
        direction: ``"maximize"`` or ``"minimize"``.
        metric_fn: ``metric_fn(outputs, targets) -> float`` over the whole evaluation set
            (outputs and targets concatenated on the CPU). Defaults to classification accuracy.
        scheduler_fn: ``scheduler_fn(optimizer, total_steps) -> LRScheduler``, stepped once per
            optimizer step.
        example_input_fn: ``example_input_fn(batch_size) -> inputs``; defaults to the first
            ``batch_size`` training samples (repeated if the dataset is smaller).
        max_grad_norm: Clip the gradient norm to this value before each step.
        drop_last: Drop the last incomplete training batch of every epoch.
        eval_batch_size: Batch size for ``evaluate``.
        init_seed: Seed under which ``build`` initialises weights; ``None`` (default) uses the
            global RNG, which the training seed sets.

    Raises:
        PrunefrontError: On an invalid epoch count, batch size, direction or dataset.
    """

    def __init__(
        self,
        *,
        name: str,
        model_fn: ModelFn,
        train_data: Dataset[tuple[torch.Tensor, ...]],
        eval_data: Dataset[tuple[torch.Tensor, ...]],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer_fn: OptimizerFn,
        epochs: int,
        batch_size: int,
        metric: str = "accuracy",
        direction: str = "maximize",
        metric_fn: MetricFn = accuracy,
        scheduler_fn: SchedulerFn | None = None,
        example_input_fn: ExampleInputFn | None = None,
        max_grad_norm: float | None = None,
        drop_last: bool = False,
        eval_batch_size: int = 1024,
        init_seed: int | None = None,
    ) -> None:
        if direction not in _DIRECTIONS:
            raise PrunefrontError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        self.name = name
        self.metric = metric
        self.direction = direction
        self.model_fn = model_fn
        self.train_data = train_data
        self.eval_data = eval_data
        self.loss_fn = loss_fn
        self.optimizer_fn = optimizer_fn
        self.epochs = positive_int("epochs", epochs)
        self.batch_size = positive_int("batch_size", batch_size)
        self.metric_fn = metric_fn
        self.scheduler_fn = scheduler_fn
        self.example_input_fn = example_input_fn
        self.max_grad_norm = max_grad_norm
        self.drop_last = drop_last
        self.eval_batch_size = positive_int("eval_batch_size", eval_batch_size)
        self.init_seed = init_seed
        num_train = _sized("train_data", train_data)
        _sized("eval_data", eval_data)
        if drop_last and num_train < self.batch_size:
            raise PrunefrontError(
                f"batch_size must be <= len(train_data)={num_train} when drop_last is set, "
                f"got {batch_size}"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, metric={self.metric!r}, "
            f"epochs={self.epochs}, batch_size={self.batch_size})"
        )

    def build(self, width: float) -> nn.Module:
        """Return a freshly initialised model at width multiplier ``width`` in (0, 1]."""
        value = check_width(width)
        with init_rng(self.init_seed):
            return self.model_fn(value)

    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over ``train_data``."""
        num_train = len(self.train_data)  # type: ignore[arg-type]
        if self.drop_last:
            return num_train // self.batch_size
        return math.ceil(num_train / self.batch_size)

    def total_steps(self) -> int:
        """Return the number of optimizer steps that ``train`` will take."""
        return self.epochs * self.steps_per_epoch()

    def _loader(
        self, generator: torch.Generator
    ) -> tuple[_SkippingBatchSampler, DataLoader[tuple[torch.Tensor, ...]]]:
        # The sampler DataLoader(shuffle=True) would build, wrapped so that a resumed epoch can
        # skip the batches already taken without loading them.
        batch_sampler = _SkippingBatchSampler(
            BatchSampler(
                RandomSampler(self.train_data, generator=generator),  # type: ignore[arg-type]
                self.batch_size,
                self.drop_last,
            )
        )
        loader = DataLoader(self.train_data, batch_sampler=batch_sampler, generator=generator)
        return batch_sampler, loader

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
        on_loss: OnLoss | None = None,
    ) -> None:
        """Train ``model`` in place on ``device``, calling ``on_step(step)`` after every step.

        Supports warm starts (``SupportsWarmStart``): ``resume`` continues from a snapshot after
        its step, bit-identical to training from scratch with the same ``seed``; ``on_snapshot``
        receives a snapshot right after ``on_step(snapshot_at)``.
        Reports the loss (``reports_loss``): ``on_loss(step, loss)`` precedes ``on_step(step)``.

        Raises:
            FloatingPointError: If the loss becomes NaN or infinite (the message names the step).
            PrunefrontError: If ``snapshot_at`` or ``resume.step`` is not a step of training.
        """
        check_warm_args(self.total_steps(), resume, snapshot_at)
        dev = torch.device(device)
        model.to(dev)
        model.train()
        optimizer = self.optimizer_fn(model.parameters())
        scheduler = None
        if self.scheduler_fn is not None:
            scheduler = self.scheduler_fn(optimizer, self.total_steps())
        generator = torch.Generator().manual_seed(seed)
        batch_sampler, loader = self._loader(generator)
        per_epoch = self.steps_per_epoch()
        # The data order of an epoch is fixed by the generator's state when the epoch starts.
        epoch_start = [generator.get_state()]

        def take(step: int) -> TrainSnapshot:
            data_state = {
                "epoch": step // per_epoch,
                "epoch_generator": epoch_start[0],
                "batches_done": step % per_epoch + 1,
            }
            return capture_snapshot(
                step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                device=dev,
                data_state=data_state,
            )

        def loss_fn(net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            *inputs, targets = batch
            return self.loss_fn(net(*inputs), targets)

        step_fn = with_snapshot(
            on_step, snapshot_at=snapshot_at, on_snapshot=on_snapshot, take=take
        )
        with seeded(seed, dev):
            step, first_epoch = 0, 0
            if resume is not None:
                restore_snapshot(
                    resume, model=model, optimizer=optimizer, scheduler=scheduler, device=dev
                )
                generator.set_state(resume.data_state["epoch_generator"])
                batch_sampler.skip = int(resume.data_state["batches_done"])
                step, first_epoch = resume.step + 1, int(resume.data_state["epoch"])
            for _ in range(first_epoch, self.epochs):
                epoch_start[0] = generator.get_state()
                batches = (to_device(batch, dev) for batch in loader)
                step = train_steps(
                    model,
                    batches,
                    loss_fn=loss_fn,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    on_step=step_fn,
                    max_grad_norm=self.max_grad_norm,
                    first_step=step,
                    on_loss=on_loss,
                )

    @torch.no_grad()
    def evaluate(self, model: nn.Module, *, device: torch.device | str) -> float:
        """Return ``metric_fn`` of the model's outputs on ``eval_data``."""
        dev = torch.device(device)
        was_training = model.training
        model.to(dev)
        model.eval()
        outputs: list[torch.Tensor] = []
        targets: list[torch.Tensor] = []
        try:
            for batch in DataLoader(self.eval_data, batch_size=self.eval_batch_size):
                *inputs, target = batch
                outputs.append(model(*(x.to(dev) for x in inputs)).float().cpu())
                targets.append(target)
        finally:
            model.train(was_training)
        return float(self.metric_fn(torch.cat(outputs), torch.cat(targets)))

    def example_inputs(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Return inputs of batch size ``batch_size`` for profiling and export."""
        positive_int("batch_size", batch_size)
        if self.example_input_fn is not None:
            return tuple(self.example_input_fn(batch_size))
        num_train = len(self.train_data)  # type: ignore[arg-type]
        batch = default_collate([self.train_data[i % num_train] for i in range(batch_size)])
        return tuple(batch[:-1])
