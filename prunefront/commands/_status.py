"""``prunefront status``: counts per state, the front and the last error of a study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.commands._options import JsonOpt, open_study_quietly

__all__ = ["status"]


def status(
    study: Annotated[str | None, typer.Option("--study", help="Study name.")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="Storage URL.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="Run folder (journal).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts per state, the current front and the last error of a running or finished study."""
    from prunefront.search import study_status

    summary = study_status(open_study_quietly(study, storage, run))
    if as_json:
        emit_json(summary.to_dict())
        return
    print_table(
        f"study {summary.study}: {summary.budget_used}/{summary.budget} trials used",
        ["state", "trials"],
        sorted(summary.counts.items()),
    )
    print_table(
        "front",
        ["trial", "width", "pattern", "sparsity", *summary.objectives],
        [
            (f["number"], f["width"], f["pattern"], f["sparsity"], *f["values"].values())
            for f in summary.front
        ],
    )
    if summary.duplicates:
        typer.echo(
            f"{summary.duplicates} COMPLETE trial(s) drew a candidate already trained and took "
            "its results (user attribute duplicate_of)"
        )
    if summary.last_error:
        stderr_console.print(
            f"last error: trial {summary.last_error['number']}: {summary.last_error['reason']}",
            markup=False,
        )
