"""Write a report folder atomically: everything goes into a temporary sibling, then one rename.

A report interrupted half-way leaves only a hidden temporary folder behind, never a folder that
looks complete. An existing ``--out`` folder is replaced only when it is empty or an earlier
prunefront report, so a typo cannot wipe an unrelated directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.reports._html import render_html
from prunefront.reports._json import dumps
from prunefront.reports._static import write_static_figures
from prunefront.reports._summary import ReportData
from prunefront.reports._views import scatter_views

__all__ = ["PARETO_COLUMNS", "ReportFiles", "check_out_dir", "write_report"]

PARETO_COLUMNS = (
    "number",
    "width",
    "sparsity",
    "pattern",
    "metric",
    "latency_ms",
    "latency_kind",
    "latency_strategy",
    "energy_mj",
    "energy_kind",
    "footprint_bytes",
    "params_nonzero",
    "seed",
)
"""Columns of ``pareto.csv`` (after the ``values_<objective>`` columns)."""

_REPORT_MARKERS = ("report.html", "summary.json")


@dataclass(frozen=True, kw_only=True)
class ReportFiles:
    """Where a report was written.

    Attributes:
        out: The report folder.
        files: Paths of its files relative to ``out``, sorted.
    """

    out: Path
    files: tuple[str, ...]


def check_out_dir(out: Path) -> Path:
    """Validate ``--out`` before any work; return its absolute path.

    Raises:
        PrunefrontError: it is a file, a non-report folder with content, or not writable.
    """
    out = out.expanduser().absolute()
    if out.exists():
        if not out.is_dir():
            raise PrunefrontError(f"--out {out} is a file, not a directory")
        content = list(out.iterdir())
        if content and not all((out / m).is_file() for m in _REPORT_MARKERS):
            raise PrunefrontError(
                f"--out {out} exists and is not a prunefront report folder; choose a new or "
                "empty directory"
            )
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise PrunefrontError(f"--out {out}: directory {ancestor} is not writable")
    return out


def _cell(value: object) -> object:
    """A cell for a file: dicts and lists (measurements, versions, ...) as JSON text."""
    return json.dumps(value) if isinstance(value, dict | list) else value


def _write_tables(data: ReportData, directory: Path) -> list[str]:
    frame = data.frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_cell)
    for column in ("datetime_start", "datetime_complete"):
        frame[column] = pd.to_datetime(frame[column]).map(
            lambda t: t.isoformat() if pd.notna(t) else ""
        )
    frame.to_csv(directory / "trials.csv", index=False)
    written = ["trials.csv"]
    try:
        import pyarrow  # noqa: F401  (optional: Parquet only when it is installed)
    except ImportError:
        pass
    else:
        frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(
            directory / "trials.parquet", index=False
        )
        written.append("trials.parquet")
    values = [f"values_{o}" for o in data.meta.objectives]
    columns = ["number", *values, *(c for c in PARETO_COLUMNS[1:] if c in frame)]
    order = {n: i for i, n in enumerate(data.pareto.front)}
    front = frame[frame["number"].isin(data.pareto.front)]
    front = front.sort_values("number", key=lambda s: s.map(order))
    front[columns].to_csv(directory / "pareto.csv", index=False)
    return [*written, "pareto.csv"]


def _fill(data: ReportData, directory: Path) -> list[str]:
    figures = directory / "figures"
    figures.mkdir()
    views = scatter_views(data)
    files = _write_tables(data, directory)
    files += [f"figures/{p.name}" for p in write_static_figures(data, views, figures)]
    files += ["summary.json", "report.html"]
    summary = {**data.to_dict(), "files": sorted(files)}
    (directory / "summary.json").write_text(dumps(summary))
    page = render_html(data, views, [f for f in files if f != "report.html"])
    (directory / "report.html").write_text(page, encoding="utf-8")
    return sorted(files)


STALE_AFTER_S = 3600.0
"""A staging folder without its writer's pid in the name (older versions) is stale after this."""


def _writer_alive(name: str) -> bool | None:
    """Whether the process named in ``.X.tmp-PID-...`` is alive (None: no pid in the name)."""
    pid = name.rsplit(".", 1)[-1].split("-")[1] if "-" in name else ""
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def _remove_stale(out: Path) -> None:
    """Remove the staging folders of reports into ``out`` that were killed half-way."""
    for pattern in (f".{out.name}.tmp-*", f".{out.name}.old-*"):
        for folder in out.parent.glob(pattern):
            alive = _writer_alive(folder.name)
            if alive is None:
                alive = time.time() - folder.stat().st_mtime < STALE_AFTER_S
            if not alive:
                shutil.rmtree(folder, ignore_errors=True)


def write_report(data: ReportData, out: Path) -> ReportFiles:
    """Write every file of the report into ``out`` (created or replaced atomically).

    Args:
        data: The report's data.
        out: The report folder.

    Returns:
        Where the files are.

    Raises:
        PrunefrontError: ``out`` cannot be used (see ``check_out_dir``).
    """
    out = check_out_dir(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as error:
        raise PrunefrontError(f"--out {out}: cannot write there ({error.strerror})") from None
    try:
        files = _fill(data, staging)
        staging.chmod(0o755)  # mkdtemp makes it private; a report folder is for reading
        if out.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent)
            )
            out.rename(retired / "report")
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportFiles(out=out, files=tuple(files))
