"""``prunefront reprofile``: train once, measure the saved trials on other targets, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from prunefront.cli import main
from prunefront.config import RunConfig
from prunefront.reports import build_report
from prunefront.reports._html import render_html
from prunefront.search import plan_search, run_search
from prunefront.studies import open_study, target_profiles

CONFIG = {
    "task": {"ref": "tiny", "options": {"epochs": 2}},
    "space": {"widths": [0.25, 0.5, 1.0], "sparsity_max": 0.95, "iso_levels": 1},
    "budget": {"bytes": 6000},
    "target": {"latency_min_time_s": 0.02, "latency_max_time_s": 0.2},
    "search": {"trials": 4, "study_name": "rp", "sampler": "random"},
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reprofile") / "run"
    data = {**CONFIG, "search": {**CONFIG["search"], "run_dir": str(folder)}}
    run_search(plan_search(RunConfig.from_dict(data)), say=lambda _: None)
    return folder


@pytest.fixture
def run_dir(finished: Path, tmp_path: Path) -> Path:
    """A private copy of the finished run, so that each test starts from no target."""
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def _attrs(run_dir: Path) -> dict[str, object]:
    return dict(open_study("rp", run=run_dir).user_attrs)


def _complete(run_dir: Path) -> list[int]:
    trials = open_study("rp", run=run_dir).get_trials(deepcopy=False)
    return [
        t.number
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE and "duplicate_of" not in t.user_attrs
    ]


TARGET = ["--target", "cpu", "--threads", "2", "--batch-size", "4", "--name", "cpu2x4"]


def test_reprofile_stores_each_trial_on_the_target_and_a_rerun_skips_them(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        ["reprofile", "--run", str(run_dir), *TARGET, "--trials", "all", "--json"], capsys
    )
    assert code == 0, err
    first = json.loads(out)
    assert sorted(first["profiled"]) == _complete(run_dir) and first["skipped"] == []
    assert first["target"]["settings"]["threads"] == 2
    assert first["target"]["settings"]["batch_size"] == 4
    stored = target_profiles(_attrs(run_dir), "cpu2x4")
    assert sorted(stored) == _complete(run_dir)
    for record in stored.values():
        assert record.latency_kind == "measured" and record.latency_method
        assert record.latency_ms is not None and record.latency_ms > 0
        assert any(m["name"] == "latency_ms" for m in record.measurements)
    before = _attrs(run_dir)
    code, out, err = cli(
        ["reprofile", "--run", str(run_dir), *TARGET, "--trials", "all", "--json"], capsys
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["profiled"] == [] and sorted(again["skipped"]) == _complete(run_dir)
    assert _attrs(run_dir) == before  # nothing measured twice


def test_report_and_select_use_the_named_targets_numbers(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["reprofile", "--run", str(run_dir), *TARGET, "--trials", "all"], capsys)
    assert code == 0, err
    stored = target_profiles(_attrs(run_dir), "cpu2x4")
    data = build_report(open_study("rp", run=run_dir), target="cpu2x4")
    page = render_html(data, (), [])
    assert "One front per target" in page and "cpu2x4 (cpu, threads 2, batch 4)" in page
    summary = data.to_dict()
    assert summary["target"] == "cpu2x4"
    assert summary["study"]["device"]["settings"]["batch_size"] == 4
    fronts = {t["name"]: t for t in summary["targets"]["targets"]}
    assert set(fronts) == {"search", "cpu2x4"}
    fastest = min(stored, key=lambda n: (stored[n].latency_ms, n))
    assert fronts["cpu2x4"]["fastest"] == fastest
    assert fastest in summary["pareto"]["front"]  # the fastest is always on the target's front
    for row in summary["targets"]["rows"]:  # every configuration on a front, on each target
        assert row["latency_ms"]["cpu2x4"] == stored[row["trial"]].latency_ms
    code, out, err = cli(
        ["select", "--run", str(run_dir), "--target", "cpu2x4", "--prefer", "latency", "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["chosen"] == fastest


def _stored_count(run_dir: Path) -> int:
    return len(_attrs(run_dir))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--target", "cpu", "--threads", "1", "--name", "cpu2x4"], "was measured with"),
        (
            [
                "--target",
                "cpu",
                "--threads",
                "2",
                "--batch-size",
                "4",
                "--name",
                "x",
                "--trials",
                "99",
            ],
            "trial 99 is not in study",
        ),
        (["--target", "cpu", "--name", "search"], "the search's own target"),
        (["--target", "tpu", "--name", "x"], "target.device"),
        (["--target", "cpu", "--name", "x", "--trials", "three"], "--trials"),
    ],
)
def test_bad_reprofile_input_is_one_line_exit_two_and_stores_nothing(
    args: list[str], needle: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["reprofile", "--run", str(run_dir), *TARGET, "--trials", "0-1"], capsys)
    assert code == 0, err
    before = _attrs(run_dir)
    code, out, err = cli(["reprofile", "--run", str(run_dir), *args], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert _attrs(run_dir) == before


def test_a_study_without_saved_weights_is_refused_and_nothing_is_stored(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(run_dir / "artifacts")
    before = _attrs(run_dir)
    code, out, err = cli(["reprofile", "--run", str(run_dir), *TARGET, "--trials", "all"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no saved weights" in err
    assert _attrs(run_dir) == before


def test_report_of_an_unknown_target_names_the_ones_there(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        ["report", "--run", str(run_dir), "--out", str(tmp_path / "r"), "--target", "nope"],
        capsys,
    )
    assert code == 2 and out == "" and "'nope'" in err and "search" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_reprofile_killed_with_sigkill_finishes_when_run_again(run_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "prunefront",
        "reprofile",
        "--run",
        str(run_dir),
        *TARGET,
        "--trials",
        "all",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
    )
    assert child.stderr is not None
    for line in child.stderr:  # kill it right after the first trial is stored
        if line.startswith("[1/"):
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = target_profiles(_attrs(run_dir), "cpu2x4")
    assert 1 <= len(done) < len(_complete(run_dir))
    time.sleep(0.1)
    finished = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(finished.stdout)
    assert sorted(result["skipped"]) == sorted(done)
    assert sorted(result["profiled"] + result["skipped"]) == _complete(run_dir)
