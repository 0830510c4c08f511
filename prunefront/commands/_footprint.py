"""``prunefront footprint``: bytes of a candidate's weights per format; feasible sparsity."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.commands._options import (
    ExcludeOpt,
    JsonOpt,
    PatternOpt,
    SparsityOpt,
    TaskOpt,
    WidthOpt,
    aliased,
    hidden_alias,
    parse_float_list,
)
from prunefront.errors import PrunefrontError

__all__ = ["footprint"]


def footprint(
    task: TaskOpt,
    width: WidthOpt = 1.0,
    sparsity: SparsityOpt = 0.0,
    pattern: PatternOpt = "unstructured",
    storage_format: Annotated[
        str | None,
        typer.Option(
            "--storage-format",
            help="dense, bitmask, csr8/16/32, relidx4, nm, block, paper, auto.",
            show_default="auto",
        ),
    ] = None,
    old_format: Annotated[str | None, hidden_alias("--format", of="--storage-format")] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, float16, bfloat16 or int8.")
    ] = "float32",
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="Footprint budget in bytes.")
    ] = None,
    old_budget: Annotated[int | None, hidden_alias("--budget", of="--max-bytes")] = None,
    widths: Annotated[
        str,
        typer.Option("--widths", help="Widths for the feasible intervals (with --max-bytes)."),
    ] = "0.25,0.375,0.5,0.625,0.75,0.875,1.0",
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bytes to store a candidate's weights, per format; feasible sparsity under a budget."""
    from prunefront.candidate import Candidate, build_model
    from prunefront.spaces import feasible_intervals, model_footprint
    from prunefront.tasks import resolve_task

    fmt = aliased(
        storage_format, old_format, name="--storage-format", old_name="--format", default="auto"
    )
    budget = aliased(max_bytes, old_budget, name="--max-bytes", old_name="--budget")
    candidate = Candidate(width=width, sparsity=sparsity, pattern=pattern)
    if budget is not None and budget <= 0:
        raise PrunefrontError(f"--max-bytes must be a positive number of bytes, got {budget}")
    width_list = parse_float_list(widths, "--widths")
    the_task = resolve_task(task)
    report = model_footprint(
        build_model(the_task, candidate.width, tuple(exclude or ())),
        sparsity=candidate.sparsity,
        pattern=candidate.pattern,
        fmt=fmt,
        dtype=dtype,
        exclude=tuple(exclude or ()),
    )
    bytes_by_format = dict(report.bytes_by_format)
    document: dict[str, Any] = {
        "task": the_task.name,
        "width": width,
        "sparsity": sparsity,
        **report.to_dict(),
        "bytes": bytes_by_format,
    }
    feasible: dict[str, dict[str, float] | None] = {}
    if budget is not None:
        intervals = feasible_intervals(
            the_task.build,
            width_list,
            budget_bytes=budget,
            pattern=candidate.pattern,
            fmt=fmt,
            dtype=dtype,
            exclude=tuple(exclude or ()),
        )
        feasible = {
            str(w): (None if iv is None else {"min_sparsity": iv[0], "max_sparsity": iv[1]})
            for w, iv in intervals.items()
        }
        document["budget_bytes"] = budget
        document["feasible"] = feasible
    if as_json:
        emit_json(document)
        return
    print_table(
        f"footprint of {the_task.name} at width {width}, sparsity {sparsity} ({pattern})",
        ["format", "bytes"],
        sorted(bytes_by_format.items(), key=lambda kv: kv[1]),
    )
    stderr_console.print(
        f"params: {report.params_total} total, {report.params_prunable} prunable, "
        f"{report.params_nonzero} nonzero; footprint {report.footprint_bytes} B ({report.format})"
    )
    if budget is not None:
        rows = [
            (
                w,
                "infeasible"
                if iv is None
                else f"[{iv['min_sparsity']:.4f}, {iv['max_sparsity']:.4f}]",
            )
            for w, iv in feasible.items()
        ]
        print_table(f"feasible sparsity under {budget} B", ["width", "sparsity interval"], rows)
