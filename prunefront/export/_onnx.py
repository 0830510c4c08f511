"""Export a candidate to a self-contained ONNX file, and check ONNX Runtime reproduces it.

The TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) is tried first: on
torch 2.13 it exports the built-in CNNs and LSTMs in tens of milliseconds, where the
``torch.export``-based one takes seconds (and prints progress on stdout, which would corrupt a
``--json`` document). If it fails — or once it is removed from torch — the dynamo exporter is
used; the record says which one ran. Weights are embedded (no external-data file), so the file
can be sent to a device as it is. ``compare_onnx`` runs the file with ONNX Runtime on the example
inputs and compares with the torch model under the same tolerances as the execution strategies.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.profilers import compare_outputs

__all__ = ["EXPORTERS", "OnnxCheck", "OnnxExport", "OnnxInput", "compare_onnx", "export_onnx"]

Exporter = Literal["auto", "torchscript", "dynamo"]
EXPORTERS: tuple[str, ...] = ("auto", "torchscript", "dynamo")
DEFAULT_OPSET = 17


@dataclass(frozen=True, kw_only=True)
class OnnxInput:
    """One graph input.

    Attributes:
        name: Its name in the graph (``input_0``, ``input_1``, ...).
        shape: Its static shape (the example's).
        dtype: Its numpy dtype name (``float32``, ``int64``).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True, kw_only=True)
class OnnxExport:
    """A written ONNX file.

    Attributes:
        path: Where it is.
        size_bytes: Its size on disk (weights included).
        inputs: The graph inputs, in the model's positional order.
        output_names: The graph outputs.
        exporter: ``torchscript`` or ``dynamo``: the one that produced it.
        opset: The ONNX opset it targets.
        notes: Why a fallback exporter was used, if one was.
    """

    path: Path
    size_bytes: int
    inputs: tuple[OnnxInput, ...]
    output_names: tuple[str, ...]
    exporter: str
    opset: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "inputs": [
                {"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in self.inputs
            ],
            "output_names": list(self.output_names),
            "exporter": self.exporter,
            "opset": self.opset,
            "notes": list(self.notes),
        }


def _flat_outputs(outputs: object) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        return [t for value in outputs.values() for t in _flat_outputs(value)]
    if isinstance(outputs, list | tuple):
        return [t for value in outputs for t in _flat_outputs(value)]
    return []


_NUMPY_DTYPES: dict[torch.dtype, str] = {
    torch.float32: "float32",
    torch.float16: "float16",
    torch.float64: "float64",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "bool",
}


def _numpy_dtype(tensor: torch.Tensor) -> str:
    if tensor.dtype not in _NUMPY_DTYPES:
        raise PrunefrontError(
            f"example input of dtype {tensor.dtype}: ONNX export supports inputs of "
            f"{sorted(_NUMPY_DTYPES.values())}"
        )
    return _NUMPY_DTYPES[tensor.dtype]


def _run_exporter(
    exporter: str,
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    path: Path,
    names: tuple[list[str], list[str]],
    opset: int,
) -> None:
    """Run one exporter quietly: its deprecation warnings and progress lines are not ours."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        kwargs: dict[str, Any] = {"input_names": names[0], "output_names": names[1]}
        if exporter == "dynamo":
            kwargs["external_data"] = False
        torch.onnx.export(
            model, inputs, str(path), opset_version=opset, dynamo=exporter == "dynamo", **kwargs
        )


def export_onnx(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: Path | str,
    *,
    opset: int = DEFAULT_OPSET,
    exporter: str = "auto",
) -> OnnxExport:
    """Write ``model`` (in eval mode, on the CPU) to ``path`` as a self-contained ONNX file.

    Args:
        model: The candidate; it is copied, not changed.
        example_inputs: The positional inputs of one forward pass; their shapes are fixed in
            the graph (a device profiles exactly this batch size).
        path: The file to write (its folder must exist).
        opset: ONNX opset version.
        exporter: ``auto`` (TorchScript, then dynamo on failure), ``torchscript`` or ``dynamo``.

    Raises:
        PrunefrontError: bad arguments, or no exporter could export the model (with its error).
    """
    if exporter not in EXPORTERS:
        raise PrunefrontError(f"exporter = {exporter!r}: must be one of {list(EXPORTERS)}")
    if not example_inputs:
        raise PrunefrontError("example_inputs: give at least one input tensor")
    target = Path(path)
    if not target.parent.is_dir():
        raise PrunefrontError(f"export path {target}: folder {target.parent} does not exist")
    inputs = tuple(t.detach().cpu() for t in example_inputs)
    cpu_model = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        outputs = _flat_outputs(cpu_model(*inputs))
    names = (
        [f"input_{i}" for i in range(len(inputs))],
        [f"output_{i}" for i in range(len(outputs))],
    )
    order = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
    notes: list[str] = []
    for attempt in order:
        try:
            _run_exporter(attempt, cpu_model, inputs, target, names, opset)
        except Exception as error:  # exporters raise many types; the next one may succeed
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            notes.append(f"{attempt} exporter failed: {type(error).__name__}: {first}")
            continue
        return OnnxExport(
            path=target,
            size_bytes=target.stat().st_size,
            inputs=tuple(
                OnnxInput(name=n, shape=tuple(t.shape), dtype=_numpy_dtype(t))
                for n, t in zip(names[0], inputs, strict=True)
            ),
            output_names=tuple(names[1]),
            exporter=attempt,
            opset=opset,
            notes=tuple(notes),
        )
    raise PrunefrontError(f"ONNX export of {type(model).__name__} failed: {'; '.join(notes)}")


@dataclass(frozen=True, kw_only=True)
class OnnxCheck:
    """Whether ONNX Runtime reproduces the torch model.

    Attributes:
        matches: All outputs within tolerance (float32: rtol 1e-4, atol 1e-5 x output scale).
        max_abs_error: Largest absolute difference over all outputs.
        reason: What differed, when something did.
    """

    matches: bool
    max_abs_error: float
    reason: str | None = None


def compare_onnx(
    onnx_model: Path | str | bytes,
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    *,
    threads: int = 1,
) -> OnnxCheck:
    """Run ``onnx_model`` with ONNX Runtime (CPU) and compare with ``model`` on the inputs.

    Raises:
        PrunefrontError: ONNX Runtime cannot load or run the file (with its message).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
    inputs = tuple(t.detach().cpu() for t in example_inputs)
    try:
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        feeds = {
            arg.name: np.ascontiguousarray(t.numpy())
            for arg, t in zip(session.get_inputs(), inputs, strict=True)
        }
        got = session.run(None, feeds)
    except Exception as error:  # ORT raises its own pybind exception types
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise PrunefrontError(f"ONNX Runtime cannot run the exported model: {first}") from error
    cpu_model = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        reference = _flat_outputs(cpu_model(*inputs))
    check = compare_outputs([torch.from_numpy(np.asarray(g)) for g in got], reference)
    return OnnxCheck(matches=check.matches, max_abs_error=check.max_abs_error, reason=check.reason)
