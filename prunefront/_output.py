"""Output helpers shared by CLI commands: one JSON document on stdout, or a rich table."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["emit_json", "print_table", "stderr_console"]

# Progress lines are log lines: never wrap them at the terminal width.
stderr_console = Console(stderr=True, soft_wrap=True)


def _clean(value: Any) -> Any:
    """Make ``value`` strict JSON: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def emit_json(document: dict[str, Any]) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(_clean(document), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a titled table on stdout."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_fmt(cell) for cell in row))
    # Off a terminal (pipes, logs) rich would squeeze tables to 80 columns.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _fmt(cell: Any) -> str:
    if isinstance(cell, float):
        return f"{cell:.4g}"
    return "-" if cell is None else str(cell)
