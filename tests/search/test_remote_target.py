"""A search whose target is a real agent on loopback; a dead agent fails trials, not the run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.search import Progress, TrialEvent, plan_search, run_search
from prunefront.testing import start_agent


def _remote_config(
    write_config: Callable[..., Path], port: int, token_file: Path, trials: int
) -> Path:
    extra = f"""
[target]
device = "remote://127.0.0.1:{port}"
token_file = "{token_file}"
latency_min_time_s = 0.02
latency_max_time_s = 0.3
energy = "off"
"""
    path = write_config(trials=trials, extra="")
    text = path.read_text().replace(
        "[target]\nlatency_min_time_s = 0.02\nlatency_max_time_s = 0.3\n", extra
    )
    path.write_text(text)
    return path


def test_search_profiles_every_candidate_on_the_remote_agent(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    agent = start_agent(tmp_path / "agent")
    try:
        config = _remote_config(write_config, agent.port, agent.token_file, trials=3)
        assert load_config(config).target.device.startswith("remote://")
        study = run_search(plan_search(load_config(config)), say=lambda _: None)
    finally:
        agent.kill()
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    for trial in study.trials:
        assert trial.user_attrs["latency_kind"] == "measured"
        assert trial.user_attrs["latency_strategy"] == "onnxruntime"
        assert trial.user_attrs["latency_ms"] > 0


def test_killing_the_agent_mid_search_fails_trials_with_a_reason_and_the_search_goes_on(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    agent = start_agent(tmp_path / "agent")
    config = _remote_config(write_config, agent.port, agent.token_file, trials=4)

    def kill_after_first(event: TrialEvent, progress: Progress) -> None:
        if event.state == "COMPLETE":
            agent.kill()

    try:
        study = run_search(
            plan_search(load_config(config)), say=lambda _: None, on_event=kill_after_first
        )
    finally:
        agent.kill()
    states = [t.state for t in study.trials]
    assert len(states) == 4
    assert states[0] == TrialState.COMPLETE
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 3
    for trial in failed:
        reason = trial.user_attrs["fail_reason"]
        assert "127.0.0.1" in reason and "Traceback" not in reason


def test_a_missing_token_file_or_a_silent_agent_is_one_line_before_any_trial(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prunefront.cli import main

    agent = start_agent(tmp_path / "agent")
    try:
        missing = _remote_config(write_config, agent.port, tmp_path / "no-such-token", trials=3)
        with pytest.raises(SystemExit) as info:
            main(["search", str(missing)])
        err = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and len(err) == 1
        assert "target.token_file" in err[0] and "no-such-token" in err[0]
        assert "fix the task" not in err[0]
        assert not (tmp_path / "run").exists()  # no trial was spent on it
    finally:
        agent.kill()
    silent = _remote_config(write_config, agent.port, agent.token_file, trials=3)
    with pytest.raises(SystemExit) as info:
        main(["search", str(silent)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert "the agent does not answer" in err[0]
    assert not (tmp_path / "run").exists()
