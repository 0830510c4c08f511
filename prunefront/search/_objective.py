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
from prunefront.pruning import default_schedule
from prunefront.search._early import early_stop_hook
from prunefront.search._gate import ProfileGate
from prunefront.search._phase import TrialPhase
from prunefront.search._trials import (
    DUPLICATE_KEY,
    FREE_DUPLICATE_KEY,
    free_duplicates,
    queue_exploration,
    reap_dead_trials,
    running_twin,
    same_candidate,
)
from prunefront.spaces import SearchSpace, save_sparse
from prunefront.studies import TRIAL_ATTRS, TrialKey, read_trial_attrs, set_trial_attrs
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
        set_trial_attrs(trial, {TrialKey.WAITED_FOR_TWIN: twin.number})
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
    seed = int(trial.user_attrs.get(TrialKey.PAIR_SEED, ctx.config.search.seed))
    set_trial_attrs(
        trial,
        {
            TrialKey.WIDTH: width,
            TrialKey.PATTERN: pattern,
            TrialKey.SPARSITY: sparsity,
            TrialKey.SPARSITY_TARGET: sparsity,
            TrialKey.FOOTPRINT_PREDICTED_BYTES: predicted,
            TrialKey.BUDGET_BYTES: ctx.space.budget_bytes,
            TrialKey.SEED: seed,
            TrialKey.TRAIN_DEVICE: ctx.config.search.train_device,
            TrialKey.HOST: socket.gethostname(),
            TrialKey.PID: os.getpid(),
            TrialKey.VERSIONS: dict(ctx.versions),
        },
    )
    cap = _byte_cap(ctx, trial)
    set_trial_attrs(trial, {TrialKey.MAX_BYTES: cap})
    candidate: dict[str, Any] = {
        "width": width,
        "pattern": pattern,
        "sparsity": sparsity,
        "seed": seed,
        "max_bytes": cap,
        "train_device": ctx.config.search.train_device,
    }
    # Pair replicates always train: the verdict's statistics need each seed's own trial.
    pair = TrialKey.SEEDED in trial.user_attrs
    if not pair:
        _wait_for_running_twin(trial, candidate)
    done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    earlier = None if pair else same_candidate(done, **candidate)
    if earlier is not None:
        taken = _take_results(ctx, trial, earlier)
        if ctx.config.search.sampler != "grid":  # the grid's order is its own; it repeats nothing
            queue_exploration(
                trial.study,
                ctx.space,
                run_seed=ctx.config.search.seed,
                after=trial.number,
                budget=ctx.config.search.trials,
            )
        return taken
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
        set_trial_attrs(trial, {TrialKey.GATE_WAIT_SECONDS: ctx.gate.take_waited()})
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
    set_trial_attrs(trial, {TrialKey.ARTIFACT: str(artifact), TrialKey.FILE_BYTES: file_bytes})
    phase.set("profiling")
    started = time.perf_counter()
    with ctx.gate.profiling():
        profile = ctx.profile(model, ctx.task)
    set_trial_attrs(trial, {TrialKey.PROFILE_SECONDS: time.perf_counter() - started})
    values = _store_profile(trial, profile, result.metric_value, result.footprint_bytes)
    return [objective_value(values, name) for name in ctx.objectives]


_NOT_COPIED = frozenset(
    {
        TrialKey.SEEDED,
        TrialKey.ISO_LEVEL_BYTES,
        TrialKey.PAIR_SEED,
        TrialKey.REPLICATE,
        TrialKey.RETRY_OF,
        TrialKey.RETRY_COUNT,
        TrialKey.HOST,
        TrialKey.PID,
        TrialKey.VERSIONS,
        TrialKey.WARM_START,
        TrialKey.GATE_WAIT_SECONDS,
        TrialKey.TRAIN_SECONDS,
        TrialKey.PROFILE_SECONDS,
        TrialKey.PHASE,
    }
)
"""What a duplicate does not take from the trial it repeats: its own identity, provenance and
what its own run did (it trained nothing). The measurements it takes are the earlier trial's,
which ``duplicate_of`` names."""


def _take_results(
    ctx: TrialContext, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial
) -> list[float]:
    """Give ``trial`` the results of ``earlier``, which trained the very same candidate."""
    set_trial_attrs(
        trial,
        {
            key: value
            for key, value in read_trial_attrs(earlier.user_attrs).items()
            if key not in _NOT_COPIED and key not in trial.user_attrs and key in TRIAL_ATTRS
        },
    )
    set_trial_attrs(
        trial,
        {
            DUPLICATE_KEY: earlier.number,
            TrialKey.TRAIN_SECONDS: 0.0,  # it trained and profiled nothing
            TrialKey.PROFILE_SECONDS: 0.0,
        },
    )
    # Counted without the budget lock: workers copying at the same instant can exceed the
    # allowance by at most one copy each, which only bounds how long copies stay free.
    if free_duplicates(trial.study.get_trials(deepcopy=False)) < ctx.config.search.trials:
        set_trial_attrs(trial, {FREE_DUPLICATE_KEY: True})
    assert earlier.values is not None  # same_candidate returns COMPLETE trials with values
    return list(earlier.values)


def _byte_cap(ctx: TrialContext, trial: optuna.Trial) -> int:
    """The real bytes this trial's model must fit: the budget, or a seeded pair's level."""
    level = trial.user_attrs.get(TrialKey.ISO_LEVEL_BYTES)
    if isinstance(level, int) and level > 0:
        return min(level, ctx.space.budget_bytes)
    return ctx.space.budget_bytes


def _store_training(trial: optuna.Trial, result: Any, ctx: TrialContext) -> None:
    # The training result's fields carry the attributes' own names.
    keys = (
        TrialKey.SPARSITY_ACTUAL,
        TrialKey.PARAMS_TOTAL,
        TrialKey.PARAMS_NONZERO,
        TrialKey.FOOTPRINT_BYTES,
        TrialKey.FOOTPRINT_FORMAT,
        TrialKey.METRIC_NAME,
        TrialKey.METRIC_DIRECTION,
        TrialKey.TRAIN_SECONDS,
        TrialKey.WARM_START,
        TrialKey.METRIC_DTYPE,
    )
    attrs = {key: getattr(result, key) for key in keys}
    if result.metric_float32 is not None:
        value32 = result.metric_float32
        attrs[TrialKey.METRIC_FLOAT32] = value32 if math.isfinite(value32) else None
    if result.fit_note:
        attrs[TrialKey.FIT_NOTE] = result.fit_note
    value = result.metric_value
    attrs[TrialKey.METRIC_VALUE] = value if math.isfinite(value) else None
    set_trial_attrs(trial, attrs)


def _store_profile(
    trial: optuna.Trial, profile: Any, metric: float, footprint_bytes: int
) -> dict[str, float]:
    doc = profile.to_dict()
    latency, energy = doc["latency_ms"], doc["energy_mj"]
    attrs: dict[str, Any] = {
        TrialKey.LATENCY_MS: latency["value"],
        TrialKey.LATENCY_P90_MS: latency["p90"],
        TrialKey.LATENCY_IQR_MS: latency["iqr"],
        TrialKey.LATENCY_KIND: latency["kind"],
        TrialKey.LATENCY_METHOD: latency["method"],
        TrialKey.LATENCY_STRATEGY: latency["strategy"],
        TrialKey.STRATEGIES: _json_native(doc["strategies"]),
        TrialKey.ENERGY_KIND: energy["kind"],
        TrialKey.ENERGY_METHOD: energy["method"],
        TrialKey.PEAK_MEMORY_BYTES: doc["peak_memory_bytes"]["value"],
        TrialKey.MEASUREMENTS: _json_native(list(doc["records"].values())),
        TrialKey.DEVICE: _json_native(doc["device"]),
    }
    energy_value = _energy_per_inference(doc)
    if energy_value is not None:
        attrs[TrialKey.ENERGY_MJ] = energy_value
    else:
        attrs[TrialKey.ENERGY_REASON] = energy.get("reason") or "no energy value"
    set_trial_attrs(trial, attrs)
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


def _json_native(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples as lists): what every storage hands readers."""
    return json.loads(json.dumps(value))


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
