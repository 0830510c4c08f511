"""A torchvision CNN as a prunefront task: MobileNetV2 at a width multiplier on any ImageFolder.

Needs the optional extra: ``pip install "prunefront[vision]"`` (torchvision; install the build
that matches your torch). Point it at an ImageFolder tree (``root/<class>/<image>``) with
``PRUNEFRONT_IMAGEFOLDER`` and search it from the repository root:

    PRUNEFRONT_IMAGEFOLDER=/data/flowers prunefront search examples/tasks/torchvision-cnn.toml

Every fifth image (in ImageFolder's sorted order) is held out for evaluation. The width
multiplier is MobileNetV2's own ``width_mult`` (channels rounded to multiples of 8), so width
0.5 is torchvision's ``mobilenet_v2(width_mult=0.5)``.

Starting from pretrained weights: ``build`` may load them (torchvision ships ImageNet weights
for ``width_mult=1.0`` only; pass ``pretrained_path`` to a ``state_dict`` saved beforehand,
since prunefront never downloads). Only the full width can start from them, so the
small-dense side (every narrower width) trains from scratch while the large-sparse side
fine-tunes a pretrained model: the front then answers "prune the pretrained model, or train a
smaller one from scratch?", a different and often lopsided question. For the paper's question
give both sides the same start (no weights, or narrower pretrained models of your own), and
say which in the report.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Subset

from prunefront.errors import PrunefrontError
from prunefront.tasks import SupervisedTask, check_width

__all__ = ["imagefolder_task", "make_task"]


def _check_torchvision() -> None:
    try:
        importlib.import_module("torchvision")
    except Exception as error:  # a torchvision built for another torch fails to load its ops
        raise PrunefrontError(
            f"examples/tasks/torchvision_cnn.py needs torchvision ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}); "
            'install it with pip install "prunefront[vision]"'
        ) from error


def imagefolder_task(
    root: str | Path,
    *,
    image_size: int = 64,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    pretrained_path: str | Path | None = None,
) -> SupervisedTask:
    """A ``SupervisedTask`` training ``mobilenet_v2(width_mult=width)`` on ImageFolder ``root``.

    Args:
        root: The ImageFolder tree.
        image_size: Images are resized to ``image_size x image_size``.
        epochs: Passes over the training images.
        batch_size: Images per step.
        lr: Adam's learning rate.
        pretrained_path: A ``state_dict`` for width 1.0 (e.g. torchvision's ImageNet weights,
            saved beforehand); its classifier is replaced to fit the classes of ``root``.
    """
    _check_torchvision()
    from torchvision import datasets, models, transforms

    folder = Path(root)
    if not folder.is_dir():
        raise PrunefrontError(f"ImageFolder root {folder} is not a directory")
    transform = transforms.Compose(
        [transforms.Resize((image_size, image_size)), transforms.ToTensor()]
    )
    images = datasets.ImageFolder(str(folder), transform=transform)
    classes = len(images.classes)
    held_out = list(range(0, len(images), 5))
    training = [i for i in range(len(images)) if i % 5]
    if not held_out or not training:
        raise PrunefrontError(f"ImageFolder {folder} needs at least 2 images")

    def build(width: float) -> nn.Module:
        value = check_width(width)
        model = models.mobilenet_v2(width_mult=value, num_classes=classes)
        if pretrained_path is not None and value == 1.0:
            state = torch.load(pretrained_path, map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
            model.load_state_dict(state, strict=False)
        return model

    return SupervisedTask(
        name=f"mobilenet_v2-{folder.name}",
        model_fn=build,
        train_data=Subset(images, training),
        eval_data=Subset(images, held_out),
        loss_fn=nn.functional.cross_entropy,
        optimizer_fn=lambda params: torch.optim.Adam(params, lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        drop_last=True,  # BatchNorm cannot train on a last batch of one image
    )


def make_task() -> SupervisedTask:
    """The task ``search.toml`` names: the ImageFolder at ``$PRUNEFRONT_IMAGEFOLDER``."""
    root = os.environ.get("PRUNEFRONT_IMAGEFOLDER")
    if not root:
        raise PrunefrontError("set PRUNEFRONT_IMAGEFOLDER to an ImageFolder tree (root/<class>/*)")
    return imagefolder_task(root)
