"""``prunefront train`` shows its progress on stderr and keeps ``--json`` on stdout clean."""

from __future__ import annotations

import io
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from prunefront.candidate import Candidate, TrainTick, train_candidate
from prunefront.commands._train_progress import INTERVAL_ENV, LineProgress, train_progress
from prunefront.testing import TinyTask, run_cli

LINE = re.compile(
    r"^step (\d+)/(\d+) \((\d+)%\), sparsity ([0-9.]+)(, loss ([0-9.e-]+))?, "
    r"(ETA (\d+m\d\ds|\?)|done in \d+m\d\ds)$"
)

PLAIN_TASK = """
from prunefront.testing import TinyTask


class PlainTrain(TinyTask):
    def train(self, model, *, on_step, device, seed):
        super().train(model, on_step=on_step, device=device, seed=seed)


TASK = PlainTrain(epochs=2)
"""


def _train_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict, list[str]]:
    code, out, err = run_cli(["train", *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out), err.strip().splitlines()


def test_train_prints_step_sparsity_loss_and_eta_on_stderr_and_json_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")  # a line every step
    doc, lines = _train_json(["--task", "tiny", "--sparsity", "0.75"], capsys)
    total = TinyTask().total_steps()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    steps = [int(m.group(1)) for m in matches if m]
    assert steps == list(range(1, total + 1))
    assert {int(m.group(2)) for m in matches if m} == {total}
    sparsities = [float(m.group(4)) for m in matches if m]
    assert sparsities[0] == 0.0 and sparsities == sorted(sparsities)
    assert sparsities[-1] == pytest.approx(doc["sparsity_target"], abs=1e-3)
    assert all(m.group(6) is not None and float(m.group(6)) > 0 for m in matches if m)
    assert any("ETA " in line for line in lines[1:-1]) and "done in" in lines[-1]
    assert doc["sparsity_actual"] == pytest.approx(0.75, abs=1e-3)


def test_train_lines_come_every_interval_not_every_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "3600")
    doc, lines = _train_json(["--task", "tiny"], capsys)
    total = TinyTask().total_steps()
    assert lines == [lines[-1]] and lines[-1].startswith(f"step {total}/{total} (100%)")
    assert doc["sparsity_target"] == 0.0


@pytest.fixture
def plain_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"plaintask_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PLAIN_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield f"{name}:TASK"
    sys.modules.pop(name, None)


def test_a_user_task_without_on_loss_shows_progress_without_a_loss(
    plain_task: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")
    _, lines = _train_json(["--task", plain_task, "--sparsity", "0.5"], capsys)
    assert len(lines) == 2 * 8  # epochs=2 of 8 batches
    assert all(LINE.match(line) for line in lines) and not any("loss" in x for x in lines)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_progress_interval_is_one_line_and_exit_two(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, value)
    code, out, err = run_cli(["train", "--task", "tiny"], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"error: {INTERVAL_ENV}={value!r}: must be a number of seconds >= 0"
    ]


def test_eta_extrapolates_the_pace_since_the_first_step_seen() -> None:
    lines: list[str] = []
    now = [100.0]
    show = LineProgress(lines.append, interval_s=5.0, clock=lambda: now[0])
    for step in range(40, 60):  # a warm-started run: the first tick is step 40, one step a second
        now[0] = 100.0 + (step - 40)
        show(TrainTick(step, 100, 0.25, 2.0 if step % 2 else 1.0))
    # lines 5, 10 and 15 s after the first tick; each loss is the mean since the line before
    assert lines == [
        "step 46/100 (46%), sparsity 0.250, loss 1.5, ETA 0m54s",
        "step 51/100 (51%), sparsity 0.250, loss 1.4, ETA 0m49s",
        "step 56/100 (56%), sparsity 0.250, loss 1.6, ETA 0m44s",
    ]


def test_on_a_terminal_a_bar_shows_the_steps_sparsity_and_loss() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    task = TinyTask(epochs=2)
    with train_progress(terminal) as on_progress:
        train_candidate(task, Candidate(width=1.0, sparsity=0.5), on_progress=on_progress)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()).replace("\r", "\n")
    total = task.total_steps()
    last = [line for line in plain.splitlines() if line.strip()][-1]
    assert f"{total}/{total}" in last and "sparsity 0.500" in last and "loss " in last
