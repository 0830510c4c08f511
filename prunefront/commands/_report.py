"""``prunefront report``: a study's report (offline HTML, figures, CSV, summary JSON).

It reads a study from ``--run DIR`` or ``--storage URL`` and never writes to it. It validates
first (options, output folder, study), then works. With ``--json`` it prints exactly one JSON
document. Studies, pandas and plotly load inside the command, so ``--help`` starts at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prunefront._output import print_table, stderr_console
from prunefront.commands._options import (
    JOURNAL_NAME,
    JsonOpt,
    RunOpt,
    StorageOpt,
    StudyOpt,
    TargetOpt,
    open_study_quietly,
)

__all__ = ["emit_report_json", "report", "study_source"]


def study_source(storage: str | None, run: Path | None) -> str:
    """Where the study was read from, for the deployment card (passwords masked)."""
    from prunefront.studies import mask_url

    return str(run / JOURNAL_NAME) if run is not None else mask_url(str(storage))


def emit_report_json(document: dict[str, Any]) -> None:
    """The one JSON document of ``--json``, in the report files' strict JSON."""
    from prunefront.reports import dumps

    typer.echo(dumps(document), nl=False)


def report(
    out: Annotated[Path, typer.Option("--out", help="Report folder (created or replaced).")],
    study: StudyOpt = None,
    storage: StorageOpt = None,
    run: RunOpt = None,
    target: TargetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a study's report: report.html (offline), figures (PNG, SVG), CSV and summary.json."""
    from prunefront.reports import build_report, check_out_dir, write_report

    check_out_dir(out)
    data = build_report(open_study_quietly(study, storage, run), target=target)
    files = write_report(data, out)
    if as_json:
        emit_report_json(
            {"out": str(files.out), "files": list(files.files), "summary": data.to_dict()}
        )
        return
    for note in data.notes:
        stderr_console.print(f"note: {note}", markup=False, highlight=False)
    rows = [
        ("study", data.meta.study_name),
        ("measurements of target", data.target),
        ("trials", ", ".join(f"{n} {s.lower()}" for s, n in data.states.items() if n) or "none"),
        ("on the front", ", ".join(str(n) for n in data.pareto.front) or "-"),
        ("failures", len(data.failures)),
        ("report", str(files.out / "report.html")),
    ]
    print_table("report", ["", "value"], rows)
    print("verdict:")
    for line in data.verdict.lines:
        print(f"  {line}")
    if data.targets is not None:
        _print_targets(data.targets, data.meta.metric_name)


def _print_targets(info: Any, metric: str) -> None:
    print_table(
        "one front per target",
        ["target", "measured", "front", "fastest", "knee"],
        [
            (
                t.label,
                len(t.measured),
                ", ".join(str(n) for n in t.front) or "-",
                t.fastest if t.fastest is not None else "-",
                t.knee if t.knee is not None else "-",
            )
            for t in info.targets
        ],
    )
    names = [t.name for t in info.targets]
    print_table(
        "which configuration wins where (latency ms; f = on the front, F = fastest, K = knee)",
        ["trial", "width", "sparsity", metric, *names],
        [
            (
                r.trial,
                r.width,
                round(r.sparsity, 3),
                r.metric,
                *(
                    "-"
                    if r.latency_ms[n] is None
                    else f"{r.latency_ms[n]:.4g} "
                    + "".join(
                        mark
                        for role, mark in (("front", "f"), ("fastest", "F"), ("knee", "K"))
                        if role in r.wins[n]
                    )
                    for n in names
                ),
            )
            for r in info.rows
        ],
    )
