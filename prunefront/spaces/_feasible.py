"""Which final sparsities fit a memory budget at a given width, known before any training.

The analytic footprint falls (never rises) as sparsity grows for every format, so the feasible
sparsities at a width form an interval ``[lo, max_sparsity]``. The search checks that on a grid,
then bisects the boundary to 1e-4 so that ``lo`` itself fits the budget.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import Pattern, parse_pattern
from prunefront.spaces._dtypes import DType, parse_dtype
from prunefront.spaces._footprint import ModelLayout, analytic_footprint_bytes, model_layout
from prunefront.spaces._formats import StorageFormat, check_pattern, parse_format

__all__ = ["feasible_intervals", "feasible_sparsity"]

ModelFn = Callable[[float], nn.Module]
Interval = tuple[float, float]

GRID_POINTS = 101
TOLERANCE = 1e-4


def build_layout(model_fn: ModelFn, width: float, exclude: Sequence[str]) -> ModelLayout:
    """Build the model at ``width`` once and keep its parameter shapes.

    The model is built normally, not on the meta device: a task's ``build`` may load or cache
    data (a vocabulary, a corpus), and anything it cached under a meta-device context would
    be an empty meta tensor for the rest of the process.
    """
    with torch.no_grad():
        model = model_fn(width)
    if not isinstance(model, nn.Module):
        raise PrunefrontError(
            f"the model builder returned {type(model).__name__} at width {width}, not an nn.Module"
        )
    return model_layout(model, exclude)


def _check_args(budget_bytes: float, max_sparsity: float, pattern: Pattern) -> None:
    if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, numbers.Real):
        raise PrunefrontError(f"budget_bytes must be a positive number, got {budget_bytes!r}")
    if not budget_bytes > 0 or math.isinf(budget_bytes):
        raise PrunefrontError(f"budget_bytes must be a positive number, got {budget_bytes!r}")
    if isinstance(max_sparsity, bool) or not isinstance(max_sparsity, numbers.Real):
        raise PrunefrontError(f"max_sparsity must be in (0, 1), got {max_sparsity!r}")
    if not 0.0 < max_sparsity < 1.0:
        raise PrunefrontError(f"max_sparsity must be in (0, 1), got {max_sparsity!r}")
    if max_sparsity < pattern.min_sparsity:
        raise PrunefrontError(
            f"max_sparsity {max_sparsity:g} is below the minimum {pattern.min_sparsity:g} "
            f"of pattern {pattern}"
        )


def feasible_on_layout(
    layout: ModelLayout,
    *,
    budget_bytes: float,
    pattern: Pattern,
    fmt: StorageFormat,
    dtype: DType,
    max_sparsity: float,
) -> Interval | None:
    """The feasible interval of one model layout (arguments already parsed and checked)."""

    def fits(sparsity: float) -> bool:
        return analytic_footprint_bytes(layout, sparsity, pattern, fmt, dtype) <= budget_bytes

    lowest = pattern.min_sparsity
    grid = np.linspace(lowest, max_sparsity, GRID_POINTS)
    ok = [fits(float(s)) for s in grid]
    if not ok[-1]:
        return None
    # The last infeasible grid point bounds the interval from below even if the footprint were
    # not monotone somewhere to its left: every grid point above it fits.
    bad = [i for i, flag in enumerate(ok) if not flag]
    if not bad:
        return (float(lowest), float(max_sparsity))
    below, above = float(grid[bad[-1]]), float(grid[bad[-1] + 1])
    while above - below > TOLERANCE:
        middle = 0.5 * (below + above)
        if fits(middle):
            above = middle
        else:
            below = middle
    return (above, float(max_sparsity))


def feasible_sparsity(
    model_fn: ModelFn,
    width: float,
    *,
    budget_bytes: float,
    pattern: str | Pattern = "unstructured",
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    exclude: Sequence[str] = (),
    max_sparsity: float = 0.99,
) -> Interval | None:
    """The final sparsities ``(lo, hi)`` whose analytic footprint fits ``budget_bytes``.

    Args:
        model_fn: Builds the model at a width multiplier (e.g. ``task.build``).
        width: The width multiplier.
        budget_bytes: The memory budget (a hard constraint: footprint <= budget).
        pattern: Sparsity pattern; N:M starts at its minimum sparsity 1 - N/M.
        fmt: Storage format name (``auto`` = cheapest per tensor).
        dtype: Value dtype.
        exclude: Name patterns of weights left dense.
        max_sparsity: The highest sparsity the search may use; it is ``hi``.

    Returns:
        ``(lo, hi)`` with ``lo`` within 1e-4 of the smallest sparsity that fits (``lo`` itself
        fits), or None when even ``max_sparsity`` does not fit.

    Raises:
        PrunefrontError: Bad budget, max_sparsity, pattern, format or dtype.
    """
    return feasible_intervals(
        model_fn,
        [width],
        budget_bytes=budget_bytes,
        pattern=pattern,
        fmt=fmt,
        dtype=dtype,
        exclude=exclude,
        max_sparsity=max_sparsity,
    )[width]


def feasible_intervals(
    model_fn: ModelFn,
    widths: Sequence[float],
    *,
    budget_bytes: float,
    pattern: str | Pattern = "unstructured",
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    exclude: Sequence[str] = (),
    max_sparsity: float = 0.99,
) -> dict[float, Interval | None]:
    """:func:`feasible_sparsity` for every width, building each width's model once.

    Returns:
        A dict from width to its ``(lo, hi)`` interval, or None where nothing fits.
    """
    parsed_pattern = parse_pattern(pattern)
    parsed_fmt = parse_format(fmt)
    parsed_dtype = parse_dtype(dtype)
    check_pattern(parsed_fmt, parsed_pattern)
    _check_args(budget_bytes, max_sparsity, parsed_pattern)
    layouts: dict[float, ModelLayout] = {}
    intervals: dict[float, Interval | None] = {}
    for width in widths:
        if width not in layouts:
            layouts[width] = build_layout(model_fn, width, exclude)
        intervals[width] = feasible_on_layout(
            layouts[width],
            budget_bytes=float(budget_bytes),
            pattern=parsed_pattern,
            fmt=parsed_fmt,
            dtype=parsed_dtype,
            max_sparsity=float(max_sparsity),
        )
    return intervals
