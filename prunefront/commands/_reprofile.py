"""``prunefront reprofile``: measure a finished study's saved trials on another target."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prunefront.commands._options import open_study_quietly

__all__ = ["reprofile"]


def reprofile(
    target: Annotated[
        str,
        typer.Option("--target", help="cpu, cuda[:N], remote://host:port or adb://SERIAL."),
    ],
    name: Annotated[
        str, typer.Option("--name", help="Name for the target's results (e.g. pi4-1t).")
    ],
    trials: Annotated[
        str,
        typer.Option("--trials", help="front (the study's front), all, or numbers: 3,5,8-10."),
    ] = "front",
    threads: Annotated[int, typer.Option("--threads", help="Threads on the target.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Batch size.")] = 1,
    energy: Annotated[str, typer.Option("--energy", help="auto, estimate or off.")] = "auto",
    token_file: Annotated[
        str | None, typer.Option("--token-file", help="Agent token (remote://).")
    ] = None,
    adb_binary: Annotated[
        str | None, typer.Option("--adb-binary", help="Benchmark binary (adb://).")
    ] = None,
    study: Annotated[str | None, typer.Option("--study", help="Study name.")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="Storage URL.")] = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="Run folder (its journal and trial weights).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON document.")
    ] = False,
) -> None:
    """Profile the saved weights of COMPLETE trials on a target, without retraining.

    Results are stored in the same study under --name; a rerun skips what is stored.
    """
    from prunefront._output import emit_json, print_table, stderr_console
    from prunefront.config import RunConfig, TargetConfig
    from prunefront.errors import PrunefrontError
    from prunefront.search import plan_reprofile, run_reprofile
    from prunefront.studies import STUDY_CONFIG

    loaded = open_study_quietly(study, storage, run)
    stored = loaded.user_attrs.get(STUDY_CONFIG)
    if not isinstance(stored, dict):
        raise PrunefrontError(f"study {loaded.study_name!r} was not created by prunefront")
    timing = RunConfig.from_dict(stored).target
    settings = TargetConfig(
        device=target,
        threads=threads,
        batch_size=batch_size,
        energy=energy,
        token_file=token_file,
        adb_binary=adb_binary,
        latency_min_time_s=timing.latency_min_time_s,
        latency_max_time_s=timing.latency_max_time_s,
    )
    plan = plan_reprofile(loaded, target=settings, name=name, trials=trials, run_dir=run)
    result = run_reprofile(
        plan, say=lambda line: stderr_console.print(line, markup=False, highlight=False)
    )
    if as_json:
        emit_json(result.to_dict())
        return
    print_table(
        f"reprofile on {result.target.label()}",
        ["trial", "latency ms", "this run"],
        [
            (n, latency, "measured" if n in result.profiled else "stored earlier")
            for n, latency in result.latency_ms.items()
        ],
    )
