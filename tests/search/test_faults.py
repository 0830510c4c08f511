"""Faults with real storages: kill -9 and SIGTERM mid-trial, then resume; several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.search import TrialEvent, plan_search, run_search
from prunefront.search import _worker as search_worker
from prunefront.search._storage import open_storage, resolve_storage
from prunefront.search._trials import OWNER_KEY

SLOW_TASK = '''
import time

from prunefront.testing import TinyTask


class Slow(TinyTask):
    """Sleeps after training so that a test can kill the worker in the middle of a trial."""

    def train(self, model, *, on_step, device, seed):
        super().train(model, on_step=on_step, device=device, seed=seed)
        time.sleep(1.5)


TASK = Slow(epochs=2)
'''


SWALLOWING_TASK = '''
import os
import signal
import time

from prunefront.testing import TinyTask


class TurnsTheInterruptIntoAnError(TinyTask):
    """Receives SIGTERM where library code turns the KeyboardInterrupt into another error, as
    Optuna's journal-file lock does when the signal lands while it acquires."""

    def train(self, model, *, on_step, device, seed):
        super().train(model, on_step=on_step, device=device, seed=seed)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except BaseException:
            raise RuntimeError("Error: did not possess lock") from None


TASK = TurnsTheInterruptIntoAnError(epochs=1)
'''


def _storage_for(kind: str, tmp_path: Path, postgres: str | None) -> str | None:
    if kind == "journal":
        return None
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return postgres


def _open_study(config_path: Path) -> optuna.Study:
    config = load_config(config_path)
    spec = resolve_storage(config.search.storage, Path(config.search.run_dir or "."))
    return optuna.load_study(study_name=config.study_name(), storage=open_storage(spec))


def _wait_for_running_trial(config_path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            study = _open_study(config_path)
            running = [
                t
                for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if t.number >= 1 and OWNER_KEY in t.system_attrs
            ]
            if running:
                return running[0].number
        except (KeyError, ValueError):
            pass  # the study is not created yet
        time.sleep(0.2)
    raise AssertionError("no trial started within 120 s")


def _start(config_path: Path, cwd: Path, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.Popen(
        [sys.executable, "-m", "prunefront", "search", str(config_path), *options],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _check_resumed(study: optuna.Study, budget: int, interrupted: int) -> None:
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    assert states[TrialState.COMPLETE] == budget
    assert states[TrialState.RUNNING] == 0
    assert states[TrialState.WAITING] == 0
    dead = trials[interrupted]
    assert dead.state == TrialState.FAIL and dead.user_attrs["fail_reason"]
    retries = [t for t in trials if t.user_attrs.get("retry_of") == interrupted]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    # the retry keeps every parameter the dead trial had drawn (a kill between two suggest
    # calls leaves the rest to the sampler)
    assert dead.params.items() <= retries[0].params.items()
    seeded = Counter(
        (t.user_attrs["seeded"], t.user_attrs["iso_level_bytes"])
        for t in trials
        if t.state == TrialState.COMPLETE and "seeded" in t.user_attrs
    )
    assert seeded and set(seeded.values()) == {1}  # every seeded candidate completed once


@pytest.mark.parametrize(
    "kind", ["journal", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_minus_nine_mid_trial_then_resume_completes_exactly_the_budget(
    kind: str,
    tmp_path: Path,
    write_config: Callable[..., Path],
    request: pytest.FixtureRequest,
    unique_study: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    config_path = write_config(
        task="slow_task:TASK",
        trials=4,
        storage=_storage_for(kind, tmp_path, postgres),
        study=unique_study,
    )
    process = _start(config_path, tmp_path)
    try:
        killed = _wait_for_running_trial(config_path, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert _open_study(config_path).trials[killed].state == TrialState.RUNNING
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    study = run_search(plan_search(load_config(config_path)), say=lambda line: None)
    _check_resumed(study, 4, killed)
    assert "died" in study.trials[killed].user_attrs["fail_reason"]


def test_sigterm_stops_cleanly_says_how_to_resume_and_resume_finishes(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    config_path = write_config(task="slow_task:TASK", trials=4)
    process = _start(config_path, tmp_path)
    stopped = _wait_for_running_trial(config_path, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"Resume with: prunefront search {config_path}" in err.decode()
    assert "Traceback" not in err.decode()
    study = _open_study(config_path)
    assert study.trials[stopped].state == TrialState.FAIL
    assert "interrupted" in study.trials[stopped].user_attrs["fail_reason"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    resumed = run_search(plan_search(load_config(config_path)), say=lambda line: None)
    _check_resumed(resumed, 4, stopped)


def test_a_sigterm_that_library_code_turns_into_an_error_still_stops_the_search(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "swallow_task.py").write_text(SWALLOWING_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    config_path = write_config(task="swallow_task:TASK", trials=3)
    # What they were before (a job started in the background by a shell ignores SIGINT).
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_search(plan_search(load_config(config_path)), say=lambda line: None)
    trials = _open_study(config_path).get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    assert "interrupted" in trials[0].user_attrs["fail_reason"]  # not "RuntimeError: ..."
    assert [t.state for t in trials[1:]] == [TrialState.WAITING] * (len(trials) - 1)
    # the handlers are put back
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers


def test_a_sigterm_turned_into_an_error_between_trials_still_stops_the_search(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    reap = search_worker.reap_dead_trials

    def reap_then_signal(study: optuna.Study) -> list[int]:
        calls.append(1)
        if len(calls) == 2:  # while the next trial is being asked for, under the journal lock
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except BaseException:
                raise RuntimeError("Error: did not possess lock") from None
        return reap(study)

    monkeypatch.setattr(search_worker, "reap_dead_trials", reap_then_signal)
    config_path = write_config(trials=3)
    with pytest.raises(KeyboardInterrupt):  # not the RuntimeError: the CLI says how to resume
        run_search(plan_search(load_config(config_path)), say=lambda line: None)
    states = [t.state for t in _open_study(config_path).get_trials(deepcopy=False)]
    assert states[0] == TrialState.COMPLETE and TrialState.RUNNING not in states


def test_a_signal_between_claiming_a_trial_and_training_it_leaves_nothing_running(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = search_worker.claim
    claimed: list[int] = []

    def claim_then_signal(study: optuna.Study, trial: optuna.Trial) -> None:
        real_claim(study, trial)
        claimed.append(trial.number)
        if len(claimed) == 2:  # the handler raises here: after the claim, before training
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(search_worker, "claim", claim_then_signal)
    config_path = write_config(trials=3)
    with pytest.raises(KeyboardInterrupt):
        run_search(plan_search(load_config(config_path)), say=lambda line: None)
    trials = _open_study(config_path).get_trials(deepcopy=False)
    assert TrialState.RUNNING not in [t.state for t in trials]
    stopped = trials[claimed[1]]
    assert stopped.state == TrialState.FAIL and "interrupted" in stopped.user_attrs["fail_reason"]
    # The same process runs the search again (a notebook cell run twice) and finishes it; the
    # retry is the same enqueued pair side, though no parameter had been drawn yet.
    monkeypatch.setattr(search_worker, "claim", real_claim)
    resumed = run_search(plan_search(load_config(config_path)), say=lambda line: None)
    _check_resumed(resumed, 3, claimed[1])
    retry = next(t for t in resumed.trials if t.user_attrs.get("retry_of") == claimed[1])
    assert retry.params == stopped.system_attrs["fixed_params"]


def test_a_trial_this_process_left_running_is_freed_when_it_searches_again(
    write_config: Callable[..., Path],
) -> None:
    config_path = write_config(trials=2)
    run_search(plan_search(load_config(config_path)), say=lambda line: None)
    study = _open_study(config_path)
    left = study.ask()
    search_worker.claim(study, left)  # owned by this live process, never run
    resumed = run_search(plan_search(load_config(config_path), trials=3), say=lambda line: None)
    states = Counter(t.state for t in resumed.get_trials(deepcopy=False))
    assert states[TrialState.RUNNING] == 0 and states[TrialState.COMPLETE] == 3
    assert "interrupted" in resumed.trials[left.number].user_attrs["fail_reason"]


def test_a_second_signal_while_the_first_is_handled_is_ignored() -> None:
    previous = search_worker.install_stop_handlers()
    try:
        with pytest.raises(KeyboardInterrupt):
            search_worker.stop_on_signal(signal.SIGTERM, None)
        # the bookkeeping that re-queues the interrupted trial is not cut short
        assert search_worker.stop_on_signal(signal.SIGINT, None) is None
    finally:
        search_worker.restore_handlers(previous)


def test_sigterm_to_the_parent_of_two_workers_stops_both_and_resume_finishes(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    config_path = write_config(task="slow_task:TASK", trials=6)
    process = _start(config_path, tmp_path, "--workers", "2")
    deadline = time.time() + 120
    while time.time() < deadline:  # both workers in a trial
        assert process.poll() is None
        with contextlib.suppress(KeyError, ValueError):
            study = _open_study(config_path)
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if len({t.system_attrs.get(OWNER_KEY, {}).get("pid") for t in running} - {None}) == 2:
                break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # the parent alone, as `kill PID` or a scheduler does
    _, err = process.communicate(timeout=90)
    assert process.returncode == 130, err.decode()
    assert "Resume with" in err.decode() and "Traceback" not in err.decode()
    trials = _open_study(config_path).get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    interrupted = [t for t in trials if "interrupted" in t.user_attrs.get("fail_reason", "")]
    assert len(interrupted) == 2  # the helper's trial as well as the parent's
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    resumed = run_search(plan_search(load_config(config_path)), say=lambda line: None)
    states = Counter(t.state for t in resumed.get_trials(deepcopy=False))
    assert states[TrialState.COMPLETE] == 6 and states[TrialState.RUNNING] == 0


@pytest.mark.parametrize(
    ("kind", "workers"),
    [("journal", 2), ("journal", 3), pytest.param("postgres", 2, marks=pytest.mark.postgres)],
)
def test_workers_started_together_respect_the_budget(
    kind: str,
    workers: int,
    tmp_path: Path,
    write_config: Callable[..., Path],
    request: pytest.FixtureRequest,
    unique_study: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    # Trials of 1.5 s: the spawned workers start (imports, task) while worker 0 runs the first.
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    config_path = write_config(
        task="slow_task:TASK",
        trials=7,
        storage=_storage_for(kind, tmp_path, postgres),
        study=unique_study,
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    events: list[TrialEvent] = []
    study = run_search(
        plan_search(load_config(config_path), workers=workers),
        say=lambda _: None,
        on_event=lambda event, _: events.append(event),
    )
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 7
    assert all(t.state == TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["pid"] for t in trials}
    print({pid: [t.number for t in trials if t.user_attrs["pid"] == pid] for pid in pids})
    assert len(pids) >= 2  # the work was really shared
    # the watcher reported every trial once, whichever worker ran it
    assert sorted(e.number for e in events) == list(range(7))
    assert all(e.state == "COMPLETE" and e.values for e in events)


def test_two_workers_on_the_grid_train_every_point_once(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grid maps trial numbers to points through one shuffle, the same in every worker."""
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    # Run seed 1: the per-worker seeds of 1 shuffle this grid differently (those of 0 do not).
    path = write_config(task="slow_task:TASK", trials=6, widths="[0.5, 1.0]", extra="seed = 1")
    text = path.read_text().replace("iso_levels = 2", "iso_levels = 0")
    path.write_text(text.replace('sampler = "random"', 'sampler = "grid"\ngrid_sparsities = 3'))
    study = run_search(plan_search(load_config(path), workers=2), say=lambda _: None)
    trained = [t for t in study.trials if "duplicate_of" not in t.user_attrs]
    assert len({t.user_attrs["pid"] for t in trained}) == 2  # both workers took grid points
    points = sorted((t.params["width_index"], t.params["sparsity_u"]) for t in trained)
    assert points == [(w, u) for w in (0, 1) for u in (0.0, 0.5, 1.0)]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
