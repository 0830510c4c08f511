"""The Python API: ``prunefront.search.run`` with a Task object, and the README's example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from torch import nn

import prunefront
import prunefront.search
from prunefront.errors import PrunefrontError
from prunefront.testing import TinyTask

README = Path(__file__).resolve().parents[2] / "README.md"
FAST = {"latency_min_time_s": 0.02, "latency_max_time_s": 0.3}


def _readme_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its notebook example"
    return match.group(1)


@pytest.mark.slow  # a 4-trial search and one more training: ~15 s on 2 idle cores
def test_the_readme_notebook_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "notebook"}
    exec(compile(_readme_example(), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, prunefront.search.SearchResult)
    assert len(result.study.trials) >= 4  # the budget, or the seeded pairs if more
    assert result.report.pareto.front  # at least one trial on the front
    assert result.study.study_name == "notebook"
    assert (tmp_path / "runs" / "notebook" / "study.journal").is_file()
    out = capsys.readouterr().out
    assert "front:" in out and "accuracy" in out


def _config(tmp_path: Path, **search: object) -> dict[str, object]:
    return {
        "space": {"widths": [0.25, 1.0], "sparsity_max": 0.95, "iso_levels": 1},
        "budget": {"bytes": 6000},
        "target": FAST,
        "search": {"trials": 2, "run_dir": str(tmp_path / "run"), **search},
    }


def test_a_task_object_needs_no_reference_and_names_the_study(tmp_path: Path) -> None:
    result = prunefront.search.run(_config(tmp_path), task=TinyTask(epochs=1))
    assert result.study.study_name == "prunefront-prunefront-testing-TinyTask"
    assert {t.user_attrs.get("task") for t in result.study.trials} <= {"tiny", None}
    assert result.plan.task is not None
    assert len(result.study.trials) == max(2, result.plan.pair_trials)


def test_a_task_object_cannot_go_to_worker_processes(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match="runs in this process only"):
        prunefront.search.run(_config(tmp_path), task=TinyTask(), workers=2)
    assert not (tmp_path / "run").exists()


class _NoModule(TinyTask):
    def build(self, width: float) -> nn.Module:
        return None  # type: ignore[return-value]


class _NothingPrunable(TinyTask):
    def build(self, width: float) -> nn.Module:
        return nn.Sequential(nn.LayerNorm(4), nn.ReLU())


@pytest.mark.parametrize(
    ("task", "says"),
    [
        (42, "is a int, not a Task"),
        (_NoModule(), "task 'tiny': build(0.25) returned NoneType, not an nn.Module"),
        (_NothingPrunable(), "task 'tiny': the model at width 0.25 (Sequential) has no prunable"),
    ],
)
def test_bad_task_objects_are_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, task: object, says: str
) -> None:
    with pytest.raises(PrunefrontError, match=re.escape(says)):
        prunefront.search.run(_config(tmp_path), task=task)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()
