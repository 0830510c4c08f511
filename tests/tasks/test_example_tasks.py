"""The task modules in examples/tasks/: searched end to end from their own search.toml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prunefront.testing import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _copy_examples(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")


@pytest.mark.slow  # four trials: ~15 s on 2 idle cores
def test_the_blobs_user_task_searches_reports_and_exports_from_its_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy_examples(tmp_path)
    monkeypatch.chdir(tmp_path)  # the working directory is importable: examples.tasks.blobs
    code, _, err = run_cli(["search", "examples/tasks/blobs.toml"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["status", "--run", "runs/blobs", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"]["COMPLETE"] == 4
    code, _, err = run_cli(["report", "--run", "runs/blobs", "--out", "report"], capsys)
    assert code == 0, err
    assert (tmp_path / "report" / "report.html").is_file()
    code, out, err = run_cli(
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


def _torchvision() -> None:
    """Import torchvision or skip, saying why.

    PyPI's torchvision wheels are CUDA builds; next to a CPU torch (this project's CI) their C++
    detection ops (``nms``, ``roi_align``, ...) cannot load, and the import fails registering
    fake kernels for two of them. MobileNetV2, ImageFolder and the transforms are Python and
    use none of those ops, so the schemas of the two are declared, and only here.
    """
    import torch

    try:
        import torchvision
    except ImportError as error:
        pytest.skip(f"torchvision is not installed ({error}); pip install 'prunefront[vision]'")
    except RuntimeError as error:
        if "torchvision::nms" not in str(error):
            raise
        library = torch.library.Library("torchvision", "DEF")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARIES.append(library)  # a Library's definitions live as long as the object
        import torchvision  # noqa: F401


_LIBRARIES: list[object] = []


def _example_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: object) -> object:
    _torchvision()
    _copy_examples(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from examples.tasks.torchvision_cnn import imagefolder_task

    _tiny_imagefolder(tmp_path / "images")
    return imagefolder_task(tmp_path / "images", image_size=32, **options)


def test_the_torchvision_example_trains_mobilenet_on_a_tiny_imagefolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prunefront.candidate import Candidate, train_candidate
    from prunefront.tasks import check_task

    task = check_task(
        _example_task(tmp_path, monkeypatch, epochs=1, batch_size=4),  # type: ignore[arg-type]
        "example",
    )
    model, result = train_candidate(task, Candidate(width=0.5, sparsity=0.8, pattern="2:4"))
    assert 0.0 <= result.metric_value <= 1.0
    assert result.sparsity_actual == pytest.approx(0.8, abs=0.02)
    assert model(task.example_inputs(2)[0]).shape == (2, 2)


@pytest.mark.slow  # three MobileNetV2 trainings and profiles: ~1 min on 2 idle cores
def test_the_torchvision_example_searches_and_exports_within_its_footprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prunefront.search
    from prunefront.export import export_trial

    task = _example_task(tmp_path, monkeypatch, epochs=4, batch_size=4)
    config = {
        "space": {"widths": [0.5, 1.0], "sparsity_max": 0.95, "iso_levels": 1},
        # width 0.5 dense is 2,760,968 B: the full width must be pruned to about 70 %
        "budget": {"bytes": 2_800_000},
        "target": {"latency_min_time_s": 0.05, "latency_max_time_s": 0.5},
        "search": {"trials": 3, "pair_seeds": 1, "run_dir": str(tmp_path / "run")},
    }
    result = prunefront.search.run(config, task=task)  # type: ignore[arg-type]
    trials = [t for t in result.study.trials if t.values is not None]
    assert len(trials) == 3
    assert {t.user_attrs["width"] for t in trials} >= {0.5, 1.0}
    assert all(t.user_attrs["footprint_bytes"] <= 2_800_000 for t in trials)
    sparse = max(trials, key=lambda t: t.user_attrs["sparsity_actual"])
    assert sparse.user_attrs["sparsity_actual"] > 0.6
    exported = export_trial(
        result.study,
        sparse.number,
        fmt="onnx",
        out=tmp_path / "m.onnx",
        run_dir=tmp_path / "run",
        task=task,  # type: ignore[arg-type]
    )
    assert exported.ok, exported
    assert exported.outputs_match and exported.size_ok
