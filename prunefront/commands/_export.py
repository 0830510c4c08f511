"""``prunefront export``: write a trial's model from its saved weights and verify it.

``--format`` here is the file format (onnx, onnx-dense, pt, sparse); the weights' storage format
is the study's. Torch, optuna and ONNX load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prunefront.commands._options import open_study_quietly

__all__ = ["export"]


def export(
    trial: Annotated[int, typer.Option("--trial", help="Trial number (a COMPLETE trial).")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="onnx (compressed: as small as the footprint), onnx-dense, pt (torch.export) "
            "or sparse.",
        ),
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
    from prunefront.export import export_trial

    loaded = open_study_quietly(study, storage, run)
    result = export_trial(loaded, trial, fmt=fmt, out=out, run_dir=run, threads=threads)
    if as_json:
        emit_json(result.to_dict())
    else:
        doc = result.to_dict()
        ratio = doc["file_bytes"] / doc["footprint_bytes"] if doc["footprint_bytes"] else 0.0
        rows: list[tuple[str, object]] = [
            ("written", doc["path"] or "nothing (verification failed)"),
            (
                "outputs match the trial's model",
                f"{doc['outputs_match']} (max abs error {doc['max_abs_error']:.3g})",
            ),
            ("file bytes", f"{doc['file_bytes']} ({ratio:.3f} x the footprint)"),
            ("footprint bytes (sparse)", f"{doc['footprint_bytes']} ({doc['value_dtype']})"),
            ("dense bytes", doc["dense_bytes"]),
        ]
        if doc["size_limit_bytes"] is not None:
            rows.append(("size limit bytes (1.05 x footprint + graph)", doc["size_limit_bytes"]))
        if doc["dense_onnx_bytes"] is not None:
            rows.append(("dense ONNX bytes (same model)", doc["dense_onnx_bytes"]))
        rows.append(("latency ms (exported)", doc["latency_ms"]))
        if doc["latency_dense_onnx_ms"] is not None:
            rows.append(("latency ms (dense ONNX, same run)", doc["latency_dense_onnx_ms"]))
        rows += [
            ("latency ms (trial's model, same run)", doc["latency_reference_ms"]),
            ("latency ms (stored with the trial)", doc["latency_trial_ms"]),
        ]
        print_table(f"export of trial {trial} ({fmt})", ["check", "value"], rows)
        for note in result.notes:
            stderr_console.print(f"note: {note}", markup=False)
    if not result.ok:
        raise typer.Exit(1)
