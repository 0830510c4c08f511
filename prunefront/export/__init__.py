"""Export: a candidate as a deployable file (ONNX), verified against the torch model.

``export_onnx`` writes a self-contained ONNX file for a model and its example inputs;
``compare_onnx`` reloads it with ONNX Runtime and checks the outputs; ``compress_onnx`` stores
its weights as the footprint counts them, rebuilt by ONNX Runtime when a session is created.
``export_trial`` writes a search's trial in a deployable format and verifies it (the ``export``
command; from a notebook, pass the Task object the search was given). The remote profilers send
these files to devices.
"""

from __future__ import annotations

from prunefront.export._checkpoint import CheckpointModel, model_from_checkpoint
from prunefront.export._compress import (
    DECODABLE_FORMATS,
    CompressedTensor,
    OnnxCompression,
    compress_onnx,
)
from prunefront.export._onnx import (
    EXPORTERS,
    OnnxCheck,
    OnnxExport,
    OnnxInput,
    compare_onnx,
    export_onnx,
)
from prunefront.export._trial import EXPORT_FORMATS, ExportVerification, export_trial, trial_model

__all__ = [
    "DECODABLE_FORMATS",
    "EXPORTERS",
    "EXPORT_FORMATS",
    "CheckpointModel",
    "CompressedTensor",
    "ExportVerification",
    "OnnxCheck",
    "OnnxCompression",
    "OnnxExport",
    "OnnxInput",
    "compare_onnx",
    "compress_onnx",
    "export_onnx",
    "export_trial",
    "model_from_checkpoint",
    "trial_model",
]
