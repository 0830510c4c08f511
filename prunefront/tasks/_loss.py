"""Loss reporting: an optional Task capability to hand each step's training loss to a listener.

Progress displays show the loss where a task can give it. A task opts in by accepting one more
keyword argument in ``train``: ``on_loss``, called as ``on_loss(step, loss)`` with the scalar
training loss of optimizer step ``step``, just before ``on_step(step)``. The ``Task`` protocol
itself is unchanged: a user task whose ``train`` does not take ``on_loss`` is never passed it,
and simply shows no loss. The built-in tasks and ``SupervisedTask`` report it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

__all__ = ["OnLoss", "reports_loss", "train_takes"]

OnLoss = Callable[[int, float], None]
"""Receives ``(step, loss)``: the training loss of optimizer step ``step`` as a Python float."""


def train_takes(task: object, *names: str) -> bool:
    """Whether ``task.train`` takes every one of ``names`` by keyword.

    A ``train(**kwargs)`` that might swallow them does not count: an optional capability must
    be declared by name.
    """
    train = getattr(task, "train", None)
    if not callable(train):
        return False
    try:
        params = inspect.signature(train).parameters
    except (TypeError, ValueError):
        return False
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return all(name in params and params[name].kind in named for name in names)


def reports_loss(task: object) -> bool:
    """Whether ``task.train`` takes ``on_loss`` by keyword (``**kwargs`` alone does not count)."""
    return train_takes(task, "on_loss")
