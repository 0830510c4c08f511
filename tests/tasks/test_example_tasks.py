"""The task modules in examples/tasks/: searched end to end from their own search.toml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prunefront.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def _copy_examples(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")


@pytest.mark.slow  # four trials: ~15 s on 2 idle cores
def test_the_blobs_user_task_searches_reports_and_exports_from_its_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy_examples(tmp_path)
    monkeypatch.chdir(tmp_path)  # the working directory is importable: examples.tasks.blobs
    code, _, err = _run(["search", "examples/tasks/blobs.toml"], capsys)
    assert code == 0, err
    code, out, err = _run(["status", "--run", "runs/blobs", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"]["COMPLETE"] == 4
    code, _, err = _run(["report", "--run", "runs/blobs", "--out", "report"], capsys)
    assert code == 0, err
    assert (tmp_path / "report" / "report.html").is_file()
    code, out, err = _run(
        ["export", "--run", "runs/blobs", "--trial", "0", "--format", "onnx", "--out", "m.onnx"],
        capsys,
    )
    assert code == 0, err
    assert (tmp_path / "m.onnx").is_file()


def _tiny_imagefolder(root: Path) -> None:
    from PIL import Image

    for index, colour in enumerate([(200, 30, 30), (30, 30, 200)]):
        folder = root / f"class{index}"
        folder.mkdir(parents=True)
        for i in range(6):
            shade = tuple(min(255, c + 4 * i) for c in colour)
            Image.new("RGB", (16, 16), shade).save(folder / f"{i}.png")


def test_the_torchvision_example_trains_mobilenet_on_a_tiny_imagefolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        import torchvision  # noqa: F401
    except Exception as error:  # absent, or built for another torch (its ops fail to load)
        pytest.skip(f"torchvision is not usable here ({type(error).__name__}: {error})"[:200])
    from prunefront.candidate import Candidate, train_candidate
    from prunefront.tasks import check_task

    _copy_examples(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from examples.tasks.torchvision_cnn import imagefolder_task

    _tiny_imagefolder(tmp_path / "images")
    task = check_task(
        imagefolder_task(tmp_path / "images", image_size=32, epochs=1, batch_size=4), "example"
    )
    model, result = train_candidate(task, Candidate(width=0.5, sparsity=0.8, pattern="2:4"))
    assert 0.0 <= result.metric_value <= 1.0
    assert result.sparsity_actual == pytest.approx(0.8, abs=0.02)
    assert model(task.example_inputs(2)[0]).shape == (2, 2)
