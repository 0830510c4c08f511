"""``prunefront train``: train one candidate with gradual pruning, evaluate and size it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from prunefront._output import emit_json, print_table
from prunefront.commands._options import (
    ExcludeOpt,
    JsonOpt,
    PatternOpt,
    SparsityOpt,
    TaskOpt,
    WidthOpt,
    aliased,
    hidden_alias,
    task_options,
)
from prunefront.errors import PrunefrontError

__all__ = ["train"]


def _check_writable(path: Path) -> None:
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise PrunefrontError(f"--checkpoint: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PrunefrontError(f"--checkpoint: directory {parent} is not writable")


def train(
    task: TaskOpt,
    width: WidthOpt = 1.0,
    sparsity: SparsityOpt = 0.0,
    pattern: PatternOpt = "unstructured",
    seed: Annotated[int, typer.Option("--seed", help="Seed of init and data order.")] = 0,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Write the sparse weights to this file."),
    ] = None,
    save: Annotated[Path | None, hidden_alias("--save", of="--checkpoint")] = None,
    storage_format: Annotated[
        str | None,
        typer.Option(
            "--storage-format",
            help="Storage format of the footprint and --checkpoint.",
            show_default="auto",
        ),
    ] = None,
    old_format: Annotated[str | None, hidden_alias("--format", of="--storage-format")] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="Value dtype of the footprint and --checkpoint.")
    ] = "float32",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda[:N].")] = "cpu",
    exclude: ExcludeOpt = None,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes",
            help="Cap on the real footprint in --storage-format: where the trained zeros take more "
            "bytes than predicted, the last pruning update prunes a little further.",
        ),
    ] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            "--task-option",
            help="KEY=VALUE for a built-in task's constructor, as [task] options in search.toml "
            "(VALUE read as JSON, else text; repeatable).",
        ),
    ] = None,
    begin_frac: Annotated[
        float, typer.Option("--begin-frac", help="Fraction of training before pruning starts.")
    ] = 1 / 3,
    end_frac: Annotated[
        float, typer.Option("--end-frac", help="Fraction of training where pruning ends.")
    ] = 3 / 4,
    updates: Annotated[int, typer.Option("--updates", help="Mask updates in between.")] = 20,
    scope: Annotated[str, typer.Option("--scope", help="layer or global ranking.")] = "layer",
    as_json: JsonOpt = False,
) -> None:
    """Train one candidate with gradual pruning, evaluate it and report its footprint.

    Progress goes to stderr: a bar on a terminal, else a line every PRUNEFRONT_PROGRESS_S
    seconds (default 5).
    """
    from prunefront.candidate import Candidate, PruningSettings, check_max_bytes, train_candidate
    from prunefront.commands._train_progress import train_progress
    from prunefront.config import ScheduleConfig, TaskConfig
    from prunefront.spaces import save_sparse
    from prunefront.tasks import resolve_task

    save = aliased(checkpoint, save, name="--checkpoint", old_name="--save")
    fmt = aliased(
        storage_format, old_format, name="--storage-format", old_name="--format", default="auto"
    )
    if max_bytes is not None and max_bytes <= 0:
        raise PrunefrontError(f"--max-bytes = {max_bytes}: must be a positive number of bytes")
    try:
        schedule = ScheduleConfig(
            begin_frac=begin_frac, end_frac=end_frac, updates=updates, scope=scope
        )
    except PrunefrontError as error:
        raise PrunefrontError(
            str(error).replace("space.schedule.", "--").replace("_", "-", 1)
        ) from None
    candidate = Candidate(width=width, sparsity=sparsity, pattern=pattern)
    settings = PruningSettings(
        begin_frac=schedule.begin_frac,
        end_frac=schedule.end_frac,
        updates=schedule.updates,
        scope=schedule.scope,
        exclude=tuple(exclude or ()),
        storage_format=fmt,
        dtype=dtype,
    )
    if save is not None:
        _check_writable(save)
    options = task_options(task_option or [])
    configured = TaskConfig(ref=task, options=options)
    the_task = resolve_task(configured.ref, configured.options)
    if max_bytes is not None:
        check_max_bytes(the_task, candidate, settings, max_bytes)
    with train_progress() as on_progress:  # stderr only: --json keeps stdout one document
        model, result = train_candidate(
            the_task,
            candidate,
            seed=seed,
            device=device,
            settings=settings,
            max_bytes=max_bytes,
            on_progress=on_progress,
        )
    if max_bytes is not None and result.footprint_bytes > max_bytes:
        why = result.fit_note or "a dense candidate has no pruning to fit with (give --sparsity)"
        raise PrunefrontError(
            f"--max-bytes {max_bytes}: the trained model takes {result.footprint_bytes} B "
            f"({result.footprint_format}), nothing saved: {why}"
        )
    document = result.to_dict()
    if save is not None:
        metadata = {
            "task": task,
            "task_options": options,
            "width": width,
            "sparsity": sparsity,
            "pattern": candidate.pattern,
            "seed": seed,
            "metric": document["metric"],
        }
        document["saved"] = {
            "path": str(save),
            "bytes": save_sparse(
                save,
                model,
                fmt=fmt,
                dtype=dtype,
                metadata=metadata,
                exclude=settings.exclude,
                pattern=candidate.pattern,
            ),
        }
    if as_json:
        emit_json(document)
        return
    _print_train_result(document)


def _print_train_result(doc: dict) -> None:
    metric = doc["metric"]
    rows = [
        ("task", doc["task"]),
        ("width", doc["width"]),
        ("pattern", doc["pattern"]),
        (
            "sparsity target / actual",
            f"{doc['sparsity_target']:.4f} / {doc['sparsity_actual']:.4f}",
        ),
        ("params total / nonzero", f"{doc['params_total']} / {doc['params_nonzero']}"),
        ("footprint", f"{doc['footprint_bytes']} B ({doc['footprint_format']})"),
        (f"{metric['name']} ({metric['direction']})", metric["value"]),
        ("train seconds", doc["train_seconds"]),
    ]
    if doc.get("fit_note"):
        rows.append(("fitted to --max-bytes", doc["fit_note"]))
    if "saved" in doc:
        rows.append(("saved", f"{doc['saved']['path']} ({doc['saved']['bytes']} B)"))
    print_table("trained candidate", ["", "value"], rows)
