"""Search spaces and the footprint model: bytes of (width, sparsity, pattern, format, dtype).

Footprint = bytes to store the weights: every prunable tensor in its storage format plus every
other parameter dense. :func:`model_footprint` computes it analytically for a uniform sparsity
(no weights read) or exactly from a model's zeros; :func:`feasible_sparsity` turns a memory budget
into the interval of final sparsities that fit it at a width. :func:`save_sparse` writes a
model's weights in those storage formats (a sparse weight file) and :func:`load_sparse` reads
them back.
"""

from __future__ import annotations

from prunefront.spaces._dtypes import DType, parse_dtype
from prunefront.spaces._feasible import feasible_intervals, feasible_sparsity
from prunefront.spaces._footprint import (
    FootprintReport,
    ModelLayout,
    TensorFootprint,
    TensorLayout,
    model_footprint,
    model_layout,
    tensor_bytes,
    tensor_bytes_from_mask,
)
from prunefront.spaces._formats import (
    AutoFormat,
    BitmaskFormat,
    BlockFormat,
    CSRFormat,
    DenseFormat,
    NMFormat,
    PaperFormat,
    RelIdxFormat,
    StorageFormat,
    parse_format,
)
from prunefront.spaces._io import SparseCheckpoint, load_sparse, save_sparse
from prunefront.spaces._rounding import round_to_dtype
from prunefront.spaces._search_space import SearchSpace

__all__ = [
    "AutoFormat",
    "BitmaskFormat",
    "BlockFormat",
    "CSRFormat",
    "DType",
    "DenseFormat",
    "FootprintReport",
    "ModelLayout",
    "NMFormat",
    "PaperFormat",
    "RelIdxFormat",
    "SearchSpace",
    "SparseCheckpoint",
    "StorageFormat",
    "TensorFootprint",
    "TensorLayout",
    "feasible_intervals",
    "feasible_sparsity",
    "load_sparse",
    "model_footprint",
    "model_layout",
    "parse_dtype",
    "parse_format",
    "round_to_dtype",
    "save_sparse",
    "tensor_bytes",
    "tensor_bytes_from_mask",
]
