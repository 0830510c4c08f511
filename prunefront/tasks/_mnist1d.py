"""Built-in task ``mnist1d-cnn``: a width-scalable 1-D CNN on MNIST-1D, generated offline.

MNIST-1D (Greydanus 2020) is a procedurally generated 40-sample, 10-class signal dataset on which
model capacity visibly matters and a CNN trains in seconds on a CPU: a small stand-in for the
paper's ImageNet MobileNets. The data is generated with ``mnist1d.data.make_dataset`` (never the
downloading ``get_dataset``) once per user: the arrays are kept in the disk cache of
``_datacache`` (so worker processes and later commands load them in milliseconds) and in memory
for the life of the process.
"""

from __future__ import annotations

import functools
import importlib.metadata
import random
import threading

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from prunefront.tasks._base import OnStep
from prunefront.tasks._checks import positive_float, positive_int
from prunefront.tasks._datacache import cached_arrays
from prunefront.tasks._loop import hold_then_cosine, init_rng
from prunefront.tasks._loss import OnLoss
from prunefront.tasks._supervised import SupervisedTask
from prunefront.tasks._warm import OnSnapshot, TrainSnapshot
from prunefront.tasks._width import check_width, scale_channels

__all__ = ["Mnist1dCnn", "mnist1d_arrays"]

_NUM_CLASSES = 10
_SEQ_LEN = 40
_TRAIN_SPLIT = 0.8
_BASE_CHANNELS = (32, 64, 64)
_BASE_HIDDEN = 128
_generate_lock = threading.Lock()


def _num_train(num_samples: int) -> int:
    # make_dataset draws num_samples // 10 signals per class, then keeps the first 80% for training.
    return int(num_samples // _NUM_CLASSES * _NUM_CLASSES * _TRAIN_SPLIT)


_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_MAKE_VERSION = 1  # bump when ``_make`` changes what it returns: cached arrays are keyed by it


def _make(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset  # slow import (matplotlib)

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds the global `random` and NumPy RNGs; put the caller's state back.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {
        "x_train": data["x"].astype(np.float32),
        "y_train": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int64),
    }


@functools.lru_cache(maxsize=4)
def _generate(num_samples: int, seed: int) -> tuple[np.ndarray, ...]:
    key = {
        "num_samples": num_samples,
        "seed": seed,
        "mnist1d": importlib.metadata.version("mnist1d"),
    }
    arrays = cached_arrays("mnist1d", key, _ARRAYS, lambda: _make(num_samples, seed))
    return tuple(arrays[name] for name in _ARRAYS)


def mnist1d_arrays(
    num_samples: int = 10_000, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D as read-only ``(x_train, y_train, x_test, y_test)``, generated once per user.

    ``x`` arrays are float32 of shape ``(n, 40)``, standardised; ``y`` arrays are int64 class ids.
    80% of the ``num_samples`` signals are for training. Generating 10,000 takes about 4 s of
    CPU; loading them from the cache about a millisecond.
    """
    with _generate_lock:
        x_train, y_train, x_test, y_test = _generate(num_samples, seed)
    if len(x_train) != _num_train(num_samples):
        raise RuntimeError("mnist1d changed its train/test split; update _num_train")
    return x_train, y_train, x_test, y_test


def _cnn(width: float, multiple: int) -> nn.Sequential:
    c1, c2, c3 = (scale_channels(c, width, multiple) for c in _BASE_CHANNELS)
    hidden = scale_channels(_BASE_HIDDEN, width, multiple)
    return nn.Sequential(
        nn.Unflatten(1, (1, _SEQ_LEN)),
        nn.Conv1d(1, c1, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.Conv1d(c1, c2, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(c2, c3, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c3 * _SEQ_LEN // 4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, _NUM_CLASSES),
    )


class Mnist1dCnn:
    """Built-in ``mnist1d-cnn``: a 1-D CNN classifying MNIST-1D signals; metric ``accuracy``.

    The model takes a float tensor ``(batch, 40)`` and returns logits ``(batch, 10)``. At width
    1.0 it has three Conv1d layers of 32/64/64 channels (kernel 5, then 3 with stride 2) and a
    hidden Linear of 128 units; every one of those scales with the width multiplier, rounded to a
    multiple of ``channel_multiple``. Defaults: 10,000 signals (8,000 train / 2,000 test),
    ``epochs=15``, ``batch_size=128`` (945 steps), AdamW with ``lr=1e-2`` and weight decay 1e-4,
    LR held constant for 75% of training then cosine-decayed to zero: about 6 s at width 1.0 on
    two CPU threads, about 97.5% test accuracy (96% at width 0.5, 92% at 0.25).

    Args:
        epochs: Passes over the training signals.
        batch_size: Training batch size.
        lr: Peak learning rate.
        num_samples: Signals to generate (80% train, 20% test).
        data_seed: Seed of the dataset generator.
        init_seed: Seed of the weight initialisation in ``build``; ``None`` (default) draws
            from the global RNG, so the training seed changes the initial weights too.
        channel_multiple: Channel counts are rounded to multiples of this; 1 disables rounding.
    """

    def __init__(
        self,
        *,
        epochs: int = 15,
        batch_size: int = 128,
        lr: float = 1e-2,
        num_samples: int = 10_000,
        data_seed: int = 42,
        init_seed: int | None = None,
        channel_multiple: int = 8,
    ) -> None:
        scale_channels(8, 1.0, channel_multiple)  # validates channel_multiple
        self.name = "mnist1d-cnn"
        self.metric = "accuracy"
        self.direction = "maximize"
        # Validated here: the SupervisedTask that would check them is built (with the data) lazily.
        self.epochs = positive_int("epochs", epochs)
        self.batch_size = positive_int("batch_size", batch_size)
        self.lr = positive_float("lr", lr)
        self.num_samples = positive_int("num_samples", num_samples, minimum=20)
        self.data_seed = data_seed
        self.init_seed = init_seed
        self.channel_multiple = channel_multiple
        self._task: SupervisedTask | None = None

    def __repr__(self) -> str:
        return (
            f"Mnist1dCnn(epochs={self.epochs}, batch_size={self.batch_size}, lr={self.lr}, "
            f"num_samples={self.num_samples})"
        )

    def __getstate__(self) -> dict[str, object]:
        # The inner SupervisedTask holds lambdas and the data; a copy sent to a worker process
        # rebuilds it from the (cached) generator instead.
        state = self.__dict__.copy()
        state["_task"] = None
        return state

    def _supervised(self) -> SupervisedTask:
        if self._task is None:
            x_train, y_train, x_test, y_test = mnist1d_arrays(self.num_samples, self.data_seed)
            lr = self.lr
            self._task = SupervisedTask(
                name=self.name,
                model_fn=lambda width: _cnn(width, self.channel_multiple),
                train_data=TensorDataset(torch.tensor(x_train), torch.tensor(y_train)),
                eval_data=TensorDataset(torch.tensor(x_test), torch.tensor(y_test)),
                loss_fn=nn.functional.cross_entropy,
                optimizer_fn=lambda params: torch.optim.AdamW(params, lr=lr, weight_decay=1e-4),
                scheduler_fn=hold_then_cosine,
                epochs=self.epochs,
                batch_size=self.batch_size,
                init_seed=self.init_seed,
            )
        return self._task

    def build(self, width: float) -> nn.Module:
        """Return a freshly initialised CNN at width multiplier ``width`` in (0, 1]."""
        value = check_width(width)
        with init_rng(self.init_seed):
            return _cnn(value, self.channel_multiple)

    def total_steps(self) -> int:
        """Return the number of optimizer steps that ``train`` will take."""
        return self.epochs * -(-_num_train(self.num_samples) // self.batch_size)

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
        """Train ``model`` in place, calling ``on_step(step)`` after every optimizer step.

        Supports warm starts (``SupportsWarmStart``) and ``on_loss`` exactly as
        ``SupervisedTask.train``.
        """
        self._supervised().train(
            model,
            on_step=on_step,
            device=device,
            seed=seed,
            resume=resume,
            snapshot_at=snapshot_at,
            on_snapshot=on_snapshot,
            on_loss=on_loss,
        )

    def evaluate(self, model: nn.Module, *, device: torch.device | str) -> float:
        """Return test accuracy in [0, 1]."""
        return self._supervised().evaluate(model, device=device)

    def example_inputs(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Return a float tensor ``(batch_size, 40)`` of standard-normal signals."""
        positive_int("batch_size", batch_size)
        generator = torch.Generator().manual_seed(0)
        return (torch.randn(batch_size, _SEQ_LEN, generator=generator),)
