"""Export: a candidate as a deployable file (ONNX), verified against the torch model.

``export_onnx`` writes a self-contained ONNX file for a model and its example inputs;
``compare_onnx`` reloads it with ONNX Runtime and checks the outputs. The remote profilers send
these files to devices; the ``export`` command ships them.
"""

from __future__ import annotations

from prunefront.export._onnx import (
    EXPORTERS,
    OnnxCheck,
    OnnxExport,
    OnnxInput,
    compare_onnx,
    export_onnx,
)

__all__ = ["EXPORTERS", "OnnxCheck", "OnnxExport", "OnnxInput", "compare_onnx", "export_onnx"]
