"""The front that status and the progress line show: the report's, with re-measured latencies."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from prunefront.search import study_status
from prunefront.studies import STUDY_FINAL_LATENCY, STUDY_OBJECTIVES, TrialKey


def _study(final: dict[str, dict[str, float]] | None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.set_user_attr(STUDY_OBJECTIVES, ["metric", "latency_ms"])
    # (bits per char, latency during the search): trial 1 is slower than trial 0 at search time
    for metric, latency in ((3.50, 1.0), (3.40, 1.2), (3.45, 1.3)):
        study.add_trial(
            create_trial(
                values=[metric, latency],
                params={"x": 0.5},
                distributions={"x": FloatDistribution(0, 1)},
                user_attrs={TrialKey.WIDTH: 1.0, TrialKey.PATTERN: "unstructured"},
            )
        )
    if final is not None:
        study.set_user_attr(STUDY_FINAL_LATENCY, {"trials": final})
    return study


def test_without_a_final_measurement_the_front_is_optunas() -> None:
    front = study_status(_study(None)).front
    assert [row["number"] for row in front] == [0, 1]


def test_status_shows_the_front_the_report_shows_with_re_measured_latencies() -> None:
    # Re-measured side by side, trial 2 is the fastest of all: it joins the front, and trial 0,
    # now slower and worse than it, leaves (the report's front is computed the same way).
    final = {"0": {"latency_ms": 1.1}, "1": {"latency_ms": 1.2}, "2": {"latency_ms": 0.9}}
    front = study_status(_study(final)).front
    assert [row["number"] for row in front] == [1, 2]
    assert front[1]["values"] == {"metric": 3.45, "latency_ms": 0.9}
