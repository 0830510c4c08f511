"""Synthetic prunefront studies built with Optuna's own API, in memory or in a journal file."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

optuna.logging.set_verbosity(optuna.logging.WARNING)

T0 = dt.datetime(2026, 1, 1, 22, 0, 0)
BUDGET = 60_000
CONFIG = {"task": {"ref": "mnist1d-cnn", "options": {}}, "space": {"schedule": {"exclude": []}}}


def trial_spec(
    *,
    width: float,
    sparsity: float,
    metric: float,
    latency_ms: float,
    footprint_bytes: int,
    energy_mj: float | None = None,
    state: TrialState = TrialState.COMPLETE,
    **attrs: Any,
) -> dict[str, Any]:
    """One trial's description for ``make_study``."""
    return {
        "width": width,
        "sparsity": sparsity,
        "metric": metric,
        "latency_ms": latency_ms,
        "footprint_bytes": footprint_bytes,
        "energy_mj": energy_mj,
        "state": state,
        **attrs,
    }


def _user_attrs(spec: dict[str, Any], metric_name: str, direction: str) -> dict[str, Any]:
    skip = {"state", "sparsity", "metric", "values", "start_min"}
    attrs = {k: v for k, v in spec.items() if k not in skip and v is not None}
    attrs.update(
        sparsity_target=spec["sparsity"],
        sparsity_actual=spec["sparsity"],
        pattern=spec.get("pattern", "unstructured"),
        params_total=int(10_000 * spec["width"] ** 2),
        params_nonzero=int(10_000 * spec["width"] ** 2 * (1 - spec["sparsity"])),
        metric_name=metric_name,
        metric_value=spec["metric"],
        metric_direction=direction,
        latency_kind="measured",
        latency_method="perf_counter",
        latency_strategy="csr" if spec["sparsity"] >= 0.9 else "masked_dense",
        seed=0,
        versions=json.dumps({"torch": "2.13", "optuna": "5.0.0"}),
        measurements=json.dumps(
            [{"name": "latency_ms", "kind": "measured", "method": "perf_counter"}]
        ),
        train_seconds=2.0,
        profile_seconds=0.5,
    )
    if spec.get("energy_mj") is not None:
        attrs.update(energy_kind="measured", energy_method="nvml_energy_counter")
    else:
        attrs.update(energy_kind="unavailable", energy_reason="no sensor")
    return attrs


def make_study(
    specs: Sequence[dict[str, Any]],
    *,
    objectives: Sequence[str] = ("metric", "latency_ms"),
    metric_name: str = "accuracy",
    direction: str = "maximize",
    name: str = "study",
    storage: Any = None,
    budget: int | None = BUDGET,
    search_cost: dict[str, Any] | None = None,
) -> optuna.Study:
    """A study whose trials follow ``specs`` (values in the order of ``objectives``)."""
    directions = [direction if o == "metric" else "minimize" for o in objectives]
    study = optuna.create_study(directions=directions, study_name=name, storage=storage)
    study.set_user_attr("prunefront_format", 1)
    study.set_user_attr("objectives", list(objectives))
    study.set_user_attr("metric", {"name": metric_name, "direction": direction})
    study.set_user_attr("device", {"kind": "cpu", "name": "Test CPU", "threads": 1})
    study.set_user_attr("prunefront_config", CONFIG)
    study.set_user_attr(
        "search_cost",
        search_cost
        if search_cost is not None
        else {"worker-0": {"seconds": 100.0, "energy_kwh": 0.01}, "worker-1": {"seconds": 50.0}},
    )
    dists = {
        "width": CategoricalDistribution([0.25, 0.5, 0.75, 1.0]),
        "sparsity": FloatDistribution(0.0, 0.99),
    }
    for i, spec in enumerate(specs):
        state = spec["state"]
        values = None
        if state == TrialState.COMPLETE:
            by_name = {"metric": spec["metric"], **spec}
            values = spec.get("values") or [float(by_name[o]) for o in objectives]
        constraints = None
        if budget is not None and state == TrialState.COMPLETE:
            constraints = {"footprint": float(spec["footprint_bytes"] - budget)}
        start = T0 + dt.timedelta(minutes=spec.get("start_min", 10 * i))
        trial = optuna.trial.create_trial(
            state=state,
            values=values,
            params={"width": spec["width"], "sparsity": spec["sparsity"]},
            distributions=dists,
            user_attrs={
                **_user_attrs(spec, metric_name, direction),
                **({"budget_bytes": budget} if budget is not None else {}),
            },
            constraints=constraints,
        )
        trial.datetime_start = start
        trial.datetime_complete = (
            None if state == TrialState.RUNNING else start + dt.timedelta(minutes=5)
        )
        study.add_trial(trial)
    return study


def paper_specs() -> list[dict[str, Any]]:
    """A small search shaped like the paper: large-sparse beats small-dense on accuracy."""
    s = trial_spec
    return [
        # seeded iso-footprint pairs at two levels
        s(
            width=0.5,
            sparsity=0.0,
            metric=0.80,
            latency_ms=1.0,
            footprint_bytes=20_000,
            seeded="small-dense",
            iso_level_bytes=20_000,
            energy_mj=2.0,
        ),
        s(
            width=1.0,
            sparsity=0.75,
            metric=0.86,
            latency_ms=2.0,
            footprint_bytes=19_000,
            seeded="large-sparse",
            iso_level_bytes=20_000,
            energy_mj=3.0,
        ),
        s(
            width=0.75,
            sparsity=0.0,
            metric=0.85,
            latency_ms=1.5,
            footprint_bytes=40_000,
            seeded="small-dense",
            iso_level_bytes=40_000,
            energy_mj=2.5,
        ),
        s(
            width=1.0,
            sparsity=0.5,
            metric=0.88,
            latency_ms=2.0,
            footprint_bytes=39_000,
            seeded="large-sparse",
            iso_level_bytes=40_000,
            energy_mj=3.0,
        ),
        # sampled trials
        s(
            width=1.0,
            sparsity=0.9,
            metric=0.83,
            latency_ms=0.9,
            footprint_bytes=9_000,
            energy_mj=1.5,
        ),
        s(
            width=0.25,
            sparsity=0.0,
            metric=0.70,
            latency_ms=0.5,
            footprint_bytes=8_000,
            energy_mj=1.0,
        ),
        s(
            width=1.0,
            sparsity=0.0,
            metric=0.90,
            latency_ms=2.1,
            footprint_bytes=80_000,
            energy_mj=3.2,
        ),  # infeasible: over the budget
        s(
            width=0.5,
            sparsity=0.5,
            metric=0.60,
            latency_ms=3.0,
            footprint_bytes=12_000,
            energy_mj=4.0,
        ),  # dominated
        s(
            width=0.75,
            sparsity=0.3,
            metric=math.nan,
            latency_ms=math.nan,
            footprint_bytes=30_000,
            state=TrialState.FAIL,
            fail_reason="CUDA out of memory <at> layer 'conv1'",
        ),
        s(
            width=0.5,
            sparsity=0.2,
            metric=math.nan,
            latency_ms=math.nan,
            footprint_bytes=15_000,
            state=TrialState.PRUNED,
            pruned_reason="hopeless after 3 epochs",
        ),
    ]


class Studies:
    """The builders above, handed to tests as a fixture (conftest is not importable)."""

    make = staticmethod(make_study)
    spec = staticmethod(trial_spec)
    paper_specs = staticmethod(paper_specs)


@pytest.fixture
def studies() -> type[Studies]:
    return Studies


@pytest.fixture
def paper_study() -> optuna.Study:
    return make_study(paper_specs(), objectives=("metric", "latency_ms", "energy_mj"))


@pytest.fixture
def journal_run(tmp_path: Path) -> Path:
    """A run folder whose study.journal holds the paper-shaped study named 'night'."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    run = tmp_path / "run"
    run.mkdir()
    storage = JournalStorage(JournalFileBackend(str(run / "study.journal")))
    make_study(paper_specs(), name="night", storage=storage)
    return run


XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def written_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report, written once per session: a study named like an XSS attack, energy measured."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from prunefront.reports import build_report, write_report

    root = tmp_path_factory.mktemp("written")
    storage = JournalStorage(JournalFileBackend(str(root / "study.journal")))
    specs = paper_specs()
    specs[8]["fail_reason"] = f"ValueError in layer {XSS}"
    study = make_study(
        specs, name=XSS, storage=storage, objectives=("metric", "latency_ms", "energy_mj")
    )
    return write_report(build_report(study), root / "report").out
