"""A user task module of the README's kind: a width-scaled MLP on generated Gaussian clusters.

Search it from the repository root (the working directory is importable, so the reference
``examples.tasks.blobs:task`` resolves without installing anything):

    prunefront search examples/tasks/blobs.toml

Replace ``blobs`` with your datasets and ``mlp`` with your model family: ``model_fn(width)``
must build the model at a width multiplier in (0, 1]; 1.0 is the full model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from prunefront.tasks import SupervisedTask

__all__ = ["blobs", "mlp", "task"]


def blobs(n: int, seed: int) -> TensorDataset:
    """Four Gaussian clusters in 16 dimensions, generated here: no download."""
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 2
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=gen)
    return TensorDataset(centers[labels] + torch.randn(n, 16, generator=gen), labels)


def mlp(width: float) -> nn.Module:
    """Two hidden layers of ``64 * width`` units (at least 8)."""
    hidden = max(8, round(64 * width))
    return nn.Sequential(
        nn.Linear(16, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 4)
    )


task = SupervisedTask(
    name="blobs",
    model_fn=mlp,
    train_data=blobs(512, seed=1),
    eval_data=blobs(256, seed=2),
    loss_fn=nn.functional.cross_entropy,
    optimizer_fn=lambda params: torch.optim.Adam(params, lr=1e-2),
    epochs=3,
    batch_size=64,
)
