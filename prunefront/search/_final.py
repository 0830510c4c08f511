"""After the last trial: re-measure what the verdict and the front rest on, side by side.

Each trial was profiled on its own, at its own moment of the machine's load, so two trials'
latencies are two draws, not a comparison. Once the budget is used this step loads the trained
weights again and, in one warmed process:

- times each iso-footprint pair (one replicate per side: the replicates share the architecture
  and the sparsity, so the compute is the same) in interleaved rounds and stores the latency
  ratio large-sparse / small-dense with its 95 % interval (``pair_latency``), and where a sensor
  measures energy on the target, the energy ratio from alternating windows (its ``energy``);
- times the final front side by side and stores each member's median with its interval
  (``final_latency``); a trial that joins the front once its neighbours were re-measured is
  re-measured with them, so the front is not chosen by lucky draws.

Only a local target (cpu, cuda) is re-measured here; a remote device keeps its own profiles.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from prunefront.config import RunConfig
from prunefront.export import trial_model
from prunefront.profilers import (
    LatencySettings,
    UnavailableMeter,
    energy_ratio,
    latency_ratio,
    select_energy_meter,
    time_side_by_side,
)
from prunefront.search._trials import nondominated, trial_values
from prunefront.search._worker import make_task
from prunefront.studies import (
    STUDY_FINAL_LATENCY,
    STUDY_OBJECTIVES,
    STUDY_PAIR_LATENCY,
    TrialKey,
    set_study_attrs,
)
from prunefront.tasks import Task

__all__ = ["finalize_study"]

_MAX_ROUNDS = 3


def _candidates(study: optuna.Study) -> list[FrozenTrial]:
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values
        and TrialKey.DUPLICATE_OF not in t.user_attrs
        and all(c <= 0 for c in t.constraints.values())
        and t.user_attrs.get(TrialKey.ARTIFACT)
    ]


def _front(
    trials: list[FrozenTrial], objectives: list[str], maximize: list[bool], final: dict[int, float]
) -> set[int]:
    points = [trial_values(trial, objectives, final) for trial in trials]
    mask = nondominated(np.array(points, dtype=float), maximize)
    return {t.number for t, on in zip(trials, mask, strict=True) if on}


def _pairs(study: optuna.Study) -> dict[int, dict[str, FrozenTrial]]:
    """Level -> side -> the lowest-seed COMPLETE replicate of that side."""
    pairs: dict[int, dict[str, FrozenTrial]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        side, level = attrs.get(TrialKey.SEEDED), attrs.get(TrialKey.ISO_LEVEL_BYTES)
        if side is None or not isinstance(level, int) or not attrs.get(TrialKey.ARTIFACT):
            continue
        held = pairs.setdefault(level, {}).get(side)
        seed = attrs.get(TrialKey.PAIR_SEED, 0)
        if held is None or seed < held.user_attrs.get(TrialKey.PAIR_SEED, 0):
            pairs[level][side] = trial
    return {level: sides for level, sides in pairs.items() if len(sides) == 2}


def _was_busy(pairs: Any) -> bool:
    """Whether a pair was timed on an oversubscribed machine (then measure again)."""
    if not isinstance(pairs, dict):
        return False
    return any(
        isinstance(p, dict)
        and isinstance(p.get("load_per_core"), int | float)
        and p["load_per_core"] > 1.0
        for p in pairs.values()
    )


def finalize_study(
    study: optuna.Study,
    config: RunConfig,
    run_dir: Path,
    *,
    say: Callable[[str], None],
    task: Task | None = None,
) -> None:
    """Re-measure the pairs and the final front side by side; store both in the study.

    ``task``: the Task object of a search run from Python (default: resolve the config's).

    Skipped (said) for remote targets, and when nothing changed since the last time (unless
    the last time the machine was oversubscribed: running the search command again on a quiet
    machine re-measures).
    """
    target = config.target
    if target.device.startswith(("remote://", "adb://")):
        say("pairs and front not re-measured side by side: the target is a remote device")
        return
    complete = sorted(t.number for t in _candidates(study))
    stamp = {"complete_trials": complete}
    previous = study.user_attrs.get(STUDY_FINAL_LATENCY)
    if (
        isinstance(previous, dict)
        and previous.get("complete_trials") == complete
        and not _was_busy(study.user_attrs.get(STUDY_PAIR_LATENCY))
    ):
        return

    inputs: tuple[Any, ...] | None = None

    def model(trial: FrozenTrial) -> tuple[Any, str | None]:
        nonlocal inputs
        loaded, _, _, _ = trial_model(study, trial.number, run_dir=run_dir, task=task)
        if inputs is None:
            the_task = task if task is not None else make_task(config)
            inputs = the_task.example_inputs(target.batch_size)
        return loaded, trial.user_attrs.get(TrialKey.LATENCY_STRATEGY)

    pair_latency: dict[str, Any] = {}
    meter = None if target.energy == "off" else select_energy_meter(target.device, "auto")
    if isinstance(meter, UnavailableMeter):
        meter = None  # energy side by side only where a sensor measures it
    for level, sides in sorted(_pairs(study).items()):
        sparse, dense = sides["large-sparse"], sides["small-dense"]
        a, b = model(sparse), model(dense)
        assert inputs is not None
        ratio = latency_ratio(
            a,
            b,
            inputs,
            device=target.device,
            threads=target.threads,
            max_time_s=max(5.0, target.latency_max_time_s),
        )
        pair_latency[str(level)] = {
            **ratio.to_dict(),
            "large_sparse_trial": sparse.number,
            "small_dense_trial": dense.number,
        }
        if meter is not None:
            energy = energy_ratio(
                a, b, inputs, meter=meter, device=target.device, threads=target.threads
            )
            if energy is not None:
                pair_latency[str(level)]["energy"] = energy.to_dict()
        low, high = ratio.ci95
        say(
            f"level {level} B: latency large-sparse / small-dense = {ratio.value:.3f} "
            f"[{low:.3f}, {high:.3f}] over {ratio.rounds} side-by-side rounds"
        )
    set_study_attrs(study, {STUDY_PAIR_LATENCY: pair_latency})

    objectives = list(study.user_attrs.get(STUDY_OBJECTIVES) or [])
    trials = _candidates(study)
    if "latency_ms" not in objectives or not trials:
        set_study_attrs(study, {STUDY_FINAL_LATENCY: {**stamp, "trials": {}}})
        return
    maximize = [d == optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
    by_number = {t.number: t for t in trials}
    settings = LatencySettings(
        min_time_s=target.latency_min_time_s, max_time_s=max(2.0, target.latency_max_time_s)
    )
    final: dict[int, float] = {}
    records: dict[str, Any] = {}
    for _ in range(_MAX_ROUNDS):
        front = _front(trials, objectives, maximize, final)
        if front <= set(final):
            break
        chosen = sorted(front | set(final))
        measured = time_side_by_side(
            {str(n): model(by_number[n]) for n in chosen},
            inputs or (),
            device=target.device,
            threads=target.threads,
            settings=settings,
        )
        for name, record in measured.items():
            if record.value is None:
                continue
            final[int(name)] = float(record.value)
            details = record.details
            records[name] = {
                "latency_ms": record.value,
                "ci95_ms": [details.get("median_ci95_low_ms"), details.get("median_ci95_high_ms")],
                "strategy": details.get("strategy"),
                "method": record.method,
                "samples": details.get("samples"),
                "first_latency_ms": by_number[int(name)].user_attrs.get(TrialKey.LATENCY_MS),
            }
    set_study_attrs(
        study,
        {
            STUDY_FINAL_LATENCY: {
                **stamp,
                "trials": records,
                "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "threads": target.threads,
                "batch_size": target.batch_size,
            }
        },
    )
    say(
        f"final front re-measured side by side: trials {sorted(final)} "
        f"({len(final)} models in one process)"
    )
