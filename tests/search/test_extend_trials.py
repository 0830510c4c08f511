"""``prunefront search --trials N`` and ``run(trials=N)`` extend a study; the TOML stays as is."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from optuna.trial import TrialState

import prunefront.search
from prunefront.errors import PrunefrontError
from prunefront.studies import open_study
from prunefront.testing import run_cli


def _search(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run_cli(["search", *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_trials_option_resumes_a_finished_study_for_exactly_the_extra_trials(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(trials=2)
    first = _search([str(path)], capsys)
    assert first["budget_used"] == 2 and first["counts"] == {"COMPLETE": 2}
    study = open_study("t", run=path.parent / "run")
    before = [(t.number, t.params) for t in study.trials]

    extended = _search([str(path), "--trials", "3"], capsys)
    assert extended["budget_used"] == 3 and extended["budget"] == 3
    study = open_study("t", run=path.parent / "run")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert [(t.number, t.params) for t in study.trials[:2]] == before  # nothing ran again

    again = _search([str(path), "--trials", "3"], capsys)  # the budget is used: nothing runs
    assert again["budget_used"] == 3 and len(open_study("t", run=path.parent / "run").trials) == 3
    assert "trials = 2" in path.read_text()  # the TOML is left as it was


def test_run_takes_a_trial_budget_that_extends_the_study(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(trials=2)
    assert len(prunefront.search.run(path).study.trials) == 2
    result = prunefront.search.run(path, trials=3)
    assert [t.state for t in result.study.trials] == [TrialState.COMPLETE] * 3
    assert result.plan.config.search.trials == 3


@pytest.mark.parametrize("value", ["0", "-2", "many", "2.5"])
def test_a_bad_trials_value_is_one_line_exit_two_and_writes_nothing(
    value: str, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(trials=2)
    code, out, err = run_cli(["search", str(path), f"--trials={value}"], capsys)
    assert code == 2 and out == ""
    shown = repr(value) if not value.lstrip("-").isdigit() else value
    assert err.strip().splitlines() == [f"error: --trials must be a positive integer, got {shown}"]
    assert not (path.parent / "run").exists()


def test_run_refuses_a_trial_budget_that_is_not_a_positive_integer(
    write_config: Callable[..., Path],
) -> None:
    with pytest.raises(PrunefrontError, match=r"--trials must be a positive integer, got 0"):
        prunefront.search.run(write_config(trials=2), trials=0)
