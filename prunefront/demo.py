"""``make demo``: the paper's question on a built-in task, answered by training both candidates.

The small-dense model at ``small_width`` sets the byte budget; the full-width model is pruned to the
least sparsity whose footprint fits that budget; both train with the same seeds and are printed
side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.candidate import Candidate, PruningSettings, TrainResult, train_candidate
from prunefront.errors import PrunefrontError
from prunefront.spaces import feasible_sparsity, model_footprint
from prunefront.tasks import resolve_task

__all__ = ["iso_footprint_pair", "run_demo"]


def iso_footprint_pair(
    task_ref: str, small_width: float, *, fmt: str = "auto", dtype: str = "float32"
) -> tuple[Candidate, Candidate, int]:
    """The small-dense candidate, the full-width sparse one of no more bytes, and the budget."""
    task = resolve_task(task_ref)
    small = Candidate(width=small_width, sparsity=0.0)
    budget = model_footprint(
        task.build(small_width), sparsity=0.0, fmt=fmt, dtype=dtype
    ).footprint_bytes
    interval = feasible_sparsity(
        task.build, 1.0, budget_bytes=budget, pattern="unstructured", fmt=fmt, dtype=dtype
    )
    if interval is None:
        raise PrunefrontError(
            f"width 1.0 of {task_ref} does not fit {budget} B at any sparsity below 0.99"
        )
    sparsity = min(round(interval[0] + 5e-5, 4), interval[1])
    return small, Candidate(width=1.0, sparsity=sparsity), budget


def run_demo(task_ref: str, small_width: float, seeds: Sequence[int], *, as_json: bool) -> None:
    """Train the iso-footprint pair with every seed and print them side by side."""
    if not seeds:
        raise PrunefrontError("--seeds must name at least one seed")
    task = resolve_task(task_ref)
    small, large, budget = iso_footprint_pair(task_ref, small_width)
    settings = PruningSettings()
    results: dict[str, list[TrainResult]] = {"small-dense": [], "large-sparse": []}
    for seed in seeds:
        for label, candidate in (("small-dense", small), ("large-sparse", large)):
            if not as_json:
                stderr_console.print(
                    f"training {label}: width {candidate.width}, sparsity {candidate.sparsity}, "
                    f"seed {seed}"
                )
            _, result = train_candidate(task, candidate, seed=seed, settings=settings)
            results[label].append(result)
    rows = [_summarise(label, runs) for label, runs in results.items()]
    if as_json:
        emit_json({"task": task.name, "budget_bytes": budget, "candidates": rows})
        return
    print_table(
        f"{task.name}: large-sparse vs small-dense at <= {budget} B "
        f"({task.metric}, {task.direction})",
        [
            "candidate",
            "width",
            "sparsity",
            "nonzero params",
            "footprint B",
            "metric per seed",
            "mean",
            "train s",
        ],
        [
            (
                r["candidate"],
                r["width"],
                r["sparsity_target"],
                r["params_nonzero"],
                r["footprint_bytes"],
                ", ".join(f"{v:.4f}" for v in r["metric_values"]),
                r["metric_mean"],
                r["train_seconds_mean"],
            )
            for r in rows
        ],
    )


def _summarise(label: str, runs: list[TrainResult]) -> dict[str, Any]:
    first = runs[0]
    values = [r.metric_value for r in runs]
    return {
        "candidate": label,
        "width": first.width,
        "sparsity_target": first.sparsity_target,
        "sparsity_actual": first.sparsity_actual,
        "params_total": first.params_total,
        "params_nonzero": first.params_nonzero,
        "footprint_bytes": first.footprint_bytes,
        "metric": first.metric_name,
        "metric_values": values,
        "metric_mean": statistics.fmean(values),
        "seeds": [r.seed for r in runs],
        "train_seconds_mean": statistics.fmean(r.train_seconds for r in runs),
    }
