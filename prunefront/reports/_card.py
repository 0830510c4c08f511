"""The deployment card: what was chosen, every measurement with its kind, how to rebuild it.

One record (``deployment_card``), rendered as JSON and as Markdown. The reproduce command is the
``prunefront train`` call that retrains the chosen configuration.
"""

from __future__ import annotations

import html
import json
import math
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.reports._frame import StudyMeta
from prunefront.reports._json import dumps
from prunefront.reports._selection import Selection

__all__ = ["card_markdown", "deployment_card", "reproduce_command", "write_card"]

CARD_VERSION = 1


def _value(row: pd.Series, key: str) -> Any:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if (
        isinstance(value, float)
        and value.is_integer()
        and key.endswith(("_bytes", "params_total", "params_nonzero", "seed"))
    ):
        return int(value)
    return value


def _exclude(meta: StudyMeta) -> list[str]:
    space = meta.config.get("space")
    schedule = space.get("schedule") if isinstance(space, dict) else None
    exclude = schedule.get("exclude") if isinstance(schedule, dict) else None
    return [str(e) for e in exclude] if isinstance(exclude, list | tuple) else []


def reproduce_command(row: pd.Series, meta: StudyMeta) -> str:
    """``prunefront train ...`` that trains this trial's weights again.

    It carries everything training depends on: the task with its ``[task] options``
    (``--task-option``), the candidate, the seed, the pruning schedule, the excluded layers, the
    training device, and — where training pruned past its target to fit the real bytes — the
    budget's ``--storage-format``, ``--dtype`` and the ``--max-bytes`` cap.
    """
    sparsity = _value(row, "sparsity_target")
    if sparsity is None:
        sparsity = _value(row, "sparsity") or 0.0
    seed = _value(row, "seed")
    parts = [
        "prunefront",
        "train",
        "--task",
        meta.task_ref or "<task>",
        "--width",
        f"{float(_value(row, 'width') or 1.0):g}",
        "--sparsity",
        f"{float(sparsity):g}",
        "--pattern",
        str(_value(row, "pattern") or "unstructured"),
        "--seed",
        str(int(seed) if seed is not None else 0),
    ]
    task = meta.config.get("task")
    options = task.get("options") if isinstance(task, dict) else None
    for key, value in (options or {}).items():
        parts += ["--task-option", f"{key}={json.dumps(value)}"]
    space = meta.config.get("space")
    schedule = space.get("schedule") if isinstance(space, dict) else None
    if isinstance(schedule, dict):
        for key in ("begin_frac", "end_frac", "updates", "scope"):
            if key in schedule:
                parts += [f"--{key.replace('_', '-')}", str(schedule[key])]
    for pattern in _exclude(meta):
        parts += ["--exclude", pattern]
    device = _value(row, "train_device")
    if device and device != "cpu":
        parts += ["--device", str(device)]
    cap = _value(row, "max_bytes")
    if _value(row, "fit_note") and cap is not None:
        # Training pruned past the target to fit real bytes: the same cap, in the same format.
        budget = meta.config.get("budget", {})
        budget = budget if isinstance(budget, dict) else {}
        parts += ["--storage-format", str(budget.get("format", "auto"))]
        parts += ["--dtype", str(budget.get("dtype", "float32")), "--max-bytes", str(int(cap))]
    return shlex.join(parts)


def _records(row: pd.Series) -> dict[str, dict[str, Any]]:
    records = _json_value(row, "measurements")
    if not isinstance(records, list):
        return {}
    return {str(r["name"]): r for r in records if isinstance(r, dict) and "name" in r}


def _measurements(row: pd.Series, meta: StudyMeta) -> list[dict[str, Any]]:
    records = _records(row)
    found = [
        {
            "name": meta.metric_name,
            "value": _value(row, "metric"),
            "unit": "",
            "kind": "measured",
            "method": "task.evaluate",
            "note": meta.metric_direction,
        }
    ]
    latency_note = ", ".join(
        f"{label} {_value(row, key):.4g} ms"
        for label, key in (("p90", "latency_p90_ms"), ("IQR", "latency_iqr_ms"))
        if _value(row, key) is not None
    )
    strategy = _value(row, "latency_strategy")
    found.append(
        {
            "name": "latency_ms",
            "value": _value(row, "latency_ms"),
            "unit": "ms",
            "kind": _value(row, "latency_kind") or "unrecorded",
            "method": _value(row, "latency_method") or "unrecorded",
            "note": "; ".join(
                t for t in (f"strategy {strategy}" if strategy else "", latency_note) if t
            ),
        }
    )
    found.append(
        {
            "name": "energy_mj",
            "value": _value(row, "energy_mj"),
            "unit": "mJ",
            "kind": _value(row, "energy_kind")
            or ("unavailable" if _value(row, "energy_mj") is None else "unrecorded"),
            "method": _value(row, "energy_method") or "none",
            "note": _value(row, "energy_reason") or "",
        }
    )
    for key, method, note in (
        (
            "footprint_bytes",
            f"counted ({_value(row, 'footprint_format') or 'budget format'})",
            "bytes of the weights in the storage format the budget constrains",
        ),
        ("file_bytes", "size on disk", "the saved sparse weights"),
        ("peak_memory_bytes", "", "peak runtime memory (see its scope)"),
        ("params_nonzero", "counted", "nonzero parameters"),
        ("params_total", "counted", "all parameters"),
    ):
        if _value(row, key) is not None:
            record = records.get(key, {})  # the profiler's own record, where it stored one
            found.append(
                {
                    "name": key,
                    "value": _value(row, key),
                    "unit": "bytes" if key.endswith("_bytes") else "count",
                    "kind": record.get("kind") or "measured",
                    "method": record.get("method") or method or "unrecorded",
                    "note": _memory_note(record) if key == "peak_memory_bytes" else note,
                }
            )
    return found


def _memory_note(record: dict[str, Any]) -> str:
    """What the peak memory number covers, precisely (older studies: the whole process)."""
    details = record.get("details") or {}
    if record.get("scope") == "model_inference":
        return (
            f"this model's inference: weights {details.get('weights_bytes')} B + peak forward "
            f"allocations {details.get('forward_peak_bytes')} B (the whole process peaked at "
            f"{details.get('process_peak_bytes')} B, interpreter and libraries included)"
        )
    if record.get("scope") == "cuda_allocator":
        return "the CUDA allocator's peak during one forward pass (tensors of this process)"
    return "the whole process's resident-set peak (interpreter, libraries), not the model's"


def _json_value(row: pd.Series, key: str) -> Any:
    value = _value(row, key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def deployment_card(
    frame: pd.DataFrame, meta: StudyMeta, selection: Selection, *, source: str
) -> dict[str, Any]:
    """The card of ``selection.chosen`` as a JSON-ready dict.

    Args:
        frame: The trials frame.
        meta: The study's metadata.
        selection: A selection with a chosen trial.
        source: Where the study was read from (passwords already masked).

    Returns:
        The card.
    """
    if selection.chosen is None:
        raise ValueError("a deployment card needs a chosen trial")
    row = frame[frame["number"] == selection.chosen].iloc[0]
    configuration = {
        key: _value(row, key)
        for key in (
            "width",
            "sparsity_target",
            "sparsity_actual",
            "pattern",
            "seed",
            "footprint_format",
            "budget_bytes",
        )
    }
    configuration["exclude"] = _exclude(meta)
    if _value(row, "fit_note"):
        configuration["fit_note"] = _value(row, "fit_note")
    return {
        "prunefront_card": CARD_VERSION,
        "study": meta.study_name,
        "source": source,
        "trial": selection.chosen,
        "task": meta.task_ref,
        "metric": {"name": meta.metric_name, "direction": meta.metric_direction},
        "configuration": configuration,
        "measurements": _measurements(row, meta),
        "measurement_records": _json_value(row, "measurements") or [],
        "selection": {
            "prefer": selection.requirements.prefer,
            "requirements": selection.requirements.to_dict(),
            "explanation": selection.explanation,
            "runner_up": selection.runner_up,
            "choice_set": list(selection.front),
        },
        "reproduce": reproduce_command(row, meta),
        "artifact": _value(row, "artifact"),
        "device": meta.device,
        "versions": _json_value(row, "versions"),
    }


def _md(value: Any) -> str:
    if value is None:
        return "-"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    # Markdown renders raw HTML: a study or task named "<script>" must show as text, as the
    # HTML report shows it.
    return " ".join(html.escape(text, quote=False).replace("|", "\\|").split())


def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    lines = [
        f"# Deployment card: {_md(card['study'])}, trial {card['trial']}",
        "",
        f"Task `{_md(card['task'])}`; metric {_md(card['metric']['name'])} "
        f"({card['metric']['direction']}). Read from {_md(card['source'])}.",
        "",
        "## Why this trial",
        "",
        _md(card["selection"]["explanation"]),
        "",
        "## Configuration",
        "",
        "| key | value |",
        "|---|---|",
        *(f"| {_md(k)} | {_md(v)} |" for k, v in card["configuration"].items()),
        "",
        "## Measurements",
        "",
        "| measure | value | unit | kind | method | note |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_md(m['name'])} | {_md(m['value'])} | {_md(m['unit'])} | {_md(m['kind'])} | "
            f"{_md(m['method'])} | {_md(m['note'])} |"
            for m in card["measurements"]
        ),
        "",
        "## Reproduce",
        "",
        "```bash",
        card["reproduce"],
        "```",
        "",
        "## Provenance",
        "",
        f"- device: {_md(json.dumps(card['device'], sort_keys=True))}",
        f"- versions: {_md(json.dumps(card['versions'], sort_keys=True))}",
        f"- artifact: {_md(card['artifact'])}",
    ]
    return "\n".join(lines) + "\n"


def write_card(card: dict[str, Any], out: Path) -> list[Path]:
    """Write ``deployment.json`` and ``deployment.md`` into ``out`` (each file atomically).

    Raises:
        PrunefrontError: ``out`` is not a writable directory.
    """
    out = out.expanduser().absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PrunefrontError(
            f"--out {out}: cannot create the directory ({error.strerror})"
        ) from None
    if not out.is_dir() or not os.access(out, os.W_OK):
        raise PrunefrontError(f"--out {out} is not a writable directory")
    written = []
    for name, text in (
        ("deployment.json", dumps(card)),
        ("deployment.md", card_markdown(card)),
    ):
        handle, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out / name)
        written.append(out / name)
    return written
