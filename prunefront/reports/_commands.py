"""The ``report`` and ``select`` commands (registered on the CLI app by ``prunefront.cli``).

Both read a study from ``--run DIR`` (its ``study.journal``) or ``--storage URL`` and never write
to it. They validate first (options, output folder, study), then work. With ``--json`` each
prints exactly one JSON document. ``select`` exits 1 when the input is valid but no trial meets
the requirements (it says which requirement binds); bad input is a ``PrunefrontError`` (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import optuna
import typer

from prunefront._output import print_table, stderr_console
from prunefront.errors import PrunefrontError
from prunefront.reports._json import dumps
from prunefront.studies._load import JOURNAL_NAME, mask_url, open_study

__all__ = ["report", "select"]

StudyOpt = Annotated[
    str | None,
    typer.Option("--study", help="Study name (default: the only study in the storage)."),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage", help="Optuna storage URL (sqlite:///..., postgresql://...) or journal file."
    ),
]
RunOpt = Annotated[
    Path | None, typer.Option("--run", help=f"Run folder; reads DIR/{JOURNAL_NAME}.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document.")]


def _source(storage: str | None, run: Path | None) -> str:
    return str(run / JOURNAL_NAME) if run is not None else mask_url(str(storage))


def _load(study: str | None, storage: str | None, run: Path | None) -> optuna.Study:
    return open_study(study, storage=storage, run=run)


def _emit(document: dict[str, Any]) -> None:
    typer.echo(dumps(document), nl=False)


def report(
    out: Annotated[Path, typer.Option("--out", help="Report folder (created or replaced).")],
    study: StudyOpt = None,
    storage: StorageOpt = None,
    run: RunOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a study's report: report.html (offline), figures (PNG, SVG), CSV and summary.json."""
    from prunefront.reports._summary import build_report
    from prunefront.reports._write import check_out_dir, write_report

    check_out_dir(out)
    data = build_report(_load(study, storage, run))
    files = write_report(data, out)
    if as_json:
        _emit({"out": str(files.out), "files": list(files.files), "summary": data.to_dict()})
        return
    for note in data.notes:
        stderr_console.print(f"note: {note}", markup=False, highlight=False)
    rows = [
        ("study", data.meta.study_name),
        ("trials", ", ".join(f"{n} {s.lower()}" for s, n in data.states.items() if n) or "none"),
        ("on the front", ", ".join(str(n) for n in data.pareto.front) or "-"),
        ("failures", len(data.failures)),
        ("report", str(files.out / "report.html")),
    ]
    print_table("report", ["", "value"], rows)
    print("verdict:")
    for line in data.verdict.lines:
        print(f"  {line}")


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
    as_json: JsonOpt = False,
) -> None:
    """Choose the trial to ship under your constraints and write its deployment card."""
    from prunefront.reports._card import card_markdown, deployment_card, write_card
    from prunefront.reports._frame import study_meta, trials_frame
    from prunefront.reports._select import Requirements, select_trial

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
    loaded = _load(study, storage, run)
    meta = study_meta(loaded)
    frame = trials_frame(loaded, meta)
    selection = select_trial(frame, meta, requirements)
    if selection.chosen is None:
        if as_json:
            _emit({"study": meta.study_name, "chosen": None, "selection": selection.to_dict()})
        else:
            typer.echo(selection.explanation)
        raise typer.Exit(code=1)
    card = deployment_card(frame, meta, selection, source=_source(storage, run))
    written = [str(p) for p in write_card(card, out)] if out is not None else []
    if as_json:
        _emit(
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
