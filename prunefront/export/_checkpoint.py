"""A model rebuilt from a sparse weight file: the task that built it, at its width, its weights.

The one way ``profile --checkpoint``, ``export`` and the search's final and reprofile steps turn a
``.pfs`` file back into a model. The file's metadata names the task (``task``, ``task_options``)
and the width; a caller that knows better (the study's task object, a trial's width) says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from prunefront.candidate import build_model
from prunefront.errors import PrunefrontError
from prunefront.spaces import load_sparse
from prunefront.tasks import Task, resolve_task

__all__ = ["CheckpointModel", "model_from_checkpoint"]


@dataclass(frozen=True, kw_only=True)
class CheckpointModel:
    """A sparse weight file loaded into its task's model (in eval mode).

    Attributes:
        task: The task that built the model.
        model: The model with the file's weights, exact zeros included.
        width: The width multiplier it was built at.
        metadata: The file's metadata as written (``task``, ``task_options``, ``width``, ...).
    """

    task: Task
    model: nn.Module
    width: float
    metadata: Mapping[str, Any]


def model_from_checkpoint(
    path: Path, *, task: Task | str | None = None, width: float | None = None
) -> CheckpointModel:
    """Build the model of the sparse weight file ``path`` and load its weights.

    Args:
        path: A file written by ``save_sparse`` (``train --checkpoint``, a search trial).
        task: The task (or a task reference, resolved without options) that built it; by
            default the file's ``task`` resolved with its ``task_options``.
        width: The width it was built at; by default the file's ``width``.

    Raises:
        PrunefrontError: The file is unreadable, its metadata lacks the task or the width, or
            its weights do not fit the task's model at that width; the message names the path.
    """
    loaded = load_sparse(path)
    meta = loaded.metadata
    if task is None:
        ref = meta.get("task")
        if not ref:
            raise PrunefrontError(f"{path}: its metadata has no 'task'; pass --task")
        options = meta.get("task_options") or None
        task = resolve_task(str(ref), options if isinstance(options, Mapping) else None)
    elif isinstance(task, str):
        task = resolve_task(task)
    if width is None:
        if "width" not in meta:
            raise PrunefrontError(f"{path}: its metadata has no 'width'")
        width = float(meta["width"])
    model = build_model(task, width)
    try:
        model.load_state_dict(loaded.state_dict, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise PrunefrontError(
            f"{path} does not fit task {task.name} at width {width:g}: {first}"
        ) from None
    return CheckpointModel(task=task, model=model.eval(), width=width, metadata=meta)
