"""Tiny built-in tasks (``tiny``, ``tiny-conv``, ``tiny-lstm``): one per kind of prunable layer.

Complete ``Task`` implementations on seeded synthetic data (Linear; Conv1d + Linear; Embedding +
LSTM + Linear), each training in well under a second: the tasks of unit tests, demos and smoke
runs. ``prunefront.testing`` re-exports them for users' tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.utils.data import TensorDataset

from prunefront.tasks._checks import positive_float, positive_int
from prunefront.tasks._supervised import SupervisedTask
from prunefront.tasks._width import scale_channels

__all__ = ["TinyConvTask", "TinyLstmTask", "TinyTask"]


def _adam(lr: float) -> Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]:
    positive_float("lr", lr)

    def make(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr)

    return make


def _split(
    x: torch.Tensor, y: torch.Tensor, num_samples: int
) -> tuple[TensorDataset, TensorDataset]:
    """First ``num_samples`` rows train, the rest evaluate."""
    return TensorDataset(x[:num_samples], y[:num_samples]), TensorDataset(
        x[num_samples:], y[num_samples:]
    )


def _check_num_samples(num_samples: int) -> int:
    """Validate ``num_samples`` and return the total to generate (train + half for evaluation)."""
    positive_int("num_samples", num_samples, minimum=2)
    return num_samples + num_samples // 2


class TinyTask(SupervisedTask):
    """For tests: a small MLP classifying synthetic 16-feature points into 4 classes.

    Labels come from a random two-layer "teacher" network drawn from ``seed``, so the problem is
    learnable but not linearly separable. The model is ``Linear(16, h) -> ReLU -> Linear(h, h)
    -> ReLU -> Linear(h, 4)`` with ``h = scale_channels(64, width)``. Defaults (512 training
    and 256 evaluation points, 10 epochs of batch 64 = 80 steps, Adam lr 1e-2) train in about
    0.1 s to about 80% accuracy. Metric ``accuracy``; built-in name ``tiny``.

    Args:
        epochs: Passes over the training points.
        batch_size: Training batch size.
        lr: Adam learning rate.
        num_samples: Training points (half as many again are generated for evaluation).
        seed: Seed of the synthetic data.
        channel_multiple: Hidden sizes are rounded to multiples of this; 1 disables rounding.
        init_seed: Seed of the initial weights; None (default): the training seed's.
    """

    def __init__(
        self,
        *,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 1e-2,
        num_samples: int = 512,
        seed: int = 0,
        channel_multiple: int = 8,
        init_seed: int | None = None,
    ) -> None:
        scale_channels(8, 1.0, channel_multiple)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(_check_num_samples(num_samples), 16, generator=gen)
        # Scaled so the teacher's tanh units are not saturated: a smooth, learnable boundary.
        teacher_in = torch.randn(16, 32, generator=gen) / 4
        teacher_out = torch.randn(32, 4, generator=gen)
        y = (torch.tanh(x @ teacher_in) @ teacher_out).argmax(dim=1)
        train_data, eval_data = _split(x, y, num_samples)

        def model_fn(width: float) -> nn.Module:
            hidden = scale_channels(64, width, channel_multiple)
            return nn.Sequential(
                nn.Linear(16, hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Linear(hidden, 4),
            )

        super().__init__(
            name="tiny",
            model_fn=model_fn,
            train_data=train_data,
            eval_data=eval_data,
            loss_fn=nn.functional.cross_entropy,
            optimizer_fn=_adam(lr),
            epochs=epochs,
            batch_size=batch_size,
            init_seed=init_seed,
        )


class TinyConvTask(SupervisedTask):
    """For tests: a small 1-D CNN telling apart four noisy sine frequencies (Conv1d + Linear).

    Each sample is ``(1, 32)``: a sine of 1, 2, 3 or 4 cycles (the class) with a random phase
    and Gaussian noise. The model is ``Conv1d(1, c, 5) -> ReLU -> Conv1d(c, c, 3, stride 2) ->
    ReLU -> Flatten -> Linear(16c, 4)`` with ``c = scale_channels(32, width)``. Defaults (512
    training and 256 evaluation signals, 6 epochs of batch 64 = 48 steps) train in about 0.2 s.
    Metric ``accuracy``; built-in name ``tiny-conv``.

    Args:
        epochs: Passes over the training signals.
        batch_size: Training batch size.
        lr: Adam learning rate.
        num_samples: Training signals (half as many again are generated for evaluation).
        seed: Seed of the synthetic data.
        channel_multiple: Channel counts are rounded to multiples of this; 1 disables rounding.
    """

    length = 32

    def __init__(
        self,
        *,
        epochs: int = 6,
        batch_size: int = 64,
        lr: float = 1e-2,
        num_samples: int = 512,
        seed: int = 0,
        channel_multiple: int = 8,
        init_seed: int | None = None,
    ) -> None:
        scale_channels(8, 1.0, channel_multiple)
        gen = torch.Generator().manual_seed(seed)
        total = _check_num_samples(num_samples)
        y = torch.randint(0, 4, (total,), generator=gen)
        phase = 2 * math.pi * torch.rand(total, 1, generator=gen)
        t = torch.linspace(0, 2 * math.pi, self.length)
        x = torch.sin((y[:, None] + 1) * t + phase) + 0.5 * torch.randn(
            total, self.length, generator=gen
        )
        train_data, eval_data = _split(x[:, None, :], y, num_samples)

        def model_fn(width: float) -> nn.Module:
            c = scale_channels(32, width, channel_multiple)
            return nn.Sequential(
                nn.Conv1d(1, c, kernel_size=5, padding=2),
                nn.ReLU(),
                nn.Conv1d(c, c, kernel_size=3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(c * self.length // 2, 4),
            )

        super().__init__(
            name="tiny-conv",
            model_fn=model_fn,
            train_data=train_data,
            eval_data=eval_data,
            loss_fn=nn.functional.cross_entropy,
            optimizer_fn=_adam(lr),
            epochs=epochs,
            batch_size=batch_size,
            init_seed=init_seed,
        )


class _TinyLstm(nn.Module):
    """Embedding -> 1-layer LSTM -> Linear on the last time step: ids (B, T) to logits (B, C)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embedding(tokens))
        logits: torch.Tensor = self.head(hidden[:, -1])
        return logits


class TinyLstmTask(SupervisedTask):
    """For tests: an Embedding + LSTM + Linear classifier that must remember a sequence's start.

    Each sample is 10 token ids in ``[0, 8)``; the label is the first token modulo 4, so the
    LSTM has to carry it to the last step. The model is ``Embedding(8, e) -> LSTM(e, h) ->
    Linear(h, 4)`` on the last step with ``e = scale_channels(16, width)`` and ``h =
    scale_channels(32, width)``. Defaults (512 training and 256 evaluation sequences, 8 epochs of
    batch 32 = 128 steps) train in about 0.5 s. Metric ``accuracy``; built-in name ``tiny-lstm``.

    Args:
        epochs: Passes over the training sequences.
        batch_size: Training batch size.
        lr: Adam learning rate.
        num_samples: Training sequences (half as many again are generated for evaluation).
        seed: Seed of the synthetic data.
        channel_multiple: Unit counts are rounded to multiples of this; 1 disables rounding.
    """

    vocab_size = 8
    seq_len = 10

    def __init__(
        self,
        *,
        epochs: int = 8,
        batch_size: int = 32,
        lr: float = 1e-2,
        num_samples: int = 512,
        seed: int = 0,
        channel_multiple: int = 8,
        init_seed: int | None = None,
    ) -> None:
        scale_channels(8, 1.0, channel_multiple)
        gen = torch.Generator().manual_seed(seed)
        total = _check_num_samples(num_samples)
        x = torch.randint(0, self.vocab_size, (total, self.seq_len), generator=gen)
        train_data, eval_data = _split(x, x[:, 0] % 4, num_samples)

        def model_fn(width: float) -> nn.Module:
            embed = scale_channels(16, width, channel_multiple)
            hidden = scale_channels(32, width, channel_multiple)
            return _TinyLstm(self.vocab_size, embed, hidden, 4)

        super().__init__(
            name="tiny-lstm",
            model_fn=model_fn,
            train_data=train_data,
            eval_data=eval_data,
            loss_fn=nn.functional.cross_entropy,
            optimizer_fn=_adam(lr),
            epochs=epochs,
            batch_size=batch_size,
            max_grad_norm=1.0,
            init_seed=init_seed,
        )


# Their public home, where they were defined before moving here: ``search.run`` names the study of
# a Task object after ``module:qualname``, so a study of ``TinyTask()`` keeps its name.
for _tiny in (TinyTask, TinyConvTask, TinyLstmTask):
    _tiny.__module__ = "prunefront.testing"
