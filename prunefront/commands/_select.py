"""``prunefront select``: choose the trial to ship under your constraints; its deployment card.

It reads a study from ``--run DIR`` or ``--storage URL`` and never writes to it. It exits 1 when
the input is valid but no trial meets the requirements (it says which requirement binds); bad
input is a ``PrunefrontError`` (exit 2). With ``--json`` it prints exactly one JSON document.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from prunefront._output import stderr_console
from prunefront.commands._options import (
    JsonOpt,
    RunOpt,
    StorageOpt,
    StudyOpt,
    TargetOpt,
    open_study_quietly,
)
from prunefront.commands._report import emit_report_json, study_source
from prunefront.errors import PrunefrontError

__all__ = ["select"]


def _check_card_dir(out: Path) -> None:
    target = out.expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise PrunefrontError(f"--out {target} is a file, not a directory")
    ancestor = target
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PrunefrontError(f"--out {target}: directory {ancestor} is not writable")


def select(
    study: StudyOpt = None,
    storage: StorageOpt = None,
    run: RunOpt = None,
    min_metric: Annotated[
        float | None,
        typer.Option("--min-metric", help="Task metric >= X (e.g. accuracy; any direction)."),
    ] = None,
    max_metric: Annotated[
        float | None,
        typer.Option("--max-metric", help="Task metric <= X (e.g. perplexity; any direction)."),
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option("--max-latency-ms", help="Latency (median) <= X ms.")
    ] = None,
    max_energy_mj: Annotated[
        float | None, typer.Option("--max-energy-mj", help="Energy per inference <= X mJ.")
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="Footprint <= X bytes.")
    ] = None,
    prefer: Annotated[
        str,
        typer.Option(
            "--prefer",
            help="metric (best metric), latency, energy, or knee (closest to the utopia point "
            "after scaling each objective to [0, 1]).",
        ),
    ] = "metric",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write deployment.md and deployment.json into this folder."),
    ] = None,
    target: TargetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose the trial to ship under your constraints and write its deployment card."""
    from prunefront.reports import (
        Requirements,
        card_markdown,
        deployment_card,
        select_trial,
        study_meta,
        trials_frame,
        write_card,
    )

    requirements = Requirements(
        min_metric=min_metric,
        max_metric=max_metric,
        max_latency_ms=max_latency_ms,
        max_energy_mj=max_energy_mj,
        max_bytes=max_bytes,
        prefer=prefer,
    )
    if out is not None:
        _check_card_dir(out)
    loaded = open_study_quietly(study, storage, run)
    meta = study_meta(loaded, target)
    frame = trials_frame(loaded, meta, target)
    selection = select_trial(frame, meta, requirements)
    if selection.chosen is None:
        if as_json:
            emit_report_json(
                {"study": meta.study_name, "chosen": None, "selection": selection.to_dict()}
            )
        else:
            typer.echo(selection.explanation)
        raise typer.Exit(code=1)
    card = deployment_card(frame, meta, selection, source=study_source(storage, run))
    written = [str(p) for p in write_card(card, out)] if out is not None else []
    if as_json:
        emit_report_json(
            {
                "study": meta.study_name,
                "chosen": selection.chosen,
                "selection": selection.to_dict(),
                "card": card,
                "files": written,
            }
        )
        return
    typer.echo(card_markdown(card), nl=False)
    for path in written:
        stderr_console.print(f"wrote {path}", markup=False, highlight=False)
