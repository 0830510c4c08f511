"""Find a Task by reference: a built-in name or ``package.module:attr``.

This is how ``search.toml`` and the CLI name the user's model family; every way the reference
can be wrong ends in a one-line ``PrunefrontError`` that says what to fix.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from prunefront.errors import PrunefrontError
from prunefront.tasks._base import Task

__all__ = ["BUILTIN_TASKS", "check_task", "resolve_task"]

BUILTIN_TASKS: tuple[str, ...] = (
    "mnist1d-cnn",
    "charlm-lstm",
    "charlm-transformer",
    "tiny",
    "tiny-conv",
    "tiny-lstm",
)
"""Names ``resolve_task`` accepts besides ``package.module:attr``."""

_METHODS = ("build", "total_steps", "train", "evaluate", "example_inputs")
_ATTRIBUTES = ("name", "metric", "direction")


def _builtin(name: str) -> Callable[..., Task]:
    # Imported lazily: users naming a built-in should not pay for the others' imports.
    if name == "mnist1d-cnn":
        from prunefront.tasks._mnist1d import Mnist1dCnn

        return Mnist1dCnn
    if name == "charlm-lstm":
        from prunefront.tasks._charlm import CharLmLstm

        return CharLmLstm
    if name == "charlm-transformer":
        from prunefront.tasks._charlm_transformer import CharLmTransformer

        return CharLmTransformer
    from prunefront.tasks import _tiny

    tiny: dict[str, Callable[..., Task]] = {
        "tiny": _tiny.TinyTask,
        "tiny-conv": _tiny.TinyConvTask,
        "tiny-lstm": _tiny.TinyLstmTask,
    }
    return tiny[name]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_task(obj: object, ref: str) -> Task:
    """Return ``obj`` if it satisfies the Task protocol; otherwise say what is missing.

    Raises:
        PrunefrontError: Naming ``ref`` and the first problem found.
    """
    missing = [a for a in _ATTRIBUTES if not hasattr(obj, a)]
    missing += [m for m in _METHODS if not callable(getattr(obj, m, None))]
    if missing:
        raise PrunefrontError(
            f"task {ref!r} is a {type(obj).__name__}, not a Task: missing {', '.join(missing)}"
        )
    values = {attr: getattr(obj, attr) for attr in _ATTRIBUTES}
    for attr, value in values.items():
        if not isinstance(value, str) or not value:
            raise PrunefrontError(f"task {ref!r}: {attr} must be a non-empty string, got {value!r}")
    direction = values["direction"]
    if direction not in ("maximize", "minimize"):
        raise PrunefrontError(
            f"task {ref!r}: direction must be 'maximize' or 'minimize', got {direction!r}"
        )
    assert isinstance(obj, Task)  # guaranteed by the checks above; narrows the type
    return obj


def _import(module_name: str) -> object:
    # Like `python -m`, let a task module in the working directory be found; appended so that
    # a stray local folder never shadows an installed package.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise PrunefrontError(
            f"task module {module_name!r} failed to import: {_first_line(exc)}"
        ) from exc


def resolve_task(ref: str, options: Mapping[str, Any] | None = None) -> Task:
    """Return the Task named by ``ref``, built with ``options``.

    The one way search, export, profile, train and footprint turn a task reference (from
    ``search.toml``, a checkpoint's metadata or the command line) into a Task.

    Args:
        ref: A built-in name (see ``BUILTIN_TASKS``) or ``package.module:attr``, where ``attr``
            (dots allowed) is a Task instance, a Task class, or a zero-argument callable that
            returns a Task. Modules in the current working directory can be imported.
        options: Keyword arguments for a built-in task's constructor (``[task] options`` in
            ``search.toml``, ``--task-option``, or ``task_options`` in a checkpoint).

    Raises:
        PrunefrontError: One line naming the unknown name, the module that failed to import
            (with the error's first line), the missing attribute, or what makes the object not
            a Task; options given to a task that is not a built-in, or that its constructor
            does not take.
    """
    ref = ref.strip()
    if options:
        if ref not in BUILTIN_TASKS:
            raise PrunefrontError(
                "task.options: only built-in tasks take options; configure your own task in "
                "its module"
            )
        try:
            task = _builtin(ref)(**options)
        except TypeError as error:
            raise PrunefrontError(f"task.options: {error}") from None
        return check_task(task, ref)
    if ref in BUILTIN_TASKS:
        return check_task(_builtin(ref)(), ref)
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise PrunefrontError(
            f"unknown task {ref!r}; use a built-in ({', '.join(BUILTIN_TASKS)}) "
            "or 'package.module:attr'"
        )
    obj = _import(module_name)
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise PrunefrontError(f"task module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if inspect.isclass(obj) or (callable(obj) and not isinstance(obj, Task)):
        try:
            obj = obj()
        except Exception as exc:
            raise PrunefrontError(
                f"calling task factory {ref!r} with no arguments failed: {_first_line(exc)}"
            ) from exc
    return check_task(obj, ref)
