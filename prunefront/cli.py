"""The ``prunefront`` command line: every command validates first, then works.

Errors a user can cause are printed as one line on stderr with exit code 2 and no traceback.
Commands that report results accept ``--json`` and then print exactly one JSON document.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.commands._trials import parse_trials
from prunefront.errors import PrunefrontError

__all__ = ["app", "main"]

app = typer.Typer(
    name="prunefront",
    help="Large-sparse or small-dense? Train, size, profile and search compressed models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document.")]
TaskOpt = Annotated[str, typer.Option("--task", help="Built-in task name or package.module:attr.")]
WidthOpt = Annotated[float, typer.Option("--width", help="Width multiplier in (0, 1].")]
SparsityOpt = Annotated[float, typer.Option("--sparsity", help="Final sparsity in [0, 1).")]
PatternOpt = Annotated[
    str, typer.Option("--pattern", help="unstructured, N:M (e.g. 2:4) or RxC (e.g. 4x4).")
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="fnmatch pattern of layers to keep dense (repeatable)."),
]


def _task_options(pairs: list[str]) -> dict[str, Any]:
    """``--task-option KEY=VALUE`` pairs as a dict; VALUE is JSON where it parses, else text."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise PrunefrontError(f"--task-option {pair!r}: must be KEY=VALUE, e.g. epochs=8")
        try:
            options[key.strip()] = json.loads(text)
        except ValueError:
            options[key.strip()] = text
    return options


def _parse_int_list(text: str, key: str) -> list[int]:
    """``"0,10,20"`` or ``"0:100:10"`` (start:stop:step, stop inclusive) -> ints."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            step = parts[2] if len(parts) == 3 else 1
            return list(range(parts[0], parts[1] + 1, step))
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise PrunefrontError(
            f"{key} must be comma-separated integers or start:stop[:step], got {text!r}"
        ) from None


def _parse_float_list(text: str, key: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise PrunefrontError(f"{key} must be comma-separated numbers, got {text!r}") from None


@app.command()
def schedule(
    final: Annotated[float, typer.Option("--final", help="Final sparsity s_f in [0, 1).")],
    end_step: Annotated[int, typer.Option("--end-step", help="Last pruning step.")],
    steps: Annotated[
        str, typer.Option("--steps", help="Steps to evaluate: 0,10,20 or start:stop:step.")
    ],
    initial: Annotated[float, typer.Option("--initial", help="Initial sparsity s_i.")] = 0.0,
    begin_step: Annotated[int, typer.Option("--begin-step", help="First pruning step.")] = 0,
    frequency: Annotated[int, typer.Option("--frequency", help="Steps between updates.")] = 100,
    power: Annotated[float, typer.Option("--power", help="Exponent (3 = the paper).")] = 3.0,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the polynomial pruning schedule at the given steps."""
    from prunefront.pruning import PolynomialDecay

    sched = PolynomialDecay(
        initial_sparsity=initial,
        final_sparsity=final,
        begin_step=begin_step,
        end_step=end_step,
        frequency=frequency,
        power=power,
    )
    points = sched.points(_parse_int_list(steps, "--steps"))
    if as_json:
        emit_json({"points": [p.to_dict() for p in points], "notes": sched.notes})
        return
    rows = [(p.step, p.sparsity, "yes" if p.mask_update else "", p.mask_sparsity) for p in points]
    print_table("schedule", ["step", "sparsity", "mask update", "mask sparsity"], rows)
    for note in sched.notes:
        stderr_console.print(f"note: {note}")


@app.command()
def footprint(
    task: TaskOpt,
    width: WidthOpt = 1.0,
    sparsity: SparsityOpt = 0.0,
    pattern: PatternOpt = "unstructured",
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="dense, bitmask, csr8/16/32, relidx4, nm, block, paper, auto."
        ),
    ] = "auto",
    dtype: Annotated[
        str, typer.Option("--dtype", help="float32, float16, bfloat16 or int8.")
    ] = "float32",
    budget: Annotated[
        int | None, typer.Option("--budget", help="Footprint budget in bytes.")
    ] = None,
    widths: Annotated[
        str, typer.Option("--widths", help="Widths for the feasible intervals (with --budget).")
    ] = "0.25,0.375,0.5,0.625,0.75,0.875,1.0",
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bytes to store a candidate's weights, per format; feasible sparsity under a budget."""
    from prunefront.candidate import Candidate, build_model
    from prunefront.spaces import feasible_intervals, model_footprint
    from prunefront.tasks import resolve_task

    candidate = Candidate(width=width, sparsity=sparsity, pattern=pattern)
    if budget is not None and budget <= 0:
        raise PrunefrontError(f"--budget must be a positive number of bytes, got {budget}")
    width_list = _parse_float_list(widths, "--widths")
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


def _check_writable(path: Path) -> None:
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise PrunefrontError(f"--save: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PrunefrontError(f"--save: directory {parent} is not writable")


@app.command()
def train(
    task: TaskOpt,
    width: WidthOpt = 1.0,
    sparsity: SparsityOpt = 0.0,
    pattern: PatternOpt = "unstructured",
    seed: Annotated[int, typer.Option("--seed", help="Seed of init and data order.")] = 0,
    save: Annotated[
        Path | None, typer.Option("--save", help="Write the sparse weights to this file.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Storage format of the footprint and --save.")
    ] = "auto",
    dtype: Annotated[
        str, typer.Option("--dtype", help="Value dtype of the footprint and --save.")
    ] = "float32",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda[:N].")] = "cpu",
    exclude: ExcludeOpt = None,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes",
            help="Cap on the real footprint in --format: where the trained zeros take more "
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
    from prunefront.config import RunConfig, ScheduleConfig, TaskConfig
    from prunefront.pruning import save_sparse
    from prunefront.search import make_task

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
    options = _task_options(task_option or [])
    the_task = make_task(RunConfig(task=TaskConfig(ref=task, options=options)))
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


@app.command()
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


@app.command()
def status(
    study: Annotated[str | None, typer.Option("--study", help="Study name.")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="Storage URL.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="Run folder (journal).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts per state, the current front and the last error of a running or finished study."""
    from prunefront.search import study_status
    from prunefront.studies import open_study

    summary = study_status(open_study(study, storage=storage, run=run))
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


def _register_optional() -> None:
    """Commands whose modules live in other subpackages (registered once)."""
    if any(c.name == "profile" for c in app.registered_commands):
        return
    from prunefront.agent._command import agent
    from prunefront.commands._reprofile import reprofile
    from prunefront.export._command import export
    from prunefront.profilers._commands import doctor, profile
    from prunefront.reports._commands import report, select

    app.command("profile")(profile)
    app.command("doctor")(doctor)
    app.command("report")(report)
    app.command("select")(select)
    app.command("export")(export)
    app.command("reprofile")(reprofile)
    app.command("agent")(agent)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors, exit code 2.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        _register_optional()
        app(args=argv, prog_name="prunefront")
    except PrunefrontError as error:
        stderr_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
