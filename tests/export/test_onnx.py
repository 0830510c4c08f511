"""ONNX export of candidates and the ONNX Runtime check that it reproduces them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from prunefront.errors import PrunefrontError
from prunefront.export import compare_onnx, export_onnx
from prunefront.pruning import magnitude_prune
from prunefront.testing import TinyConvTask, TinyLstmTask, TinyTask


@pytest.mark.parametrize("task_type", [TinyTask, TinyConvTask, TinyLstmTask])
def test_each_kind_of_layer_exports_and_onnxruntime_reproduces_it(
    tmp_path: Path, task_type: type
) -> None:
    task = task_type()
    model, inputs = task.build(1.0), task.example_inputs(3)
    export = export_onnx(model, inputs, tmp_path / "model.onnx")
    assert export.exporter == "torchscript" and export.notes == ()
    assert export.size_bytes == (tmp_path / "model.onnx").stat().st_size
    assert export.inputs[0].name == "input_0"
    assert export.inputs[0].shape == tuple(inputs[0].shape)
    assert export.inputs[0].dtype == ("int64" if task_type is TinyLstmTask else "float32")
    check = compare_onnx(export.path, model, inputs)
    assert check.matches and check.max_abs_error < 1e-4


def test_pruned_zeros_survive_the_export(tmp_path: Path) -> None:
    task = TinyTask()
    model = task.build(1.0)
    magnitude_prune(model, 0.75)
    export = export_onnx(model, task.example_inputs(2), tmp_path / "sparse.onnx")
    weights = [
        numpy_helper.to_array(t)
        for t in onnx.load(str(export.path)).graph.initializer
        if len(t.dims) == 2
    ]
    zeros = sum(int((w == 0).sum()) for w in weights)
    total = sum(w.size for w in weights)
    assert zeros / total == pytest.approx(0.75, abs=0.01)


def test_a_model_that_differs_from_the_file_is_reported(tmp_path: Path) -> None:
    task = TinyTask()
    inputs = task.example_inputs(2)
    export = export_onnx(task.build(1.0), inputs, tmp_path / "a.onnx")
    other = task.build(1.0)
    with torch.no_grad():
        other[0].weight.add_(0.5)  # the file no longer describes this model
    check = compare_onnx(export.path, other, inputs)
    assert not check.matches and check.max_abs_error > 1e-3
    assert "differs from the dense reference" in (check.reason or "")


def test_the_callers_model_is_left_as_it_was(tmp_path: Path) -> None:
    task = TinyConvTask()
    model = task.build(1.0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx(model, task.example_inputs(2), tmp_path / "m.onnx")
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bad_export_arguments_name_the_problem(tmp_path: Path) -> None:
    task = TinyTask()
    model, inputs = task.build(1.0), task.example_inputs(1)
    with pytest.raises(PrunefrontError, match="exporter = 'tflite'"):
        export_onnx(model, inputs, tmp_path / "m.onnx", exporter="tflite")
    with pytest.raises(PrunefrontError, match="does not exist"):
        export_onnx(model, inputs, tmp_path / "missing" / "m.onnx")
    with pytest.raises(PrunefrontError, match="at least one input"):
        export_onnx(model, (), tmp_path / "m.onnx")
    with pytest.raises(PrunefrontError, match="ONNX Runtime cannot run"):
        (tmp_path / "junk.onnx").write_bytes(b"junk")
        compare_onnx(tmp_path / "junk.onnx", model, inputs)


@pytest.mark.slow
def test_the_dynamo_exporter_also_reproduces_an_lstm(tmp_path: Path) -> None:
    task = TinyLstmTask()
    model, inputs = task.build(1.0), task.example_inputs(2)
    export = export_onnx(model, inputs, tmp_path / "lstm.onnx", exporter="dynamo")
    assert export.exporter == "dynamo"
    check = compare_onnx(export.path, model, inputs)
    assert check.matches and np.isfinite(check.max_abs_error)
