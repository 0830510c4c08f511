"""``prunefront export``: write a trial's model from its saved weights and verify it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["export"]


def export(
    trial: Annotated[int, typer.Option("--trial", help="Trial number (a COMPLETE trial).")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="onnx, pt (torch.export) or sparse.")
    ] = "onnx",
    study: Annotated[str | None, typer.Option("--study", help="Study name.")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="Storage URL.")] = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="Run folder (its journal and trial weights).")
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="Threads for the latency check.")] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON document.")
    ] = False,
) -> None:
    """Export a trial without retraining, then verify outputs, size on disk and latency."""
    from prunefront._output import emit_json, print_table, stderr_console
    from prunefront.export._trial import export_trial
    from prunefront.studies import open_study

    loaded = open_study(study, storage=storage, run=run)
    result = export_trial(loaded, trial, fmt=fmt, out=out, run_dir=run, threads=threads)
    if as_json:
        emit_json(result.to_dict())
    else:
        doc = result.to_dict()
        print_table(
            f"export of trial {trial} ({fmt})",
            ["check", "value"],
            [
                ("written", doc["path"] or "nothing (verification failed)"),
                (
                    "outputs match the trial's model",
                    f"{doc['outputs_match']} (max abs error {doc['max_abs_error']:.3g})",
                ),
                ("file bytes", doc["file_bytes"]),
                ("footprint bytes (sparse)", doc["footprint_bytes"]),
                ("dense bytes", doc["dense_bytes"]),
                ("latency ms (exported)", doc["latency_ms"]),
                ("latency ms (trial's model, same run)", doc["latency_reference_ms"]),
                ("latency ms (stored with the trial)", doc["latency_trial_ms"]),
            ],
        )
        for note in result.notes:
            stderr_console.print(f"note: {note}", markup=False)
    if not result.ok:
        raise typer.Exit(1)
