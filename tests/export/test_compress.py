"""Compressed ONNX: as small as the footprint, loaded by stock ONNX Runtime, rebuilt at load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.export import DECODABLE_FORMATS, compare_onnx, compress_onnx, export_onnx
from prunefront.pruning import magnitude_prune
from prunefront.spaces import model_footprint, round_to_dtype
from prunefront.testing import TinyConvTask, TinyLstmTask, TinyTask


def _pruned(task_type: type, sparsity: float, width: float = 1.0) -> tuple[nn.Module, tuple]:
    torch.manual_seed(0)
    task = task_type()
    model = task.build(width).eval()
    if sparsity > 0:
        magnitude_prune(model, sparsity)
    return model, tuple(task.example_inputs(2))


def _compressed(
    model: nn.Module, inputs: tuple, folder: Path, **kwargs: object
) -> tuple[Path, Path, object]:
    dense = export_onnx(model, inputs, folder / "dense.onnx").path
    result = compress_onnx(onnx.load(str(dense)), **kwargs)  # type: ignore[arg-type]
    path = folder / "small.onnx"
    onnx.save(result.model, str(path))
    return dense, path, result


@pytest.mark.parametrize("task_type", [TinyTask, TinyConvTask, TinyLstmTask])
@pytest.mark.parametrize("sparsity", [0.5, 0.9, 0.97])
def test_compressed_onnx_stores_exactly_the_footprint_and_reproduces_the_model(
    task_type: type, sparsity: float, tmp_path: Path
) -> None:
    model, inputs = _pruned(task_type, sparsity)
    dense, small, result = _compressed(model, inputs, tmp_path)
    footprint = model_footprint(model).footprint_bytes
    assert result.payload_bytes == footprint  # type: ignore[attr-defined]
    size = small.stat().st_size
    assert size < dense.stat().st_size
    assert size <= 1.05 * footprint + 8192
    check = compare_onnx(small, model, inputs)
    assert check.matches and check.max_abs_error < 1e-5


@pytest.mark.parametrize("fmt", [name for name in DECODABLE_FORMATS if name != "dense"])
def test_every_decoder_rebuilds_the_weights_bit_for_bit(fmt: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(200, 70), nn.ReLU(), nn.Linear(70, 5)).eval()
    magnitude_prune(model, 0.93)
    inputs = (torch.randn(3, 200),)
    _, small, result = _compressed(model, inputs, tmp_path, formats=[fmt])
    assert {t.format for t in result.tensors if len(t.shape) == 2} == {fmt}  # type: ignore[attr-defined]
    graph = onnx.load(str(small)).graph
    names = [t.name for t in onnx.load(str(tmp_path / "dense.onnx")).graph.initializer]
    # Ask the rebuilt weights back as graph outputs: every value equal, every zero in place.
    extra = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    for name in names:
        extra.graph.output.append(onnx.helper.make_tensor_value_info(name, 1, None))
    session = ort.InferenceSession(extra.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(names, {"input_0": inputs[0].numpy()})
    expected = {
        t.name: onnx.numpy_helper.to_array(t)
        for t in onnx.load(str(tmp_path / "dense.onnx")).graph.initializer
    }
    for name, value in zip(names, got, strict=True):
        assert np.array_equal(value, expected[name]), name


def test_the_rebuild_is_folded_when_the_session_is_created(tmp_path: Path) -> None:
    model, inputs = _pruned(TinyConvTask, 0.9)
    _, small, _ = _compressed(model, inputs, tmp_path)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(small), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx"))
    decoders = {"BitShift", "CumSum", "ScatterElements", "ConstantOfShape", "ReduceSum"}
    assert not [node.op_type for node in optimized.graph.node if node.op_type in decoders]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int8"])
def test_a_narrower_dtype_is_stored_narrow_and_matches_the_rounded_model(
    dtype: str, tmp_path: Path
) -> None:
    model, inputs = _pruned(TinyLstmTask, 0.8)
    round_to_dtype(model, dtype)
    _, small, result = _compressed(model, inputs, tmp_path, dtype=dtype)
    footprint = model_footprint(model, dtype=dtype).footprint_bytes
    assert small.stat().st_size <= 1.05 * footprint + 8192
    assert result.dtype == dtype  # type: ignore[attr-defined]
    check = compare_onnx(small, model, inputs)
    assert check.matches, check.reason
    ops = {node.op_type for node in onnx.load(str(small)).graph.node}
    assert ("DequantizeLinear" in ops) == (dtype == "int8")  # int8 is a weight-only QDQ model


def test_an_unknown_decoder_format_is_refused_by_name() -> None:
    with pytest.raises(PrunefrontError, match="nm"):
        compress_onnx(onnx.ModelProto(), formats=["nm"])


class _CausalLM(nn.Module):
    """Embedding -> causal self-attention -> decoder; ``tied`` shares the decoder's weight."""

    def __init__(self, *, tied: bool, steps: int = 64, width: int = 64, vocab: int = 40) -> None:
        super().__init__()
        self.steps = steps
        self.embedding = nn.Embedding(vocab, width)
        self.attn = nn.MultiheadAttention(width, 2, batch_first=True)
        self.decoder = nn.Linear(width, vocab)
        if tied:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens)
        # Built in forward: the exporter folds it into a 64 x 64 float Constant of 0 and -inf.
        mask = torch.triu(torch.full((self.steps, self.steps), float("-inf")), diagonal=1)
        x = x + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        out: torch.Tensor = self.decoder(x)
        return out


@pytest.mark.parametrize("tied", [False, True])
def test_a_causal_language_model_exports_as_small_as_its_footprint(
    tied: bool, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    model = _CausalLM(tied=tied).eval()
    magnitude_prune(model, 0.9)
    inputs = (torch.randint(0, 40, (2, 64)),)
    _, small, result = _compressed(model, inputs, tmp_path)
    footprint = model_footprint(model).footprint_bytes
    # A tied weight is one parameter: counted once by the footprint, stored once in the file
    # (attention's untrained zero biases cost nothing in the file, dense bytes in the footprint).
    assert result.payload_bytes <= footprint  # type: ignore[attr-defined]
    ties = [t for t in result.tensors if t.format == "tied"]  # type: ignore[attr-defined]
    assert len(ties) == (1 if tied else 0)
    # The mask (16 KiB as a dense Constant) is a 512-byte bitmask, names are short: the file
    # stays within the export's size limit, which allows 8 KiB of graph.
    assert small.stat().st_size <= 1.05 * footprint + 8192
    check = compare_onnx(small, model, inputs)
    assert check.matches and check.max_abs_error < 1e-5


def test_equal_constants_are_stored_once_and_rebuilt_exactly(tmp_path: Path) -> None:
    torch.manual_seed(2)
    shared = nn.Linear(24, 24, bias=False)
    model = nn.Sequential(shared, nn.ReLU(), shared).eval()  # one module used twice
    inputs = (torch.randn(3, 24),)
    dense = onnx.load(str(export_onnx(model, inputs, tmp_path / "d.onnx").path))
    copy = onnx.numpy_helper.to_array(dense.graph.initializer[0])
    # An exporter that wrote the weight twice, once transposed, once reshaped.
    for name, array in (("t", copy.T.copy()), ("r", copy.reshape(-1, 8).copy())):
        dense.graph.initializer.append(onnx.numpy_helper.from_array(array, name))
        dense.graph.output.append(onnx.helper.make_tensor_value_info(name, 1, array.shape))
    result = compress_onnx(dense)
    tied = {t.name: t.tied_to for t in result.tensors if t.format == "tied"}
    assert tied == {"t": dense.graph.initializer[0].name, "r": dense.graph.initializer[0].name}
    session = ort.InferenceSession(
        result.model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    transposed, reshaped = session.run(["t", "r"], {"input_0": inputs[0].numpy()})
    assert np.array_equal(transposed, copy.T) and np.array_equal(reshaped, copy.reshape(-1, 8))
