"""One trial: suggest a feasible candidate, train it with gradual pruning, evaluate, profile, store.

The footprint constraint is set before anything can fail, every number is stored as a plain
user attribute (see ``_schema``) with its kind and method, and the trained sparse weights are saved
in the run folder so that exporting a trial never needs retraining.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState
from torch import nn

from prunefront.candidate import Candidate, PruningSettings, StepHook, WarmStart, train_candidate
from prunefront.config import RunConfig
from prunefront.pruning import default_schedule, save_sparse
from prunefront.search._early import early_stop_hook
from prunefront.search._gate import ProfileGate
from prunefront.search._phase import TrialPhase
from prunefront.search._trials import (
    DUPLICATE_KEY,
    FREE_DUPLICATE_KEY,
    free_duplicates,
    reap_dead_trials,
    running_twin,
    same_candidate,
)
from prunefront.spaces._search_space import SearchSpace
from prunefront.tasks import Task

__all__ = ["TrialContext", "TrialFailed", "library_versions", "run_trial"]


class TrialFailed(Exception):
    """A trial that cannot give its objectives (diverged, no latency, ...); carries the reason."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on."""
    import platform

    import numpy

    import prunefront

    versions = {
        "python": platform.python_version(),
        "prunefront": prunefront.__version__,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "numpy": numpy.__version__,
    }
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return versions


@dataclass(frozen=True, kw_only=True)
class TrialContext:
    """Everything a worker needs to run trials (built once per worker).

    ``warm_start`` is the run's warm-start cache, or None when ``search.warm_start`` is off.
    """

    config: RunConfig
    task: Task
    space: SearchSpace
    run_dir: Path
    objectives: tuple[str, ...]
    train_threads: int
    gate: ProfileGate
    versions: dict[str, str]
    profile: Callable[[nn.Module, Task], Any]
    warm_start: WarmStart | None = None


def _settings(config: RunConfig) -> PruningSettings:
    s = config.space.schedule
    return PruningSettings(
        begin_frac=s.begin_frac,
        end_frac=s.end_frac,
        updates=s.updates,
        scope=s.scope,
        exclude=s.exclude,
        storage_format=config.budget.format,
        dtype=config.budget.dtype,
    )


def _hooks(ctx: TrialContext, trial: optuna.Trial, sparsity: float, predicted: int) -> StepHook:
    hooks: list[StepHook] = [ctx.gate.training_step]
    search = ctx.config.search
    if search.early_stopping and sparsity > 0:
        end = default_schedule(
            ctx.task.total_steps(),
            sparsity,
            begin_frac=ctx.config.space.schedule.begin_frac,
            end_frac=ctx.config.space.schedule.end_frac,
        ).end_step
        device = search.train_device
        hooks.append(
            early_stop_hook(
                check_step=end,
                evaluate=lambda model: ctx.task.evaluate(model, device=device),  # type: ignore[arg-type]
                load_trials=lambda: trial.study.get_trials(deepcopy=False),
                footprint_bytes=predicted,
                maximize=ctx.task.direction == "maximize",
                margin=search.early_stopping_margin,
                metric_name=ctx.task.metric,
            )
        )

    def hook(step: int, model: nn.Module) -> None:
        for h in hooks:
            h(step, model)

    return hook


TWIN_POLL_S = 1.0
"""How often a trial waiting for its running twin looks again."""


def _wait_for_running_twin(trial: optuna.Trial, candidate: dict[str, Any]) -> None:
    """Wait while another worker's earlier trial trains this very candidate.

    Dead twins are reaped while waiting (their worker is gone), so the wait always ends.
    """
    study = trial.study
    while True:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        twin = running_twin(running, number=trial.number, **candidate)
        if twin is None:
            return
        trial.set_user_attr("waited_for_twin", twin.number)
        time.sleep(TWIN_POLL_S)
        reap_dead_trials(study)


def run_trial(ctx: TrialContext, trial: optuna.Trial) -> list[float]:
    """Run ``trial`` and return its objective values in ``ctx.objectives`` order.

    Raises:
        TrialFailed: the candidate diverged or an objective could not be measured.
        EarlyStop: early stopping found the candidate clearly dominated.
    """
    width, pattern, sparsity = ctx.space.suggest(trial)
    predicted = ctx.space.footprint(width, sparsity, pattern)
    trial.set_constraint("footprint", float(predicted - ctx.space.budget_bytes))
    # A seed replicate of a seeded pair trains with its own seed; sampler trials with the run's.
    seed = int(trial.user_attrs.get("pair_seed", ctx.config.search.seed))
    for key, value in {
        "width": width,
        "pattern": pattern,
        "sparsity_target": sparsity,
        "footprint_predicted_bytes": predicted,
        "budget_bytes": ctx.space.budget_bytes,
        "seed": seed,
        "train_device": ctx.config.search.train_device,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "versions": json.dumps(ctx.versions),
    }.items():
        trial.set_user_attr(key, value)
    cap = _byte_cap(ctx, trial)
    trial.set_user_attr("max_bytes", cap)
    candidate: dict[str, Any] = {
        "width": width,
        "pattern": pattern,
        "sparsity": sparsity,
        "seed": seed,
        "max_bytes": cap,
        "train_device": ctx.config.search.train_device,
    }
    # Pair replicates always train: the verdict's statistics need each seed's own trial.
    pair = "seeded" in trial.user_attrs
    if not pair:
        _wait_for_running_twin(trial, candidate)
    done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    earlier = None if pair else same_candidate(done, **candidate)
    if earlier is not None:
        return _take_results(ctx, trial, earlier)
    torch.set_num_threads(ctx.train_threads)
    ctx.gate.take_waited()
    phase = TrialPhase(trial)
    phase.set("training", "0%")
    model, result = train_candidate(
        ctx.task,
        Candidate(width=width, sparsity=sparsity, pattern=pattern),
        seed=seed,
        device=ctx.config.search.train_device,
        settings=_settings(ctx.config),
        step_hook=_hooks(ctx, trial, sparsity, predicted),
        warm_start=ctx.warm_start,
        max_bytes=cap,
        on_progress=phase.training,
    )
    _store_training(trial, result, ctx)
    if ctx.gate.enabled:
        trial.set_user_attr("gate_wait_seconds", ctx.gate.take_waited())
    if not math.isfinite(result.metric_value):
        raise TrialFailed(f"{result.metric_name} is {result.metric_value} (training diverged)")
    if result.footprint_bytes > ctx.space.budget_bytes:
        # Training prunes a little further where the real bytes exceed the analytic prediction
        # (``max_bytes``); this is left only where even that could not make it fit.
        raise TrialFailed(
            f"over budget: the trained model takes {result.footprint_bytes} B "
            f"({result.footprint_format}), the budget is {ctx.space.budget_bytes} B "
            f"(predicted {predicted} B before training)"
        )
    artifact = Path("artifacts") / f"trial-{trial.number:05d}.pfs"
    (ctx.run_dir / "artifacts").mkdir(exist_ok=True)
    file_bytes = save_sparse(
        ctx.run_dir / artifact,
        model,
        fmt=ctx.config.budget.format,
        dtype=ctx.config.budget.dtype,
        exclude=ctx.config.space.schedule.exclude,
        pattern=pattern,
        metadata={
            "task": ctx.config.task.ref,
            "task_options": ctx.config.task.options,
            "width": width,
            "sparsity": sparsity,
            "pattern": pattern,
            "seed": seed,
            "trial": trial.number,
            "study": trial.study.study_name,
        },
    )
    trial.set_user_attr("artifact", str(artifact))
    trial.set_user_attr("file_bytes", file_bytes)
    phase.set("profiling")
    started = time.perf_counter()
    with ctx.gate.profiling():
        profile = ctx.profile(model, ctx.task)
    trial.set_user_attr("profile_seconds", time.perf_counter() - started)
    values = _store_profile(trial, profile, result.metric_value, result.footprint_bytes)
    return [objective_value(values, name) for name in ctx.objectives]


_NOT_COPIED = frozenset(
    {
        "seeded",
        "iso_level_bytes",
        "pair_seed",
        "replicate",
        "retry_of",
        "retry_count",
        "host",
        "pid",
        "versions",
        "warm_start",
        "gate_wait_seconds",
        "train_seconds",
        "profile_seconds",
        "phase",
    }
)
"""What a duplicate does not take from the trial it repeats: its own identity, provenance and
what its own run did (it trained nothing). The measurements it takes are the earlier trial's,
which ``duplicate_of`` names."""


def _take_results(
    ctx: TrialContext, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial
) -> list[float]:
    """Give ``trial`` the results of ``earlier``, which trained the very same candidate."""
    for key, value in earlier.user_attrs.items():
        if key not in _NOT_COPIED and key not in trial.user_attrs:
            trial.set_user_attr(key, value)
    trial.set_user_attr(DUPLICATE_KEY, earlier.number)
    trial.set_user_attr("train_seconds", 0.0)  # it trained and profiled nothing
    trial.set_user_attr("profile_seconds", 0.0)
    # Counted without the budget lock: workers copying at the same instant can exceed the
    # allowance by at most one copy each, which only bounds how long copies stay free.
    if free_duplicates(trial.study.get_trials(deepcopy=False)) < ctx.config.search.trials:
        trial.set_user_attr(FREE_DUPLICATE_KEY, True)
    assert earlier.values is not None  # same_candidate returns COMPLETE trials with values
    return list(earlier.values)


def _byte_cap(ctx: TrialContext, trial: optuna.Trial) -> int:
    """The real bytes this trial's model must fit: the budget, or a seeded pair's level."""
    level = trial.user_attrs.get("iso_level_bytes")
    if isinstance(level, int) and level > 0:
        return min(level, ctx.space.budget_bytes)
    return ctx.space.budget_bytes


def _store_training(trial: optuna.Trial, result: Any, ctx: TrialContext) -> None:
    for key in (
        "sparsity_actual",
        "params_total",
        "params_nonzero",
        "footprint_bytes",
        "footprint_format",
        "metric_name",
        "metric_direction",
        "train_seconds",
        "warm_start",
        "metric_dtype",
    ):
        trial.set_user_attr(key, getattr(result, key))
    if result.metric_float32 is not None:
        value32 = result.metric_float32
        trial.set_user_attr("metric_float32", value32 if math.isfinite(value32) else None)
    if result.fit_note:
        trial.set_user_attr("fit_note", result.fit_note)
    value = result.metric_value
    trial.set_user_attr("metric_value", value if math.isfinite(value) else None)


def _store_profile(
    trial: optuna.Trial, profile: Any, metric: float, footprint_bytes: int
) -> dict[str, float]:
    doc = profile.to_dict()
    latency, energy = doc["latency_ms"], doc["energy_mj"]
    attrs: dict[str, Any] = {
        "latency_ms": latency["value"],
        "latency_p90_ms": latency["p90"],
        "latency_iqr_ms": latency["iqr"],
        "latency_kind": latency["kind"],
        "latency_method": latency["method"],
        "latency_strategy": latency["strategy"],
        "strategies": json.dumps(doc["strategies"]),
        "energy_kind": energy["kind"],
        "energy_method": energy["method"],
        "peak_memory_bytes": doc["peak_memory_bytes"]["value"],
        "measurements": json.dumps(list(doc["records"].values())),
        "device": json.dumps(doc["device"]),
    }
    energy_value = _energy_per_inference(doc)
    if energy_value is not None:
        attrs["energy_mj"] = energy_value
    else:
        attrs["energy_reason"] = energy.get("reason") or "no energy value"
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if latency["value"] is None:
        raise TrialFailed(f"latency unavailable: {latency.get('reason')}")
    values: dict[str, float] = {
        "metric": metric,
        "latency_ms": float(latency["value"]),
        "footprint_bytes": float(footprint_bytes),
    }
    if energy_value is not None:
        values["energy_mj"] = energy_value
    return values


def _energy_per_inference(doc: dict[str, Any]) -> float | None:
    """Net energy per forward pass where an idle baseline exists, else gross; None if neither."""
    records = doc["records"]
    for name in ("energy_net_mj", "energy_mj"):
        record = records.get(name)
        if record is not None and record.get("value") is not None:
            return float(record["value"])
    return None


def objective_value(values: dict[str, float], name: str) -> float:
    """The value of objective ``name`` (a clear failure when it was not measured)."""
    if name not in values:
        raise TrialFailed(f"objective {name} was not measured on this target")
    return values[name]
