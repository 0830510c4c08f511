"""A task that is not usable: one line naming it, exit 2, nothing written."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prunefront.testing import run_cli

MODULE = """
from torch import nn
from prunefront.testing import TinyTask

not_a_task = 42

class NoModule(TinyTask):
    def build(self, width):
        return None

class NothingPrunable(TinyTask):
    def build(self, width):
        return nn.Sequential(nn.LayerNorm(4), nn.ReLU())

no_module = NoModule()
nothing = NothingPrunable()
"""

CASES = [
    ("not_a_task", "is a int, not a Task: missing name"),
    ("no_module", "task 'tiny': build(1) returned NoneType, not an nn.Module"),
    ("nothing", "task 'tiny': the model at width 1 (Sequential) has no prunable weight"),
]


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"badtasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, _, err = run_cli(args, capsys)
    return code, err


@pytest.mark.parametrize(("attr", "says"), CASES)
@pytest.mark.parametrize("command", ["train", "footprint", "profile"])
def test_a_bad_task_is_one_line_and_exit_2(
    module: str, attr: str, says: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, "--task", f"{module}:{attr}", "--width", "1.0", "--sparsity", "0.5"]
    code, err = _run(args, capsys)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("attr", "says"), CASES)
def test_a_search_of_a_bad_task_writes_nothing(
    module: str, attr: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "search.toml"
    run_dir = tmp_path / "run"
    config.write_text(
        f'[task]\nref = "{module}:{attr}"\n[space]\nwidths = [0.5, 1.0]\n'
        f'[budget]\nbytes = 4000\n[search]\ntrials = 2\nrun_dir = "{run_dir}"\n'
    )
    code, err = _run(["search", str(config)], capsys)
    assert code == 2
    assert says.replace("width 1 ", "width 0.5 ").replace("build(1)", "build(0.5)") in err
    assert len(err.strip().splitlines()) == 1, err
    assert not run_dir.exists()
