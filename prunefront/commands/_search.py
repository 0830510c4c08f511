"""``prunefront search``: run or resume a search (another machine joins a PostgreSQL study)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from prunefront._output import emit_json, stderr_console
from prunefront.commands._options import JsonOpt, quiet_optuna
from prunefront.commands._trials import parse_trials

__all__ = ["search"]


def search(
    config_path: Annotated[Path, typer.Argument(help="The run's search.toml.")],
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes on this machine.")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials",
            metavar="N",
            parser=parse_trials,
            help="Trial budget instead of search.trials; a larger N extends a study.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run (or resume) a search; the same command on another machine joins a PostgreSQL study."""
    from prunefront.config import load_config
    from prunefront.search import Progress, TrialEvent, plan_search, run_search, study_status

    quiet_optuna()
    config = load_config(config_path)
    plan = plan_search(config, workers=workers, trials=trials)

    def say(line: str) -> None:
        stderr_console.print(line, markup=False, highlight=False)

    def on_event(event: TrialEvent, progress: Progress) -> None:
        values = ""
        if event.values is not None:
            pairs = zip(plan.objectives, event.values, strict=False)
            values = " -> " + ", ".join(f"{name} {value:.4g}" for name, value in pairs)
        reason = f" ({event.reason})" if event.reason else ""
        drawn = event.candidate
        sparsity = drawn.get("sparsity_target")
        at = f" at {sparsity:.3f} sparsity" if isinstance(sparsity, float | int) else ""
        say(
            f"trial {event.number} {event.state.lower()}: width {drawn.get('width')} "
            f"{drawn.get('pattern', '')}{at}{values}{reason} | {progress.line()}"
        )

    resume = f"prunefront search {config_path}"
    try:
        # Between trial ends, a line every 30 s says where the running trials are.
        study = run_search(plan, say=say, on_event=on_event, on_tick=lambda now: say(now.line()))
    except KeyboardInterrupt:
        say(f"stopped; completed trials are kept. Resume with: {resume}")
        sys.exit(130)
    status = study_status(study)
    in_run_dir = plan.storage.url == str(plan.run_dir / "study.journal")
    source = f"--run {plan.run_dir}" if in_run_dir else f"--storage {plan.storage.display}"
    report = (
        f"prunefront report {source} --study {study.study_name} --out {plan.run_dir / 'report'}"
    )
    if as_json:
        emit_json(
            {**status.to_dict(), "run_dir": str(plan.run_dir), "storage": plan.storage.display}
        )
        return
    copies = (
        f" ({status.duplicates} drew a candidate already trained and took its results)"
        if status.duplicates
        else ""
    )
    say(
        f"done: {status.counts}{copies}; front of {len(status.front)} trials. "
        f"Results in {plan.run_dir} "
        f"(storage {plan.storage.display}). Report: {report}"
    )
