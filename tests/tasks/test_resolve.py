"""resolve_task: built-in names and package.module:attr references, and every way they go wrong."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from prunefront.errors import PrunefrontError
from prunefront.tasks import (
    BUILTIN_TASKS,
    CharLmLstm,
    CharLmTransformer,
    Mnist1dCnn,
    Task,
    resolve_task,
)
from prunefront.testing import TinyConvTask, TinyLstmTask, TinyTask

_counter = itertools.count()

_GOOD_TASK = """
from prunefront.testing import TinyTask

task = TinyTask(epochs=1)

def make_task():
    return TinyTask(epochs=2)

class Holder:
    inner = TinyTask(epochs=3)
"""


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write a module under a unique name into an importable folder; return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        name = f"user_task_mod_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mnist1d-cnn", Mnist1dCnn),
        ("charlm-lstm", CharLmLstm),
        ("charlm-transformer", CharLmTransformer),
        ("tiny", TinyTask),
        ("tiny-conv", TinyConvTask),
        ("tiny-lstm", TinyLstmTask),
    ],
)
def test_builtin_names_resolve_to_their_task(name: str, cls: type) -> None:
    task = resolve_task(name)
    assert type(task) is cls
    assert task.name == name
    assert name in BUILTIN_TASKS


def test_module_attr_resolves_an_instance_a_factory_and_a_nested_attribute(
    write_module: Callable[[str], str],
) -> None:
    name = write_module(_GOOD_TASK)
    instance = resolve_task(f"{name}:task")
    made = resolve_task(f"{name}:make_task")
    nested = resolve_task(f"{name}:Holder.inner")
    assert [t.epochs for t in (instance, made, nested)] == [1, 2, 3]  # type: ignore[attr-defined]
    assert all(isinstance(t, Task) for t in (instance, made, nested))


def test_a_task_class_with_default_arguments_is_instantiated() -> None:
    task = resolve_task("prunefront.testing:TinyConvTask")
    assert isinstance(task, TinyConvTask)


def test_a_module_in_the_working_directory_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"cwd_task_mod_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(_GOOD_TASK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, name, raising=False)
    assert resolve_task(f"{name}:task").name == "tiny"


def _one_line_error(ref: str) -> str:
    with pytest.raises(PrunefrontError) as info:
        resolve_task(ref)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_name_lists_the_builtins() -> None:
    message = _one_line_error("mnist2d")
    assert "'mnist2d'" in message
    for name in BUILTIN_TASKS:
        assert name in message
    assert "package.module:attr" in message


@pytest.mark.parametrize("ref", ["", "pkg.mod:", ":attr"])
def test_incomplete_references_are_unknown_tasks(ref: str) -> None:
    assert "unknown task" in _one_line_error(ref)


def test_missing_module_names_the_module_and_the_error() -> None:
    message = _one_line_error("no_such_pkg_xyz.tasks:task")
    assert "'no_such_pkg_xyz.tasks' failed to import" in message
    assert "ModuleNotFoundError: No module named 'no_such_pkg_xyz'" in message


def test_module_that_raises_on_import_reports_the_first_line(
    write_module: Callable[[str], str],
) -> None:
    name = write_module("raise ValueError('bad config\\nsecond line')\n")
    message = _one_line_error(f"{name}:task")
    assert f"'{name}' failed to import: ValueError: bad config" in message
    assert "second line" not in message


def test_missing_attribute_is_named(
    write_module: Callable[[str], str],
) -> None:
    name = write_module(_GOOD_TASK)
    assert f"'{name}' has no attribute 'tsak'" in _one_line_error(f"{name}:tsak")
    assert "'Holder.missing'" in _one_line_error(f"{name}:Holder.missing")


def test_object_that_is_not_a_task_lists_what_it_lacks(
    write_module: Callable[[str], str],
) -> None:
    name = write_module(
        """
        class Half:
            name = "half"
            metric = "accuracy"
            direction = "maximize"
            def build(self, width):
                return None
        half = Half()
        number = 3
        """
    )
    message = _one_line_error(f"{name}:half")
    assert "not a Task: missing total_steps, train, evaluate, example_inputs" in message
    assert "not a Task: missing name, metric, direction, build" in _one_line_error(f"{name}:number")


def test_invalid_direction_is_rejected(
    write_module: Callable[[str], str],
) -> None:
    name = write_module(
        """
        from prunefront.testing import TinyTask
        task = TinyTask()
        task.direction = "max"
        """
    )
    assert "direction must be 'maximize' or 'minimize', got 'max'" in _one_line_error(
        f"{name}:task"
    )


def test_factory_that_fails_is_reported(
    write_module: Callable[[str], str],
) -> None:
    name = write_module(
        """
        def make(size):
            return None
        def broken():
            raise RuntimeError("no GPU here")
        """
    )
    assert "RuntimeError: no GPU here" in _one_line_error(f"{name}:broken")
    assert "with no arguments failed: TypeError" in _one_line_error(f"{name}:make")


def test_options_reach_a_built_in_task_s_constructor() -> None:
    task = resolve_task("tiny", {"epochs": 3, "channel_multiple": 1})
    assert isinstance(task, TinyTask)
    assert task.total_steps() == 3 * 512 // 64  # three epochs of batch 64 over 512 points
    first = next(m for m in task.build(0.3).modules() if hasattr(m, "out_features"))
    assert first.out_features == 19  # 64 x 0.3, rounded to a multiple of 1, not of 8


@pytest.mark.parametrize(
    ("ref", "options", "needle"),
    [
        ("tiny", {"no_such_option": 1}, "no_such_option"),
        ("prunefront.testing:TinyTask", {"epochs": 1}, "only built-in tasks take options"),
    ],
)
def test_options_a_task_cannot_take_are_one_line_errors(
    ref: str, options: dict[str, object], needle: str
) -> None:
    with pytest.raises(PrunefrontError, match=r"task\.options") as error:
        resolve_task(ref, options)
    assert needle in str(error.value) and "\n" not in str(error.value)
