"""Selecting the trial to ship: requirements, preferences, the binding constraint, the card."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from prunefront.errors import PrunefrontError
from prunefront.reports import (
    Requirements,
    card_markdown,
    deployment_card,
    select_trial,
    study_meta,
    trials_frame,
)


def _select(study: optuna.Study, **requirements: object):
    meta = study_meta(study)
    frame = trials_frame(study, meta)
    return frame, meta, select_trial(frame, meta, Requirements(**requirements))  # type: ignore[arg-type]


def test_best_metric_among_feasible_trials_with_runner_up(paper_study: optuna.Study) -> None:
    _, _, selection = _select(paper_study)
    # trial 6 has the best accuracy (0.90) but is over the byte budget: never chosen
    assert selection.chosen == 3 and selection.runner_up == 2
    assert 6 not in selection.considered
    assert "best accuracy (0.88)" in selection.explanation
    assert "Runner-up: trial 2" in selection.explanation
    assert "latency 1.5 ms (-0.5)" in selection.explanation


def test_requirements_narrow_the_choice(paper_study: optuna.Study) -> None:
    _, _, selection = _select(paper_study, min_metric=0.8, max_latency_ms=1.6)
    assert selection.eligible == (0, 2, 4)
    assert selection.chosen == 2  # 0.85 at 1.5 ms
    _, _, by_bytes = _select(paper_study, max_bytes=10_000)
    assert by_bytes.chosen == 4  # 90 % sparse, 9 kB, accuracy 0.83


def test_max_metric_bounds_a_minimised_metric(studies: type) -> None:
    spec = studies.spec
    study = studies.make(
        [
            spec(width=1.0, sparsity=0.5, metric=1.40, latency_ms=3.0, footprint_bytes=1),
            spec(width=0.5, sparsity=0.0, metric=1.60, latency_ms=1.0, footprint_bytes=1),
            spec(width=0.5, sparsity=0.5, metric=1.90, latency_ms=0.5, footprint_bytes=1),
        ],
        metric_name="bits_per_char",
        direction="minimize",
    )
    _, _, best = _select(study)
    assert best.chosen == 0  # lowest bits per char
    _, _, fast = _select(study, max_metric=1.7, prefer="latency")
    assert fast.chosen == 1


def test_prefer_latency_and_energy(paper_study: optuna.Study) -> None:
    assert _select(paper_study, prefer="latency")[2].chosen == 5
    assert _select(paper_study, prefer="energy")[2].chosen == 5
    assert _select(paper_study, prefer="energy", min_metric=0.8)[2].chosen == 4


def test_knee_is_the_front_point_nearest_the_utopia_point_after_scaling(
    paper_study: optuna.Study,
) -> None:
    _, _, selection = _select(paper_study, prefer="knee")
    # Front 3, 2, 4, 5 scaled per objective to [0, 1]: trial 4 (0.83, 0.9 ms, 1.5 mJ) scales to
    # (0.05 / 0.18, 0.4 / 1.5, 0.5 / 2.0), distance 0.459; the extremes are >= 1 away.
    assert selection.chosen == 4
    expected = ((0.05 / 0.18) ** 2 + (0.4 / 1.5) ** 2 + (0.5 / 2.0) ** 2) ** 0.5
    assert selection.scores[4] == pytest.approx(expected)
    assert selection.scores[3] == pytest.approx(2**0.5)


def test_no_trial_meets_names_the_binding_requirement_and_the_closest_trial(
    paper_study: optuna.Study,
) -> None:
    _, _, selection = _select(paper_study, min_metric=0.95, max_latency_ms=1.0)
    assert selection.chosen is None
    binding = selection.binding
    assert binding.requirement == "accuracy >= 0.95"
    assert binding.excluded == {"accuracy >= 0.95": 7, "latency_ms <= 1": 4}
    assert binding.closest_trial == 4
    assert binding.shortfall == {"accuracy >= 0.95": pytest.approx(0.12)}
    assert "Binding: accuracy >= 0.95 excludes 7 of the 7" in selection.explanation


def test_unmeasured_energy_never_meets_an_energy_bound(studies: type) -> None:
    spec = studies.spec
    study = studies.make(
        [spec(width=1.0, sparsity=0.5, metric=0.9, latency_ms=1.0, footprint_bytes=1)]
    )
    _, _, selection = _select(study, max_energy_mj=5.0)
    assert selection.chosen is None
    assert selection.binding.shortfall == {"energy_mj <= 5": None}
    with pytest.raises(PrunefrontError, match="--prefer energy"):
        _select(study, prefer="energy")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefer": "fastest"}, "--prefer must be one of metric, latency, energy, knee"),
        ({"max_latency_ms": -1.0}, "--max-latency-ms must be a positive number"),
        ({"max_bytes": 0}, "--max-bytes must be a positive number"),
        ({"min_metric": 0.9, "max_metric": 0.5}, "--min-metric 0.9 is above --max-metric 0.5"),
    ],
)
def test_bad_requirements_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(PrunefrontError, match=message):
        Requirements(**kwargs)


def test_study_without_complete_trials_is_a_clear_error(studies: type) -> None:
    from optuna.trial import TrialState

    spec = studies.spec(
        width=1.0,
        sparsity=0.5,
        metric=0.0,
        latency_ms=0.0,
        footprint_bytes=1,
        state=TrialState.FAIL,
    )
    with pytest.raises(PrunefrontError, match=r"no complete feasible trial.*1 fail"):
        _select(studies.make([spec]))


def test_card_has_configuration_measurements_with_kinds_and_reproduce_command(
    paper_study: optuna.Study, tmp_path: Path
) -> None:
    from prunefront.reports import write_card

    frame, meta, selection = _select(paper_study)
    card = deployment_card(frame, meta, selection, source="memory")
    assert card["trial"] == 3
    assert card["configuration"]["width"] == 1.0
    assert card["configuration"]["sparsity_target"] == 0.5
    measures = {m["name"]: m for m in card["measurements"]}
    assert measures["accuracy"]["value"] == 0.88
    assert (measures["latency_ms"]["kind"], measures["latency_ms"]["method"]) == (
        "measured",
        "perf_counter",
    )
    assert measures["energy_mj"]["kind"] == "measured"
    assert measures["footprint_bytes"]["value"] == 39_000
    assert card["reproduce"] == (
        "prunefront train --task mnist1d-cnn --width 1 --sparsity 0.5 --pattern unstructured "
        "--seed 0"
    )
    written = write_card(card, tmp_path / "card")
    assert json.loads((tmp_path / "card" / "deployment.json").read_text())["trial"] == 3
    text = (tmp_path / "card" / "deployment.md").read_text()
    assert text == card_markdown(card) and card["reproduce"] in text
    assert "| latency_ms | 2 | ms | measured | perf_counter |" in text
    assert sorted(p.name for p in written) == ["deployment.json", "deployment.md"]


def test_reproduce_command_carries_the_byte_cap_of_a_fitted_trial() -> None:
    import pandas as pd

    from prunefront.reports import reproduce_command
    from prunefront.reports._frame import StudyMeta

    meta = StudyMeta(
        study_name="s",
        objectives=("metric",),
        directions=("maximize",),
        config={"task": {"ref": "tiny"}, "budget": {"format": "relidx4", "dtype": "float16"}},
    )
    row = pd.Series(
        {
            "width": 1.0,
            "sparsity_target": 0.8,
            "pattern": "unstructured",
            "seed": 0,
            "max_bytes": 4914.0,
            "fit_note": "at step 60 the real relidx4 footprint was 5514 B, over the 4914 B cap",
        }
    )
    assert reproduce_command(row, meta) == (
        "prunefront train --task tiny --width 1 --sparsity 0.8 --pattern unstructured --seed 0 "
        "--storage-format relidx4 --dtype float16 --max-bytes 4914"
    )
    assert "--max-bytes" not in reproduce_command(row.drop("fit_note"), meta)
