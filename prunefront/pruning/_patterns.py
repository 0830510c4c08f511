"""Sparsity patterns: which groups of weights are pruned together, parsed from strings.

``unstructured`` ranks single weights; ``N:M`` (e.g. ``2:4``) keeps at most N of every M
consecutive weights along the input dimension; ``block`` (e.g. ``4x4``, ``1x8``) prunes whole
rectangular blocks of the 2-D view of a weight. The 2-D view of a tensor of shape
``(out, *rest)`` is ``(out, prod(rest))``: rows are outputs, columns are inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prunefront.errors import PrunefrontError

__all__ = [
    "BlockPattern",
    "NMPattern",
    "Pattern",
    "UnstructuredPattern",
    "parse_pattern",
]


@dataclass(frozen=True, kw_only=True)
class UnstructuredPattern:
    """Rank and prune single weights."""

    def __str__(self) -> str:
        return "unstructured"

    @property
    def min_sparsity(self) -> float:
        """The lowest final sparsity this pattern can express."""
        return 0.0


@dataclass(frozen=True, kw_only=True)
class NMPattern:
    """Keep at most ``n`` of every ``m`` consecutive weights along the input dimension."""

    n: int
    m: int

    def __post_init__(self) -> None:
        if not (0 < self.n < self.m):
            raise PrunefrontError(
                f"pattern {self.n}:{self.m}: N:M needs 0 < N < M (e.g. 2:4), "
                f"got N={self.n}, M={self.m}"
            )
        if self.m > 64:
            raise PrunefrontError(f"pattern {self.n}:{self.m}: M must be <= 64, got {self.m}")

    def __str__(self) -> str:
        return f"{self.n}:{self.m}"

    @property
    def min_sparsity(self) -> float:
        """The final sparsity must be at least ``1 - n/m`` so that every group holds N:M."""
        return 1.0 - self.n / self.m


@dataclass(frozen=True, kw_only=True)
class BlockPattern:
    """Prune whole ``rows x cols`` blocks of the 2-D weight view, ranked by pooled magnitude."""

    rows: int
    cols: int
    pool: str = "mean"

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1 or self.rows * self.cols < 2:
            raise PrunefrontError(
                f"pattern {self.rows}x{self.cols}: a block needs positive sides and >= 2 elements"
            )
        if self.pool not in ("mean", "max"):
            raise PrunefrontError(f"block pooling must be 'mean' or 'max', got {self.pool!r}")

    def __str__(self) -> str:
        return f"{self.rows}x{self.cols}"

    @property
    def min_sparsity(self) -> float:
        """Any sparsity can be approached (to the granularity of one block)."""
        return 0.0


Pattern = UnstructuredPattern | NMPattern | BlockPattern

_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")
_BLOCK = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_pattern(text: str | Pattern) -> Pattern:
    """Parse ``"unstructured"``, ``"N:M"`` or ``"RxC"`` into a pattern.

    Raises:
        PrunefrontError: the text names no valid pattern.
    """
    if isinstance(text, UnstructuredPattern | NMPattern | BlockPattern):
        return text
    if text.strip().lower() == "unstructured":
        return UnstructuredPattern()
    if match := _NM.match(text):
        return NMPattern(n=int(match[1]), m=int(match[2]))
    if match := _BLOCK.match(text):
        return BlockPattern(rows=int(match[1]), cols=int(match[2]))
    raise PrunefrontError(
        f"unknown sparsity pattern {text!r}: "
        "use 'unstructured', 'N:M' (e.g. 2:4) or 'RxC' (e.g. 4x4)"
    )
