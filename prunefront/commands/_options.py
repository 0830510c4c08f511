"""Options and parsers that several commands share, so that one meaning has one spelling.

Weights are ``--checkpoint`` (``--save`` stays as a hidden alias on ``train``), the storage format
is ``--storage-format`` (``--format`` stays as a hidden alias on ``footprint`` and ``train``;
``export --format`` is the file format), and a byte limit is ``--max-bytes`` (``--budget`` stays
as a hidden alias on ``footprint``). Nothing here imports more than typer: ``--help`` starts at
once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prunefront.errors import PrunefrontError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "JOURNAL_NAME",
    "ExcludeOpt",
    "JsonOpt",
    "PatternOpt",
    "RunOpt",
    "SparsityOpt",
    "StorageOpt",
    "StudyOpt",
    "TargetOpt",
    "TaskOpt",
    "WidthOpt",
    "aliased",
    "hidden_alias",
    "open_study_quietly",
    "parse_float_list",
    "parse_int_list",
    "quiet_optuna",
    "task_options",
]

JOURNAL_NAME = "study.journal"
"""``prunefront.studies.JOURNAL_NAME``, not imported: ``studies`` loads optuna (a test keeps them
equal)."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document.")]
TaskOpt = Annotated[str, typer.Option("--task", help="Built-in task name or package.module:attr.")]
WidthOpt = Annotated[float, typer.Option("--width", help="Width multiplier in (0, 1].")]
SparsityOpt = Annotated[float, typer.Option("--sparsity", help="Final sparsity in [0, 1).")]
PatternOpt = Annotated[
    str, typer.Option("--pattern", help="unstructured, N:M (e.g. 2:4) or RxC (e.g. 4x4).")
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="fnmatch pattern of layers to keep dense (repeatable)."),
]
StudyOpt = Annotated[
    str | None,
    typer.Option("--study", help="Study name (default: the only study in the storage)."),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage", help="Optuna storage URL (sqlite:///..., postgresql://...) or journal file."
    ),
]
RunOpt = Annotated[
    Path | None, typer.Option("--run", help=f"Run folder; reads DIR/{JOURNAL_NAME}.")
]

TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target", help="Use a reprofiled target's measurements (see prunefront reprofile)."
    ),
]


def hidden_alias(name: str, *, of: str) -> Any:
    """An old spelling of ``of``: accepted, hidden from ``--help`` (see :func:`aliased`)."""
    return typer.Option(name, hidden=True, help=f"Old spelling of {of}.")


def aliased(value: Any, old_value: Any, *, name: str, old_name: str, default: Any = None) -> Any:
    """The option's value, given under its name or its old one (not both, unless they agree).

    Both options default to ``None`` (not given), so that ``--storage-format auto --format csr16``
    is seen as a clash even though ``auto`` is the default; ``default`` applies when neither is
    given.

    Raises:
        PrunefrontError: Both spellings were given with different values.
    """
    if old_value is None:
        return default if value is None else value
    if value is not None and value != old_value:
        raise PrunefrontError(
            f"{old_name} {old_value!r} and {name} {value!r}: give one ({old_name} is the old "
            f"spelling of {name})"
        )
    return old_value


def task_options(pairs: list[str]) -> dict[str, Any]:
    """``--task-option KEY=VALUE`` pairs as a dict; VALUE is JSON where it parses, else text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise PrunefrontError(f"--task-option {pair!r}: must be KEY=VALUE, e.g. epochs=8")
        try:
            options[key.strip()] = json.loads(text)
        except ValueError:
            options[key.strip()] = text
    return options


def parse_int_list(text: str, key: str) -> list[int]:
    """``"0,10,20"`` or ``"0:100:10"`` (start:stop:step, stop inclusive) -> ints."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            step = parts[2] if len(parts) == 3 else 1
            return list(range(parts[0], parts[1] + 1, step))
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise PrunefrontError(
            f"{key} must be comma-separated integers or start:stop[:step], got {text!r}"
        ) from None


def parse_float_list(text: str, key: str) -> list[float]:
    """``"0.25,0.5"`` -> floats; anything else names ``key`` and the text."""
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise PrunefrontError(f"{key} must be comma-separated numbers, got {text!r}") from None


def quiet_optuna() -> None:
    """Keep optuna's per-trial INFO lines out of a command's output (optuna loads here: lazy)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_study_quietly(study: str | None, storage: str | None, run: Path | None) -> optuna.Study:
    """The study named by ``--study`` in ``--storage`` or ``--run``, optuna's logging quietened."""
    from prunefront.studies import open_study

    quiet_optuna()
    return open_study(study, storage=storage, run=run)
