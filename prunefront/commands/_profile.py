"""``prunefront profile``: latency, energy and peak memory of one candidate, here or on a device.

It validates first, then works; errors a user can cause are ``PrunefrontError`` (one line).
With ``--json`` it prints exactly one JSON document; otherwise rich tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.commands._options import JsonOpt, PatternOpt
from prunefront.errors import PrunefrontError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["profile"]


def _build_candidate(
    task: str | None,
    width: float,
    sparsity: float,
    pattern: str,
    checkpoint: Path | None,
) -> tuple[Any, nn.Module, dict[str, Any]]:
    """Return (task, model, description) from the options or a sparse checkpoint."""
    from prunefront.candidate import Candidate, build_model
    from prunefront.export import model_from_checkpoint
    from prunefront.pruning import magnitude_prune
    from prunefront.tasks import resolve_task

    if checkpoint is not None:
        rebuilt = model_from_checkpoint(checkpoint, task=task)
        meta = rebuilt.metadata
        described = {
            "task": rebuilt.task.name,
            "width": rebuilt.width,
            "sparsity": meta.get("sparsity"),
            "pattern": meta.get("pattern", "unstructured"),
            "checkpoint": str(checkpoint),
        }
        return rebuilt.task, rebuilt.model, described
    if task is None:
        raise PrunefrontError("--task is required unless --checkpoint is given")
    candidate = Candidate(width=width, sparsity=sparsity, pattern=pattern)
    the_task = resolve_task(task)
    model = build_model(the_task, candidate.width)
    if candidate.sparsity > 0:
        magnitude_prune(model, candidate.sparsity, pattern=candidate.pattern, exclude=())
    described = {
        "task": the_task.name,
        "width": candidate.width,
        "sparsity": candidate.sparsity,
        "pattern": candidate.pattern,
        "checkpoint": None,
    }
    return the_task, model, described


def _sizes(model: nn.Module, described: dict[str, Any]) -> dict[str, Any]:
    """The footprint model's bytes and the real size of the sparse weight file on disk."""
    import tempfile

    from prunefront.spaces import model_footprint, save_sparse

    pattern = str(described.get("pattern") or "unstructured")
    footprint = model_footprint(model, pattern=pattern)  # exact: counts the model's zeros
    checkpoint = described.get("checkpoint")
    if checkpoint is not None:
        file_bytes = Path(checkpoint).stat().st_size
    else:
        with tempfile.TemporaryDirectory() as folder:
            file_bytes = save_sparse(Path(folder) / "weights.pfs", model, pattern=pattern)
    return {
        "footprint_bytes": footprint.footprint_bytes,
        "footprint_format": str(footprint.format),
        "footprint_dense_bytes": int(footprint.bytes_by_format["dense"]),
        "file_bytes": file_bytes,
    }


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}{unit}"
    return f"{value}{unit}"


def _print_profile(document: dict[str, Any]) -> None:
    lat, energy, memory = (
        document["latency_ms"],
        document["energy_mj"],
        document["peak_memory_bytes"],
    )
    energy_text = (
        f"{_fmt(energy['value'], ' mJ')} gross, {_fmt(energy['net_value'], ' mJ')} net"
        if energy["value"] is not None
        else f"unavailable: {energy['reason']}"
    )
    rows = [
        (
            "latency p50 / p90",
            f"{_fmt(lat['p50'], ' ms')} / {_fmt(lat['p90'], ' ms')}",
            f"{lat['kind']}, {lat['method']}, strategy {lat['strategy']}",
        ),
        ("latency IQR", _fmt(lat["iqr"], " ms"), f"{lat['repeats']} forward passes"),
        ("energy / forward pass", energy_text, f"{energy['kind']}, {energy['method']}"),
        (
            "peak memory",
            "-" if memory["value"] is None else f"{memory['value'] / 2**20:.1f} MiB",
            f"{memory['kind']}, {memory['method']}, scope {memory['scope']}",
        ),
        (
            "footprint",
            f"{document['footprint_bytes']} B",
            f"predicted, {document['footprint_format']}; "
            f"dense {document['footprint_dense_bytes']} B",
        ),
        ("sparse weight file", f"{document['file_bytes']} B", "measured, size on disk"),
    ]
    cand = document["candidate"]
    print_table(
        f"profile of {cand['task']} width {cand['width']} sparsity {cand['sparsity']} "
        f"({cand['pattern']}) on {document['device']['device']}, batch {document['batch_size']}",
        ["quantity", "value", "how"],
        rows,
    )
    print_table(
        "execution strategies",
        ["strategy", "latency ms", "matches", "note"],
        [
            (s["name"], s["latency_ms"], s["matches_reference"], s["reason"])
            for s in document["strategies"]
        ],
    )


def profile(
    task: Annotated[
        str | None, typer.Option("--task", help="Built-in task name or package.module:attr.")
    ] = None,
    width: Annotated[float, typer.Option("--width", help="Width multiplier in (0, 1].")] = 1.0,
    sparsity: Annotated[
        float, typer.Option("--sparsity", help="One-shot magnitude sparsity in [0, 1).")
    ] = 0.0,
    pattern: PatternOpt = "unstructured",
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A sparse weight file to profile.")
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="cpu, cuda[:N], remote://HOST:PORT (a prunefront agent) or adb://SERIAL.",
        ),
    ] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples per pass.")] = 1,
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads (default: torch's).")
    ] = None,
    energy: Annotated[str, typer.Option("--energy", help="auto, estimate or off.")] = "auto",
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="remote://: a copy of the agent's token file."),
    ] = None,
    adb_binary: Annotated[
        str | None,
        typer.Option("--adb-binary", help="adb://: the benchmark binary's path on the device."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure latency, energy and peak memory of one candidate on this machine or a device."""
    from prunefront.agent import is_remote_target, parse_target
    from prunefront.profilers import check_policy, parse_device, profile_candidate

    if batch_size < 1:
        raise PrunefrontError(f"--batch-size must be >= 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise PrunefrontError(f"--threads must be >= 1, got {threads}")
    check_policy(energy)
    remote = is_remote_target(device)
    if remote:
        target = parse_target(device)
        if target.kind == "adb" and adb_binary is None:
            raise PrunefrontError(f"--device {device} needs --adb-binary (its path on the device)")
    else:
        parse_device(device)
    if task is None and checkpoint is None:
        raise PrunefrontError("--task is required unless --checkpoint is given")
    if checkpoint is not None and not checkpoint.is_file():
        raise PrunefrontError(f"--checkpoint {checkpoint}: no such file")
    the_task, model, described = _build_candidate(task, width, sparsity, pattern, checkpoint)
    if not as_json:
        stderr_console.print("profiling (latency, then energy: a few seconds) ...")
    if remote:
        from prunefront.remote import profile_remote

        result = profile_remote(
            model,
            the_task.example_inputs(batch_size),
            device,
            token_file=token_file,
            threads=threads,
            batch_size=batch_size,
            energy=energy,
            adb_binary=adb_binary,
        )
    else:
        result = profile_candidate(
            model,
            the_task.example_inputs(batch_size),
            device=device,
            threads=threads,
            batch_size=batch_size,
            energy=energy,
        )
    document = {"candidate": described, **result.to_dict(), **_sizes(model, described)}
    if as_json:
        emit_json(document)
        return
    _print_profile(document)
