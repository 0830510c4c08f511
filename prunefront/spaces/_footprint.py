"""The footprint model: bytes to store a model's weights, per storage format and dtype.

Footprint = every prunable tensor (see ``find_prunable``) in its storage format + every other
parameter dense, all in one value dtype. Buffers (e.g. BatchNorm running statistics) are not
weights and are not counted. A parameter shared by several modules (tied weights) counts once.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import BlockPattern, NMPattern, Pattern, find_prunable, parse_pattern
from prunefront.spaces._dtypes import DType, parse_dtype
from prunefront.spaces._formats import (
    REPORTED_FORMATS,
    AutoFormat,
    BlockFormat,
    ConcreteFormat,
    DenseFormat,
    NMFormat,
    StorageFormat,
    TensorStats,
    check_pattern,
    format_bytes,
    parse_format,
)
from prunefront.spaces._stats import (
    analytic_stats,
    choose,
    exact_stats,
    kept_at_sparsity,
)

__all__ = [
    "FootprintReport",
    "ModelLayout",
    "TensorFootprint",
    "TensorLayout",
    "analytic_footprint_bytes",
    "model_footprint",
    "model_layout",
    "tensor_bytes",
    "tensor_bytes_from_mask",
]


@dataclass(frozen=True, kw_only=True)
class TensorLayout:
    """Name, shape and role of one parameter."""

    name: str
    shape: tuple[int, ...]
    prunable: bool

    @property
    def numel(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass(frozen=True, kw_only=True)
class ModelLayout:
    """The shapes of a model's parameters: all the analytic footprint needs (no weights).

    Build it once with :func:`model_layout` and pass it to :func:`model_footprint` instead of the
    model when evaluating many sparsities.
    """

    tensors: tuple[TensorLayout, ...]

    @property
    def params_total(self) -> int:
        """All parameters (shared ones once)."""
        return sum(t.numel for t in self.tensors)

    @property
    def params_prunable(self) -> int:
        """Elements of the prunable weights."""
        return sum(t.numel for t in self.tensors if t.prunable)


def _unique_params(
    model: nn.Module, exclude: Sequence[str]
) -> list[tuple[str, nn.Parameter, bool]]:
    prunable_ids = {id(t.param) for t in find_prunable(model, exclude)}
    return [(name, param, id(param) in prunable_ids) for name, param in model.named_parameters()]


def model_layout(model: nn.Module, exclude: Sequence[str] = ()) -> ModelLayout:
    """Record the parameter shapes of ``model`` (works on the meta device: no weights read)."""
    return ModelLayout(
        tensors=tuple(
            TensorLayout(name=name, shape=tuple(int(d) for d in param.shape), prunable=prunable)
            for name, param, prunable in _unique_params(model, exclude)
        )
    )


@dataclass(frozen=True, kw_only=True)
class TensorFootprint:
    """How one parameter is stored.

    Attributes:
        name: Qualified parameter name.
        shape: Its shape.
        numel: Elements.
        nnz: Nonzeros (all elements for a parameter that is not prunable).
        prunable: Whether it is a prunable weight (others are always stored dense).
        format: The format it is stored in under the report's format (auto's winner, or the
            fallback where the requested one cannot store it).
        footprint_bytes: Its bytes in ``format``, dtype overhead (int8 scale) included.
        bytes_by_format: Its bytes under each reported format name (with fallbacks applied).
        not_applicable: Reported formats that cannot store it (their bytes are the fallback's).
        note: Why a fallback was used; empty otherwise.
    """

    name: str
    shape: tuple[int, ...]
    numel: int
    nnz: int
    prunable: bool
    format: str
    footprint_bytes: int
    bytes_by_format: dict[str, int]
    not_applicable: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data."""
        data = asdict(self)
        data["shape"] = list(self.shape)
        data["not_applicable"] = list(self.not_applicable)
        return data


@dataclass(frozen=True, kw_only=True)
class FootprintReport:
    """The bytes to store a model's weights, whole-model and per tensor.

    Attributes:
        params_total: All parameters.
        params_prunable: Elements of the prunable weights.
        params_nonzero: Nonzeros of the prunable weights + every other parameter (stored dense).
        format: The requested format name (``auto`` = cheapest per tensor).
        dtype: Value dtype name.
        pattern: Sparsity pattern name.
        sparsity: The uniform per-layer sparsity of an analytic report; None when the actual
            zeros of the weights were counted (exact).
        footprint_bytes: Bytes under ``format``.
        bytes_by_format: Whole-model bytes under each format name, ``auto`` included.
        tensors: The per-parameter breakdown.
    """

    params_total: int
    params_prunable: int
    params_nonzero: int
    format: str
    dtype: str
    pattern: str
    sparsity: float | None
    footprint_bytes: int
    bytes_by_format: dict[str, int]
    tensors: tuple[TensorFootprint, ...]

    @property
    def exact(self) -> bool:
        """Whether the report counts the weights' actual zeros."""
        return self.sparsity is None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data."""
        data: dict[str, object] = {
            k: v for k, v in asdict(self).items() if k not in ("tensors", "bytes_by_format")
        }
        data["bytes_by_format"] = dict(self.bytes_by_format)
        data["tensors"] = [t.to_dict() for t in self.tensors]
        return data


def _reported(fmt: StorageFormat, pattern: Pattern) -> list[ConcreteFormat]:
    formats: list[ConcreteFormat] = []
    for candidate in REPORTED_FORMATS:
        if isinstance(candidate, NMFormat) and not isinstance(pattern, NMPattern):
            continue
        if isinstance(candidate, BlockFormat) and not isinstance(pattern, BlockPattern):
            continue
        formats.append(candidate)
    if not isinstance(fmt, AutoFormat) and fmt not in formats:
        formats.append(fmt)
    return formats


def _prunable_footprint(
    name: str, stats: TensorStats, fmt: StorageFormat, dtype: DType, reported: list[ConcreteFormat]
) -> TensorFootprint:
    by_format: dict[str, int] = {}
    not_applicable: list[str] = []
    for candidate in reported:
        choice = choose(stats, candidate, dtype)
        by_format[candidate.name] = choice.footprint_bytes
        if choice.note:
            not_applicable.append(candidate.name)
    chosen = choose(stats, fmt, dtype)
    by_format["auto"] = choose(stats, AutoFormat(), dtype).footprint_bytes
    return TensorFootprint(
        name=name,
        shape=stats.shape,
        numel=stats.numel,
        nnz=stats.nnz,
        prunable=True,
        format=chosen.format.name,
        footprint_bytes=chosen.footprint_bytes,
        bytes_by_format=by_format,
        not_applicable=tuple(not_applicable),
        note=chosen.note,
    )


def _dense_footprint(
    layout: TensorLayout, dtype: DType, reported: list[ConcreteFormat], pattern: Pattern
) -> TensorFootprint:
    stats = analytic_stats(layout.shape, layout.numel, pattern)
    size = format_bytes(DenseFormat(), stats, dtype)
    assert size is not None
    names = [f.name for f in reported] + ["auto"]
    return TensorFootprint(
        name=layout.name,
        shape=layout.shape,
        numel=layout.numel,
        nnz=layout.numel,
        prunable=False,
        format="dense",
        footprint_bytes=size,
        bytes_by_format=dict.fromkeys(names, size),
    )


def _check_sparsity(sparsity: float, pattern: Pattern) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real):
        raise PrunefrontError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    value = float(sparsity)
    if not 0.0 <= value < 1.0:
        raise PrunefrontError(f"sparsity must be in [0, 1), got {sparsity!r}")
    if value < pattern.min_sparsity - 1e-9:
        raise PrunefrontError(
            f"sparsity {value:g} is below the minimum {pattern.min_sparsity:g} of pattern {pattern}"
        )
    return value


def model_footprint(
    model: nn.Module | ModelLayout,
    *,
    sparsity: float | None = None,
    pattern: str | Pattern = "unstructured",
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    exclude: Sequence[str] = (),
) -> FootprintReport:
    """Bytes to store the weights of ``model``.

    Args:
        model: The model, or its :class:`ModelLayout` (analytic only; faster when repeated).
        sparsity: A uniform per-layer sparsity of the prunable weights for the analytic
            footprint (no weights are read; the model may live on the meta device). None counts
            the actual zeros of the weights (exact).
        pattern: The sparsity pattern (``unstructured``, ``N:M``, ``RxC``); N:M needs a
            sparsity of at least 1 - N/M.
        fmt: Storage format name (see :func:`parse_format`); ``auto`` = cheapest per tensor.
        dtype: Value dtype: ``float32``, ``float16``, ``bfloat16`` or ``int8``.
        exclude: Name patterns of weights left dense (ignored when ``model`` is a layout).

    Raises:
        PrunefrontError: Bad sparsity, pattern, format or dtype, or exact counting asked of a
            layout or of a model on the meta device.
    """
    parsed_pattern = parse_pattern(pattern)
    parsed_fmt = parse_format(fmt)
    parsed_dtype = parse_dtype(dtype)
    check_pattern(parsed_fmt, parsed_pattern)
    reported = _reported(parsed_fmt, parsed_pattern)
    level = None if sparsity is None else _check_sparsity(sparsity, parsed_pattern)
    rows: list[TensorFootprint] = []
    layouts: list[tuple[TensorLayout, nn.Parameter | None]]
    if isinstance(model, ModelLayout):
        if level is None:
            raise PrunefrontError("counting actual zeros needs the model, not its layout")
        layouts = [(t, None) for t in model.tensors]
    else:
        layouts = [
            (TensorLayout(name=n, shape=tuple(p.shape), prunable=pr), p)
            for n, p, pr in _unique_params(model, exclude)
        ]
    for layout, param in layouts:
        if not layout.prunable:
            rows.append(_dense_footprint(layout, parsed_dtype, reported, parsed_pattern))
            continue
        if level is None:
            assert param is not None
            stats = exact_stats(param, parsed_pattern)
        else:
            nnz = kept_at_sparsity(layout.shape, level, parsed_pattern)
            stats = analytic_stats(layout.shape, nnz, parsed_pattern)
        rows.append(_prunable_footprint(layout.name, stats, parsed_fmt, parsed_dtype, reported))
    names = [f.name for f in reported] + ["auto"]
    return FootprintReport(
        params_total=sum(r.numel for r in rows),
        params_prunable=sum(r.numel for r in rows if r.prunable),
        params_nonzero=sum(r.nnz for r in rows),
        format=parsed_fmt.name,
        dtype=parsed_dtype.name,
        pattern=str(parsed_pattern),
        sparsity=level,
        footprint_bytes=sum(r.footprint_bytes for r in rows),
        bytes_by_format={n: sum(r.bytes_by_format[n] for r in rows) for n in names},
        tensors=tuple(rows),
    )


def tensor_bytes(
    shape: Sequence[int],
    nnz: int,
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    pattern: str | Pattern = "unstructured",
) -> int:
    """Analytic bytes of one prunable tensor of ``shape`` with ``nnz`` nonzeros.

    Nonzero positions are taken as uniformly random (this matters only for ``relidx``, whose
    filler count is the expected one). A ``csr`` width that cannot address the columns falls
    back to ``csr32``.

    Raises:
        PrunefrontError: Bad format, dtype, pattern, or ``nnz`` outside ``[0, numel]``.
    """
    parsed_pattern = parse_pattern(pattern)
    parsed_fmt = parse_format(fmt)
    check_pattern(parsed_fmt, parsed_pattern)
    stats = analytic_stats(shape, nnz, parsed_pattern)
    return choose(stats, parsed_fmt, parse_dtype(dtype)).footprint_bytes


def tensor_bytes_from_mask(
    weight: torch.Tensor | np.ndarray,
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    pattern: str | Pattern = "unstructured",
) -> int:
    """Exact bytes of one prunable tensor, counted on its actual zeros (real relidx fillers).

    Raises:
        PrunefrontError: Bad format, dtype or pattern, or a tensor on the meta device.
    """
    parsed_pattern = parse_pattern(pattern)
    parsed_fmt = parse_format(fmt)
    check_pattern(parsed_fmt, parsed_pattern)
    stats = exact_stats(weight, parsed_pattern)
    return choose(stats, parsed_fmt, parse_dtype(dtype)).footprint_bytes


def analytic_footprint_bytes(
    layout: ModelLayout, sparsity: float, pattern: Pattern, fmt: StorageFormat, dtype: DType
) -> int:
    """``model_footprint(layout, ...).footprint_bytes`` without the per-format breakdown.

    Arguments are already parsed; this is the inner loop of the feasibility search.
    """
    level = _check_sparsity(sparsity, pattern)
    total = 0
    for layout_row in layout.tensors:
        if layout_row.prunable:
            nnz = kept_at_sparsity(layout_row.shape, level, pattern)
            stats = analytic_stats(layout_row.shape, nnz, pattern)
            total += choose(stats, fmt, dtype).footprint_bytes
        else:
            total += layout_row.numel * dtype.value_bytes + dtype.overhead_bytes(layout_row.shape)
    return total
