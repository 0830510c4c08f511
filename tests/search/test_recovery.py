"""Recovery across machines and processes: dead hosts, killed helpers, torn journals, races."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.search import _storage as search_storage
from prunefront.search import plan_search, run_search
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

AS_OTHER_HOST = """
import socket
import sys

socket.gethostname = lambda: {host!r}  # the name every prunefront module reads
from prunefront.cli import main

main(sys.argv[1:])
"""


def _open_study(config_path: Path) -> optuna.Study:
    """The study through the storage object the search itself opens (``_CachedStorage``)."""
    config = load_config(config_path)
    spec = resolve_storage(config.search.storage, Path(config.search.run_dir or "."))
    return optuna.load_study(study_name=config.study_name(), storage=open_storage(spec))


def _start(
    config_path: Path, cwd: Path, *options: str, host: str | None = None
) -> subprocess.Popen[bytes]:
    """``prunefront search`` in a new process, as if on machine ``host`` when given."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), *sys.path])}
    launcher = ["-c", AS_OTHER_HOST.format(host=host)] if host else ["-m", "prunefront"]
    return subprocess.Popen(
        [sys.executable, *launcher, "search", str(config_path), *options],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(
    config_path: Path,
    process: subprocess.Popen[bytes],
    found: Callable[[list[optuna.trial.FrozenTrial]], optuna.trial.FrozenTrial | None],
) -> optuna.trial.FrozenTrial:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            running = _open_study(config_path).get_trials(states=(TrialState.RUNNING,))
        except (KeyError, ValueError):
            running = []  # the study is not created yet
        trial = found(running)
        if trial is not None:
            return trial
        time.sleep(0.2)
    raise AssertionError("no such trial started within 120 s")


def _owned_by(host: str | None = None, pid: int | None = None, not_pid: int | None = None):
    def find(running: list[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial | None:
        for trial in running:
            owner = trial.system_attrs.get(OWNER_KEY)
            if owner is None:
                continue
            if host is not None and owner["host"] != host:
                continue
            if pid is not None and owner["pid"] != pid:
                continue
            if not_pid is not None and owner["pid"] == not_pid:
                continue
            return trial
        return None

    return find


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _assert_recovered(study: optuna.Study, budget: int, dead: int, reason: str) -> None:
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    assert states[TrialState.RUNNING] == 0, states
    assert states[TrialState.COMPLETE] == budget, states
    assert trials[dead].state == TrialState.FAIL
    assert reason in trials[dead].user_attrs["fail_reason"]
    retries = [t for t in trials if t.user_attrs.get("retry_of") == dead]
    assert [t.state for t in retries] == [TrialState.COMPLETE]


@pytest.mark.slow
@pytest.mark.postgres
def test_a_dead_machines_trial_is_reaped_by_heartbeat_through_the_searchs_own_storage(
    tmp_path: Path,
    write_config: Callable[..., Path],
    postgres_url: str,
    unique_study: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    config_path = write_config(
        task="slow_task:TASK", trials=4, storage=postgres_url, study=unique_study
    )
    other = _start(config_path, tmp_path, host="other-node")
    try:
        dead = _wait_for(config_path, other, _owned_by(host="other-node"))
    finally:
        _kill(other)  # the machine is gone: no process, no more heartbeats
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # This machine's worker judges heartbeats older than 3 s stale (60 s in real searches).
    monkeypatch.setattr(search_storage, "GRACE_PERIOD_S", 3)
    study = run_search(plan_search(load_config(config_path)), say=lambda line: None)
    assert type(study._storage).__name__ == "_CachedStorage"  # the wrapper the bug hid behind
    _assert_recovered(study, 4, dead.number, "heartbeats")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_killed_workers_helper_is_reaped_not_left_running_as_a_zombie(
    kind: str,
    tmp_path: Path,
    write_config: Callable[..., Path],
    request: pytest.FixtureRequest,
    unique_study: str,
) -> None:
    storage = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    config_path = write_config(task="slow_task:TASK", trials=6, storage=storage, study=unique_study)
    parent = _start(config_path, tmp_path, "--workers", "2")
    try:
        dead = _wait_for(config_path, parent, _owned_by(not_pid=parent.pid))
        os.kill(dead.system_attrs[OWNER_KEY]["pid"], signal.SIGKILL)  # the helper, mid-trial
        _, err = parent.communicate(timeout=240)
    finally:
        if parent.poll() is None:
            _kill(parent)
    assert parent.returncode == 0, err.decode()
    assert "exited with code -9" in err.decode()
    _assert_recovered(_open_study(config_path), 6, dead.number, "died")


def _search(config_path: Path) -> optuna.Study:
    return run_search(plan_search(load_config(config_path)), say=lambda line: None)


@pytest.mark.slow
def test_a_torn_last_journal_line_is_moved_aside_and_the_study_resumes_again_and_again(
    tmp_path: Path,
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _search(write_config(trials=3))
    journal = tmp_path / "run" / "study.journal"
    data = journal.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    torn = data[last : last + (len(data) - last) // 2]  # a power cut half-way through a record
    journal.write_bytes(data[:last] + torn)
    for trials in (4, 5):  # the first resume appends, the second reads what the first wrote
        study = _search(write_config(trials=trials))
    states = Counter(t.state for t in study.get_trials(deepcopy=False))
    assert states[TrialState.COMPLETE] == 5 and states[TrialState.RUNNING] == 0
    sides = list(journal.parent.glob("study.journal.torn-*"))
    assert len(sides) == 1 and sides[0].read_bytes() == torn  # the torn bytes are kept
    assert f"moved its {len(torn)} bytes to {sides[0]}" in capsys.readouterr().err
    from prunefront.cli import main

    with pytest.raises(SystemExit) as info:  # readers too
        main(["status", "--run", str(journal.parent)])
    assert info.value.code == 0
    assert "COMPLETE" in capsys.readouterr().out


def test_readers_skip_the_torn_bytes_an_older_version_appended_onto(
    tmp_path: Path,
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _search(write_config(trials=2))
    journal = tmp_path / "run" / "study.journal"
    from prunefront.studies import open_study

    before = [(t.state, t.values) for t in open_study(None, run=journal.parent).trials]
    lines = journal.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    torn = lines[middle - 1][: len(lines[middle - 1]) // 2]  # a record cut, then appended onto
    journal.write_bytes(b"".join([*lines[:middle], torn, *lines[middle:]]))
    after = [(t.state, t.values) for t in open_study(None, run=journal.parent).trials]
    assert after == before
    from prunefront.cli import main

    with pytest.raises(SystemExit) as info:
        main(["status", "--run", str(journal.parent)])
    assert info.value.code == 0
    assert "COMPLETE" in capsys.readouterr().out


_OPEN_AT = """
import sys, time
from pathlib import Path
from prunefront.search._storage import open_storage, resolve_storage
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    open_storage(resolve_storage(sys.argv[1], Path(".")))
except Exception as error:
    print(f"{type(error).__name__}: {error}")
"""
"""Open the search's storage at a wall-clock time; print the error, if any (a fresh process,
as each machine of a Slurm array is)."""


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards): no Optuna tables yet."""
    import psycopg

    name = f"pf_fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_opening_a_fresh_database_at_once_all_open_it(fresh_database: str) -> None:
    start_at = time.time() + 6.0  # after every process has imported prunefront
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, fresh_database, str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert errors == [""] * 4


def test_processes_opening_one_study_together_draw_different_candidates(
    write_config: Callable[..., Path],
) -> None:
    from prunefront.search._runner import _open

    path = write_config(trials=6)
    path.write_text(path.read_text().replace("iso_levels = 2", "iso_levels = 0"))
    plan = plan_search(load_config(path))
    plan.run_dir.mkdir(parents=True)
    # Two machines (or a Slurm array) starting at once: each is worker 0 and sees 0 trials.
    first, _, _ = _open(plan, worker=0)
    second, _, _ = _open(plan, worker=0)
    drawn = [study.ask().suggest_float("sparsity_u", 0.0, 1.0) for study in (first, second)]
    assert drawn[0] != drawn[1]


def test_a_trial_whose_candidate_another_worker_is_training_waits_and_takes_its_results(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunefront.search import _objective
    from prunefront.search._runner import _open
    from prunefront.search._trials import OWNER_KEY

    monkeypatch.setattr(_objective, "TWIN_POLL_S", 0.2, raising=False)
    paths = [write_config(f"{name}.toml", trials=n, study=name) for name, n in (("t", 1), ("m", 2))]
    for path in paths:  # no seeded pairs: the same byte cap in both studies
        path.write_text(path.read_text().replace("iso_levels = 2", "iso_levels = 0"))
    template = _search(paths[0]).trials[0]
    path = paths[1]
    study, _, _ = _open(plan_search(load_config(path)), worker=0)
    # Another worker drew the same candidate a moment earlier and is training it now ...
    study.enqueue_trial(template.params)
    twin = study.ask()
    other = {"host": "another-machine", "pid": 4242, "start": 0.0}  # not this process
    study._storage.set_trial_system_attr(twin._trial_id, OWNER_KEY, other)  # type: ignore[arg-type]
    for key, value in template.user_attrs.items():
        twin.set_user_attr(key, value)
    study.enqueue_trial(template.params)  # ... and this worker draws it too

    def finish_twin() -> None:
        deadline = time.time() + 60
        while time.time() < deadline:  # until this worker has drawn the candidate
            trials = study.get_trials(deepcopy=False)
            if len(trials) > 1 and "max_bytes" in trials[1].user_attrs:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        study.tell(twin, template.values)

    finisher = threading.Thread(target=finish_twin)
    finisher.start()
    try:
        result = _search(path)
    finally:
        finisher.join()
    copy = result.trials[1]
    assert copy.user_attrs.get("waited_for_twin") == twin.number
    assert copy.user_attrs.get("duplicate_of") == twin.number  # not trained a second time
    assert copy.values == template.values


@pytest.mark.postgres
def test_the_study_stores_its_configuration_with_the_storage_password_masked(
    write_config: Callable[..., Path], postgres_url: str, unique_study: str
) -> None:
    from prunefront.search._runner import _open
    from prunefront.studies import STUDY_CONFIG

    # The local server trusts 127.0.0.1, so any password connects; it must still not be stored.
    url = postgres_url.replace("postgres@", "postgres:s3cret-pw@")
    plan = plan_search(load_config(write_config(storage=url, study=unique_study)))
    plan.run_dir.mkdir(parents=True)
    study, _, _ = _open(plan, worker=0)
    stored = study.user_attrs[STUDY_CONFIG]
    assert "s3cret-pw" not in repr(study.user_attrs)
    assert stored["search"]["storage"] == url.replace("s3cret-pw", "***")
    again, _, created = _open(plan, worker=0)  # and the study still resumes
    assert not created and again.study_name == unique_study


REFUSED = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1


def test_an_unreachable_storage_says_why_in_one_line_and_writes_no_run_folder(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prunefront.cli import main

    with pytest.raises(SystemExit) as info:
        main(["search", str(write_config(storage=REFUSED))])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert "Connection refused" in err[0]
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as info:
        main(["status", "--storage", REFUSED])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert "Connection refused" in err[0] and "exceeding max length" not in err[0]


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgresql_search_closes_with_a_report_command_that_works(
    write_config: Callable[..., Path],
    postgres_url: str,
    unique_study: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from prunefront.cli import main

    path = write_config(trials=1, storage=postgres_url, study=unique_study)
    path.write_text(path.read_text().replace("iso_levels = 2", "iso_levels = 0"))
    with pytest.raises(SystemExit):
        main(["search", str(path)])
    closing = capsys.readouterr().err.strip().splitlines()[-1]
    command = closing.split("Report: prunefront ", 1)[1].split()
    assert command[:3] == ["report", "--storage", postgres_url]
    with pytest.raises(SystemExit) as info:
        main(command)
    assert info.value.code == 0
    assert (tmp_path / "run" / "report" / "report.html").is_file()


def test_the_progress_line_counts_failures_as_the_closing_summary_does() -> None:
    from optuna.distributions import FloatDistribution

    from prunefront.search import study_status
    from prunefront.search._progress import progress

    study = optuna.create_study(directions=["maximize", "minimize"])
    u = {"sparsity_u": FloatDistribution(0.0, 1.0)}
    for number, attrs in enumerate([{}, {"retry_of": 0}, {"retry_of": 1}, {}]):
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.FAIL,
                params={"sparsity_u": 0.1 * number},
                distributions=u,
                user_attrs={"fail_reason": "worker died", **attrs},
            )
        )
    now = progress(study, budget=5, started=time.time(), done_at_start=0)
    assert now.failed == study_status(study).counts["FAIL"] == 4
    assert "(4 failed," in now.line()
