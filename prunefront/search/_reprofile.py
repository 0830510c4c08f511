"""Train once, measure everywhere: profile a finished study's trials on another target.

``plan_reprofile`` validates everything first and writes nothing: the target's name and
settings (a name already stored with other settings is refused), the trials asked for (``front``,
``all`` or a list; each must be COMPLETE) and their saved weights. ``run_reprofile`` then loads
each trial's sparse weights (no retraining), profiles the model on the target exactly as a
search trial is profiled, and stores the result in the same study (``studies._targets``), one
trial at a time. A trial already stored for that target is skipped, so a run that was killed
(even with SIGKILL) finishes when the same command runs again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from prunefront.config import RunConfig, TargetConfig
from prunefront.errors import PrunefrontError
from prunefront.export import trial_model
from prunefront.reports import build_report
from prunefront.search._objective import _energy_per_inference
from prunefront.search._trials import DUPLICATE_KEY
from prunefront.search._worker import make_task, profile_function
from prunefront.studies import (
    STUDY_CONFIG,
    TargetProfile,
    TargetRecord,
    check_target_name,
    profile_key,
    set_study_attrs,
    target_key,
    target_profiles,
    target_records,
)

__all__ = ["ReprofilePlan", "ReprofileResult", "plan_reprofile", "run_reprofile", "target_settings"]


def target_settings(target: TargetConfig) -> dict[str, Any]:
    """What a target's measurements depend on (a name stands for exactly these)."""
    return {
        "device": target.device,
        "threads": target.threads,
        "batch_size": target.batch_size,
        "energy": target.energy,
        "adb_binary": target.adb_binary,
        "latency_min_time_s": target.latency_min_time_s,
        "latency_max_time_s": target.latency_max_time_s,
    }


@dataclass(frozen=True, kw_only=True)
class ReprofilePlan:
    """A validated reprofile: nothing has been written yet.

    Attributes:
        study: The study (opened for writing).
        config: The run configuration with the new target.
        record: The target's record (name and settings).
        trials: Trial numbers to have measured, ascending.
        done: Of those, the ones already stored for this target.
        run_dir: The run folder holding the trials' weights.
    """

    study: optuna.Study
    config: RunConfig
    record: TargetRecord
    trials: tuple[int, ...]
    done: tuple[int, ...]
    run_dir: Path


@dataclass(frozen=True, kw_only=True)
class ReprofileResult:
    """What a reprofile run did.

    Attributes:
        target: The target's record.
        profiled: Trials measured by this run.
        skipped: Trials already stored for this target (an earlier run measured them).
        latency_ms: Median latency on the target of every trial asked for (None: unavailable).
    """

    target: TargetRecord
    profiled: tuple[int, ...]
    skipped: tuple[int, ...]
    latency_ms: dict[int, float | None]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "target": self.target.to_dict(),
            "profiled": list(self.profiled),
            "skipped": list(self.skipped),
            "latency_ms": {str(k): v for k, v in self.latency_ms.items()},
        }


def _parse_trials(text: str) -> str | list[int]:
    spec = text.strip().lower()
    if spec in ("front", "all"):
        return spec
    numbers: list[int] = []
    for part in spec.split(","):
        item = part.strip()
        low, _, high = item.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise PrunefrontError(
                f"--trials {text!r}: use front, all, or trial numbers such as 3,5,8-10"
            )
        numbers += list(range(int(low), int(high or low) + 1))
    return sorted(set(numbers))


def _front(study: optuna.Study) -> list[int]:

    return list(build_report(study).pareto.front)


def _chosen(study: optuna.Study, spec: str | list[int]) -> list[int]:
    trials = study.get_trials(deepcopy=False)
    if spec == "front":
        return sorted(_front(study))
    if isinstance(spec, str):  # "all"
        return [
            t.number
            for t in trials
            if t.state == TrialState.COMPLETE and DUPLICATE_KEY not in t.user_attrs
        ]
    chosen: list[int] = []
    for number in spec:
        if not 0 <= number < len(trials):
            raise PrunefrontError(
                f"--trials: trial {number} is not in study {study.study_name!r} "
                f"(it has trials 0..{len(trials) - 1})"
            )
        trial = trials[number]
        if trial.state != TrialState.COMPLETE:
            raise PrunefrontError(
                f"--trials: trial {number} is {trial.state.name}, not COMPLETE: "
                "only completed trials have saved weights"
            )
        # A duplicate took an earlier trial's results and saved no weights of its own.
        original = trial.user_attrs.get(DUPLICATE_KEY)
        chosen.append(int(original) if isinstance(original, int) else number)
    return sorted(set(chosen))


def _check_weights(study: optuna.Study, numbers: list[int], run_dir: Path) -> None:
    trials = study.get_trials(deepcopy=False)
    missing = [
        n
        for n in numbers
        if not trials[n].user_attrs.get("artifact")
        or not (run_dir / str(trials[n].user_attrs["artifact"])).is_file()
    ]
    if missing:
        shown = ", ".join(str(n) for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise PrunefrontError(
            f"study {study.study_name!r} has no saved weights for trial(s) {shown} under "
            f"{run_dir}: reprofile measures the trials' saved weights (pass the run folder "
            "with --run)"
        )


def plan_reprofile(
    study: optuna.Study,
    *,
    target: TargetConfig,
    name: str,
    trials: str,
    run_dir: Path | None = None,
) -> ReprofilePlan:
    """Validate a reprofile of ``study`` on ``target`` under ``name`` (see the module docstring).

    Raises:
        PrunefrontError: Bad name, a name stored with other settings, a study prunefront did
            not write, unknown or unfinished trials, or missing weights.
    """
    check_target_name(name)
    stored = study.user_attrs.get(STUDY_CONFIG)
    if not isinstance(stored, dict):
        raise PrunefrontError(f"study {study.study_name!r} was not created by prunefront")
    config = RunConfig.from_dict(stored)
    settings = target_settings(target)
    existing = target_records(study.user_attrs).get(name)
    if existing is not None and existing.settings != settings:
        changed = sorted(k for k in settings if existing.settings.get(k) != settings[k])
        was = ", ".join(f"{k}={existing.settings.get(k)!r}" for k in changed)
        now = ", ".join(f"{k}={settings[k]!r}" for k in changed)
        raise PrunefrontError(
            f"--name {name!r} was measured with {was}; this run asks {now}: "
            "give these settings another --name"
        )
    folder = run_dir or Path(config.search.run_dir or Path("runs") / config.study_name())
    numbers = _chosen(study, _parse_trials(trials))
    if not numbers:
        raise PrunefrontError(
            f"--trials {trials}: study {study.study_name!r} has no COMPLETE trial to measure"
        )
    _check_weights(study, numbers, folder)
    done = set(target_profiles(study.user_attrs, name))
    return ReprofilePlan(
        study=study,
        config=dataclasses.replace(config, target=target),
        record=existing or TargetRecord(name=name, settings=settings),
        trials=tuple(numbers),
        done=tuple(n for n in numbers if n in done),
        run_dir=folder,
    )


def _profile_record(number: int, profile: Any, seconds: float) -> TargetProfile:

    doc = profile.to_dict()
    latency, energy = doc["latency_ms"], doc["energy_mj"]
    energy_value = _energy_per_inference(doc)
    return TargetProfile(
        trial=number,
        latency_ms=latency["value"],
        latency_p90_ms=latency["p90"],
        latency_iqr_ms=latency["iqr"],
        latency_kind=str(latency["kind"]),
        latency_method=str(latency["method"]),
        latency_strategy=latency["strategy"],
        energy_mj=energy_value,
        energy_kind=str(energy["kind"]),
        energy_method=str(energy["method"]),
        energy_reason=None
        if energy_value is not None
        else (energy.get("reason") or "no energy value"),
        peak_memory_bytes=doc["peak_memory_bytes"]["value"],
        strategies=json.loads(json.dumps(doc["strategies"])),
        measurements=json.loads(json.dumps(list(doc["records"].values()))),
        device=json.loads(json.dumps(doc["device"])),
        profile_seconds=seconds,
    )


def run_reprofile(
    plan: ReprofilePlan, *, say: Callable[[str], None] = lambda _: None
) -> ReprofileResult:
    """Measure every planned trial not yet stored for the target, storing each when done."""
    study, record = plan.study, plan.record
    set_study_attrs(study, {target_key(record.name): record.to_dict()})
    task = make_task(plan.config)
    profile = profile_function(plan.config)
    done = set(plan.done)
    profiled: list[int] = []
    todo = [n for n in plan.trials if n not in done]
    if done:
        say(f"{len(done)} trial(s) already measured on {record.name}: skipped")
    for index, number in enumerate(todo, start=1):
        model, _, _, _ = trial_model(study, number, run_dir=plan.run_dir)
        started = time.perf_counter()
        result = profile(model, task)
        entry = _profile_record(number, result, time.perf_counter() - started)
        if not record.device and entry.device:
            record = dataclasses.replace(record, device=entry.device)
            set_study_attrs(study, {target_key(record.name): record.to_dict()})
        set_study_attrs(study, {profile_key(record.name, number): entry.to_dict()})
        profiled.append(number)
        shown = "unavailable" if entry.latency_ms is None else f"{entry.latency_ms:.4g} ms"
        say(f"[{index}/{len(todo)}] trial {number} on {record.name}: {shown}")
    stored = target_profiles(study.user_attrs, record.name)
    return ReprofileResult(
        target=record,
        profiled=tuple(profiled),
        skipped=tuple(sorted(done)),
        latency_ms={n: stored[n].latency_ms if n in stored else None for n in plan.trials},
    )
