"""The search space: width x pattern x sparsity, feasible under the footprint budget by design.

For every (width, pattern) the footprint model gives the interval of final sparsities whose
footprint fits the budget. The sampler draws ``sparsity_u`` in [0, 1] and the trial's sparsity is
``lo + u * (hi - lo)`` inside that interval, so no trial is wasted on a point over budget and the
sampler still sees one fixed distribution. Widths that fit under no pattern are dropped.

The width is drawn as ``width_index``, its position among the ascending widths: an ordered
integer, so that a model-based sampler (GP, TPE) learns that neighbouring widths behave alike,
which a categorical choice hides from it (``bench/search_efficiency.py`` measures the gain).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import parse_pattern
from prunefront.spaces._dtypes import parse_dtype
from prunefront.spaces._feasible import build_layout, feasible_on_layout
from prunefront.spaces._footprint import ModelLayout, analytic_footprint_bytes
from prunefront.spaces._formats import parse_format

__all__ = ["IsoPair", "SearchSpace", "SuggestsParams"]

DENSE_SNAP = 0.01
"""Sparsities below this snap to 0: a 0.3 %-sparse model is a dense model with extra bookkeeping."""


class SuggestsParams(Protocol):
    """The part of ``optuna.Trial`` the space uses (so tests can pass a fake)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...

    def suggest_float(self, name: str, low: float, high: float) -> float: ...


@dataclass(frozen=True)
class IsoPair:
    """The paper's question at one footprint level: the small-dense and large-sparse candidates."""

    level_bytes: int
    small_width: float
    large_width: float
    large_sparsity: float
    pattern: str


def _ceil4(x: float) -> float:
    return math.ceil(x * 1e4 - 1e-9) / 1e4


class SearchSpace:
    """Width x pattern x sparsity under a hard footprint budget.

    Args:
        model_fn: ``task.build``.
        widths: Candidate width multipliers.
        patterns: Sparsity pattern names.
        sparsity_min, sparsity_max: The configured sparsity range.
        budget_bytes: The budget; None = the full-width dense model's footprint (no constraint).
        fmt, dtype: Storage format and dtype of the footprint.
        exclude: Layers kept dense.
    """

    def __init__(
        self,
        model_fn: Callable[[float], nn.Module],
        *,
        widths: Sequence[float],
        patterns: Sequence[str] = ("unstructured",),
        sparsity_min: float = 0.0,
        sparsity_max: float = 0.98,
        budget_bytes: int | None = None,
        fmt: str = "auto",
        dtype: str = "float32",
        exclude: Sequence[str] = (),
    ) -> None:
        self.format = parse_format(fmt)
        self.dtype = parse_dtype(dtype)
        self.patterns = tuple(str(parse_pattern(p)) for p in patterns)
        self._layouts: dict[float, ModelLayout] = {
            w: build_layout(model_fn, w, exclude) for w in sorted(set(widths))
        }
        if budget_bytes is None:
            budget_bytes = self.footprint(max(self._layouts), 0.0, "unstructured")
        self.budget_bytes = int(budget_bytes)
        self.sparsity_max = sparsity_max
        self._intervals: dict[tuple[float, str], tuple[float, float]] = {}
        dropped = []
        for width in self._layouts:
            found = {
                p: self._interval(width, p, self.budget_bytes, sparsity_min) for p in self.patterns
            }
            if any(iv is None for iv in found.values()):
                dropped.append(width)
                continue
            for pattern, interval in found.items():
                assert interval is not None
                self._intervals[(width, pattern)] = interval
        self.widths = tuple(w for w in self._layouts if w not in dropped)  # ascending
        self.dropped_widths = tuple(dropped)
        if not self.widths:
            raise PrunefrontError(
                f"budget.bytes: {self.budget_bytes} B fits no width of {sorted(self._layouts)} "
                f"at any sparsity up to {sparsity_max} with patterns {list(self.patterns)}"
            )

    def _interval(
        self, width: float, pattern: str, budget: int, sparsity_min: float
    ) -> tuple[float, float] | None:
        parsed = parse_pattern(pattern)
        interval = feasible_on_layout(
            self._layouts[width],
            budget_bytes=budget,
            pattern=parsed,
            fmt=self.format,
            dtype=self.dtype,
            max_sparsity=self.sparsity_max,
        )
        if interval is None:
            return None
        lo = max(interval[0], sparsity_min, parsed.min_sparsity)
        if lo == 0.0 and not self.footprint(width, 0.0, pattern) <= budget:
            return None
        lo = _ceil4(lo) if lo > 0 else 0.0
        return (min(lo, self.sparsity_max), self.sparsity_max)

    def interval(self, width: float, pattern: str) -> tuple[float, float]:
        """The feasible sparsity interval of (width, pattern)."""
        return self._intervals[(width, pattern)]

    def footprint(self, width: float, sparsity: float, pattern: str) -> int:
        """Analytic footprint (bytes) of a candidate, known before training."""
        return analytic_footprint_bytes(
            self._layouts[width], sparsity, parse_pattern(pattern), self.format, self.dtype
        )

    def sparsity_of(self, width: float, pattern: str, u: float) -> float:
        """Map ``u`` in [0, 1] into the feasible interval (4 decimals; tiny ones snap to dense)."""
        lo, hi = self.interval(width, pattern)
        sparsity = lo + min(max(u, 0.0), 1.0) * (hi - lo)
        if lo == 0.0 and sparsity < DENSE_SNAP:
            return 0.0
        return min(max(round(sparsity, 4), lo), hi)

    def u_of(self, width: float, pattern: str, sparsity: float) -> float:
        """The inverse of ``sparsity_of`` (for enqueued candidates)."""
        lo, hi = self.interval(width, pattern)
        if hi <= lo:
            return 0.0
        return min(max((sparsity - lo) / (hi - lo), 0.0), 1.0)

    def suggest(self, trial: SuggestsParams) -> tuple[float, str, float]:
        """Draw (width, pattern, sparsity) from ``trial``; the point always fits the budget."""
        pattern = str(trial.suggest_categorical("pattern", list(self.patterns)))
        width = self.widths[trial.suggest_int("width_index", 0, len(self.widths) - 1)]
        u = trial.suggest_float("sparsity_u", 0.0, 1.0)
        return width, pattern, self.sparsity_of(width, pattern, u)

    def params_for(self, width: float, pattern: str, sparsity: float) -> dict[str, Any]:
        """Optuna params that reproduce (width, pattern, sparsity) through ``suggest``."""
        return {
            "pattern": pattern,
            "width_index": self.widths.index(width),
            "sparsity_u": self.u_of(width, pattern, sparsity),
        }

    def grid(self, sparsities: int) -> dict[str, list[Any]]:
        """Every parameter's values for an exhaustive grid: ``sparsities`` evenly spaced
        points of each width's feasible interval (``sparsity_u`` from 0 to 1)."""
        steps = [i / (sparsities - 1) for i in range(sparsities)]
        return {
            "pattern": list(self.patterns),
            "width_index": list(range(len(self.widths))),
            "sparsity_u": steps,
        }

    def iso_pairs(self, levels: int, large_width: float | None = None) -> list[IsoPair]:
        """Up to ``levels`` equal-footprint pairs (needs the unstructured pattern in the space).

        Each level is the dense footprint of a width narrower than ``large_width`` (default: the
        widest width); its large-sparse side is ``large_width`` pruned to the least unstructured
        sparsity whose footprint is no larger than the level. Levels are spread over the
        narrower widths, the widest of them always included.

        Raises:
            PrunefrontError: ``large_width`` is not a width the budget fits, or no width is
                narrower than it.
        """
        if levels <= 0 or len(self.widths) < 2 or "unstructured" not in self.patterns:
            return []
        pattern = "unstructured"
        large = max(self.widths) if large_width is None else float(large_width)
        if large not in self.widths:
            raise PrunefrontError(
                f"space.iso_large_width: {large} fits no sparsity under the budget; the widths "
                f"that fit are {list(self.widths)}"
            )
        small = [w for w in self.widths if w < large and self.interval(w, pattern)[0] == 0.0]
        if large_width is not None and not small:
            raise PrunefrontError(
                f"space.iso_large_width: {large} is not wider than any level's width (no "
                f"narrower width of {list(self.widths)} fits the budget dense)"
            )
        step = max(1, math.ceil(len(small) / levels))
        chosen = small[::-1][::step][:levels][::-1]  # spread, always including the largest
        pairs = []
        for width in chosen:
            level = self.footprint(width, 0.0, "unstructured")
            interval = self._interval(large, pattern, level, 0.0)
            if interval is None or interval[0] > self.sparsity_max:
                continue
            lo_global, _ = self.interval(large, pattern)
            pairs.append(
                IsoPair(
                    level_bytes=level,
                    small_width=width,
                    large_width=large,
                    large_sparsity=max(interval[0], lo_global),
                    pattern=pattern,
                )
            )
        return pairs
