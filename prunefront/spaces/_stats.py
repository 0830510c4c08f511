"""Per-tensor statistics for the size formulas, and the choice of a format for one tensor.

Analytic statistics come from a shape and a nonzero count (or a uniform sparsity, pruned the way
the pruner's masks prune: exactly ``round(s * n)`` zeros, whole blocks for block patterns).
Exact statistics are counted on a weight's actual zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from prunefront.errors import PrunefrontError
from prunefront.pruning import (
    BlockPattern,
    NMPattern,
    Pattern,
    matrix_shape,
    nm_matrix_shape,
    zeros_for,
)
from prunefront.spaces._dtypes import DType
from prunefront.spaces._formats import (
    AUTO_CANDIDATES,
    AutoFormat,
    ConcreteFormat,
    CSRFormat,
    StorageFormat,
    TensorStats,
    block_grid,
    fallbacks_for,
    format_bytes,
    nm_capacity,
)

__all__ = ["Choice", "analytic_stats", "choose", "exact_stats", "kept_at_sparsity", "nm_view"]


def _numel(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count


def analytic_stats(shape: Sequence[int], nnz: int, pattern: Pattern) -> TensorStats:
    """Statistics of a tensor of ``shape`` with ``nnz`` nonzeros at uniformly random positions."""
    dims = tuple(int(d) for d in shape)
    numel = _numel(dims)
    if isinstance(nnz, bool) or not isinstance(nnz, int | np.integer) or not 0 <= nnz <= numel:
        raise PrunefrontError(f"nnz must be an integer in [0, {numel}] for shape {dims}, got {nnz}")
    rows, cols = matrix_shape(dims)
    return TensorStats(shape=dims, rows=rows, cols=cols, numel=numel, nnz=int(nnz), pattern=pattern)


def kept_at_sparsity(shape: Sequence[int], sparsity: float, pattern: Pattern) -> int:
    """Nonzeros the pruner's mask leaves in a tensor of ``shape`` at ``sparsity``.

    ``n - round(s * n)`` (at least one survivor); for block patterns whole blocks are pruned,
    ``round(s * blocks)`` of them, and ragged edge blocks count at the average block size.
    """
    numel = _numel(shape)
    if numel == 0:
        return 0
    if isinstance(pattern, BlockPattern):
        rows, cols = matrix_shape(shape)
        grid = block_grid(rows, cols, pattern)
        blocks = grid[0] * grid[1]
        kept_blocks = blocks - zeros_for(blocks, sparsity)
        return round(kept_blocks * numel / blocks)
    kept = numel - zeros_for(numel, sparsity)
    if isinstance(pattern, NMPattern):
        kept = min(kept, nm_capacity(*nm_matrix_shape(shape), pattern))
    return kept


def nm_view(array: np.ndarray) -> np.ndarray:
    """``array`` as its N:M view: groups along the columns (a convolution's input channels)."""
    rows, cols = nm_matrix_shape(array.shape)
    if array.ndim <= 2:
        return array.reshape(rows, cols)
    return np.moveaxis(array, 1, -1).reshape(rows, cols)


def _mask_of(weight: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(weight, torch.Tensor):
        if weight.device.type == "meta":
            raise PrunefrontError(
                "weights on the meta device have no values: pass sparsity= for the analytic size"
            )
        return (weight.detach() != 0).cpu().numpy()
    return np.asarray(weight) != 0


def exact_stats(weight: torch.Tensor | np.ndarray, pattern: Pattern) -> TensorStats:
    """Statistics counted on the actual zeros of ``weight``."""
    mask = _mask_of(weight)
    dims = tuple(int(d) for d in mask.shape)
    rows, cols = matrix_shape(dims)
    flat = mask.reshape(-1)
    positions = np.flatnonzero(flat)
    zero_runs = np.diff(positions, prepend=-1) - 1
    nm_fits: bool | None = None
    kept_block_elems: int | None = None
    grid2d = flat.reshape(rows, cols)
    if isinstance(pattern, NMPattern):
        view = nm_view(mask)
        groups = -(-view.shape[1] // pattern.m)
        padded = np.zeros((view.shape[0], groups * pattern.m), dtype=bool)
        padded[:, : view.shape[1]] = view
        per_group = padded.reshape(view.shape[0], groups, pattern.m).sum(axis=2)
        nm_fits = bool(per_group.size == 0 or per_group.max() <= pattern.n)
    elif isinstance(pattern, BlockPattern):
        kept_block_elems = _kept_block_elems(grid2d, pattern)
    return TensorStats(
        shape=dims,
        rows=rows,
        cols=cols,
        numel=int(flat.size),
        nnz=int(positions.size),
        pattern=pattern,
        zero_runs=zero_runs,
        nm_fits=nm_fits,
        kept_block_elems=kept_block_elems,
    )


def block_keep(mask2d: np.ndarray, pattern: BlockPattern) -> tuple[np.ndarray, np.ndarray]:
    """Which blocks hold a nonzero (grid-shaped) and each block's element count."""
    rows, cols = mask2d.shape
    grid = block_grid(rows, cols, pattern)
    padded = np.zeros((grid[0] * pattern.rows, grid[1] * pattern.cols), dtype=bool)
    padded[:rows, :cols] = mask2d
    blocks = padded.reshape(grid[0], pattern.rows, grid[1], pattern.cols)
    kept = np.asarray(blocks.any(axis=(1, 3)), dtype=bool)
    row_sizes = np.minimum(pattern.rows, rows - np.arange(grid[0]) * pattern.rows)
    col_sizes = np.minimum(pattern.cols, cols - np.arange(grid[1]) * pattern.cols)
    return kept, np.outer(row_sizes, col_sizes)


def _kept_block_elems(mask2d: np.ndarray, pattern: BlockPattern) -> int:
    kept, sizes = block_keep(mask2d, pattern)
    return int(sizes[kept].sum())


@dataclass(frozen=True, kw_only=True)
class Choice:
    """The format a tensor is stored in and its size.

    Attributes:
        format: The concrete format used (the winner for ``auto``, the fallback where the
            requested one cannot store the tensor).
        footprint_bytes: Bytes including the dtype's per-tensor overhead.
        note: Why a fallback was used; empty otherwise.
    """

    format: ConcreteFormat
    footprint_bytes: int
    note: str = ""


def _why_not(fmt: ConcreteFormat, stats: TensorStats) -> str:
    if isinstance(fmt, CSRFormat):
        return f"{fmt.index_bits}-bit column indices cannot address {stats.cols} columns"
    return f"the weights do not hold the {stats.pattern} pattern"


def choose(stats: TensorStats, fmt: StorageFormat, dtype: DType) -> Choice:
    """Store one prunable tensor: ``auto`` picks the cheapest; others fall back where n/a."""
    if isinstance(fmt, AutoFormat):
        best: Choice | None = None
        for candidate in AUTO_CANDIDATES:
            size = format_bytes(candidate, stats, dtype)
            if size is not None and (best is None or size < best.footprint_bytes):
                best = Choice(format=candidate, footprint_bytes=size)
        assert best is not None  # dense always applies
        return best
    size = format_bytes(fmt, stats, dtype)
    if size is not None:
        return Choice(format=fmt, footprint_bytes=size)
    for fallback in fallbacks_for(fmt):
        fallback_size = format_bytes(fallback, stats, dtype)
        if fallback_size is not None:
            note = f"{fmt.name} n/a ({_why_not(fmt, stats)}): stored as {fallback.name}"
            return Choice(format=fallback, footprint_bytes=fallback_size, note=note)
    raise PrunefrontError(f"storage format {fmt.name!r} cannot store a tensor of {stats.shape}")
