"""Tasks: the model families prunefront searches over, and the protocol a user's own must follow.

A task says how to build a model at a width multiplier, train it (calling ``on_step`` after every
optimizer step, where the pruner lives), evaluate it, and produce example inputs. Users pass
their own by reference (``package.module:attr``) or pick a built-in by name.
"""

from __future__ import annotations

from prunefront.tasks._base import OnStep, Task
from prunefront.tasks._charlm import CharLmLstm
from prunefront.tasks._charlm_transformer import CharLmTransformer
from prunefront.tasks._loss import OnLoss, reports_loss
from prunefront.tasks._mnist1d import Mnist1dCnn
from prunefront.tasks._resolve import BUILTIN_TASKS, check_task, resolve_task
from prunefront.tasks._supervised import SupervisedTask, accuracy
from prunefront.tasks._tiny import TinyConvTask, TinyLstmTask, TinyTask
from prunefront.tasks._warm import (
    OnSnapshot,
    SupportsWarmStart,
    TrainSnapshot,
    supports_warm_start,
)
from prunefront.tasks._width import check_width, scale_channels

__all__ = [
    "BUILTIN_TASKS",
    "CharLmLstm",
    "CharLmTransformer",
    "Mnist1dCnn",
    "OnLoss",
    "OnSnapshot",
    "OnStep",
    "SupervisedTask",
    "SupportsWarmStart",
    "Task",
    "TinyConvTask",
    "TinyLstmTask",
    "TinyTask",
    "TrainSnapshot",
    "accuracy",
    "check_task",
    "check_width",
    "reports_loss",
    "resolve_task",
    "scale_channels",
    "supports_warm_start",
]
