"""Storage formats of a pruned weight tensor and the exact number of bytes each one takes.

Every size is computed from a :class:`TensorStats`: either *analytic* (a shape and a nonzero count,
positions assumed uniformly random) or *exact* (counted on an actual mask). Sizes exclude the
per-tensor dtype overhead (the int8 scales), which :func:`format_bytes` adds once.

Names: ``dense``, ``bitmask``, ``csr8``/``csr16``/``csr32`` (``csr`` = ``csr16``), ``relidxB``
(``relidx`` = ``relidx4``), ``nm``, ``block``, ``paperB`` (``paper`` = ``paper4``) and ``auto``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from prunefront.errors import PrunefrontError
from prunefront.pruning import BlockPattern, NMPattern, Pattern, nm_matrix_shape
from prunefront.spaces._dtypes import DType

__all__ = [
    "AutoFormat",
    "BitmaskFormat",
    "BlockFormat",
    "CSRFormat",
    "DenseFormat",
    "NMFormat",
    "PaperFormat",
    "RelIdxFormat",
    "StorageFormat",
    "TensorStats",
    "format_bytes",
    "parse_format",
]

ROW_POINTER_BYTES = 4  # CSR row pointers are int32
_CSR_BITS = (8, 16, 32)
_RELIDX_BITS = range(1, 17)
_PAPER_BITS = range(1, 33)


@dataclass(frozen=True, kw_only=True)
class TensorStats:
    """What a size formula needs to know about one weight tensor.

    Attributes:
        shape: The tensor's shape; ``rows`` x ``cols`` is its 2-D view.
        nnz: Number of nonzero (kept) values.
        pattern: The sparsity pattern the tensor was pruned with.
        zero_runs: Exact: the number of zeros before each nonzero in flat C order (the first run
            counts from the start). ``None`` for the analytic size.
        nm_fits: Exact: whether every N:M group holds at most N nonzeros. ``None`` = analytic.
        kept_block_elems: Elements of the kept blocks under a block pattern (``nnz`` when
            analytic, where nnz already counts whole blocks).
    """

    shape: tuple[int, ...]
    rows: int
    cols: int
    numel: int
    nnz: int
    pattern: Pattern
    zero_runs: np.ndarray | None = None
    nm_fits: bool | None = None
    kept_block_elems: int | None = None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def nm_capacity(rows: int, cols: int, pattern: NMPattern) -> int:
    """Slots an N:M tensor stores: N per group of M, ``min(N, r)`` for a short last group."""
    full, rest = divmod(cols, pattern.m)
    return rows * (full * pattern.n + min(pattern.n, rest))


def block_grid(rows: int, cols: int, pattern: BlockPattern) -> tuple[int, int]:
    """Blocks along rows and along columns of the 2-D view (edge blocks may be ragged)."""
    return _ceil_div(rows, pattern.rows), _ceil_div(cols, pattern.cols)


@dataclass(frozen=True, kw_only=True)
class DenseFormat:
    """Every element stored."""

    @property
    def name(self) -> str:
        return "dense"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        return stats.numel * dtype.value_bytes


@dataclass(frozen=True, kw_only=True)
class BitmaskFormat:
    """One bit per element (``np.packbits``) + the nonzero values."""

    @property
    def name(self) -> str:
        return "bitmask"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        return _ceil_div(stats.numel, 8) + stats.nnz * dtype.value_bytes


@dataclass(frozen=True, kw_only=True)
class CSRFormat:
    """Compressed sparse rows of the 2-D view: values, column indices, int32 row pointers.

    Not applicable when the index width cannot address every column (``cols > 2**index_bits``).
    """

    index_bits: int = 16

    @property
    def name(self) -> str:
        return f"csr{self.index_bits}"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        if stats.cols > 2**self.index_bits:
            return None
        per_value = dtype.value_bytes + self.index_bits // 8
        return stats.nnz * per_value + (stats.rows + 1) * ROW_POINTER_BYTES


def expected_fillers(numel: int, nnz: int, index_bits: int) -> float:
    """Expected filler entries of relative indexing for uniformly random nonzero positions.

    Modelling each position as nonzero with probability ``p = nnz / numel``, the run of zeros
    before a nonzero is geometric, ``P(z >= k) = q**k`` with ``q = 1 - p``. A run of ``z`` zeros
    needs ``floor(z / L)`` fillers (``L = 2**index_bits``), whose mean is
    ``sum_j q**(j L) = q**L / (1 - q**L)``; there are ``nnz`` runs.
    """
    if nnz <= 0 or nnz >= numel:
        return 0.0
    tail = (1.0 - nnz / numel) ** (2**index_bits)
    return nnz * tail / (1.0 - tail)


@dataclass(frozen=True, kw_only=True)
class RelIdxFormat:
    """Deep Compression's relative indexing: entries of (value, zeros skipped) in flat C order.

    A run of zeros longer than ``2**index_bits - 1`` inserts filler entries (value 0), each
    costing a value and an index. Index fields are bit-packed. The exact size counts the real
    fillers; the analytic size uses :func:`expected_fillers` (uniformly random positions, so it
    is an approximation for N:M and block patterns, whose gaps are more regular).
    """

    index_bits: int = 4

    @property
    def name(self) -> str:
        return f"relidx{self.index_bits}"

    def entries(self, stats: TensorStats) -> int:
        """Stored entries: nonzeros plus fillers (exact, or the expected count rounded)."""
        if stats.zero_runs is not None:
            fillers = int(np.sum(stats.zero_runs >> self.index_bits))
        else:
            # floor(x + 0.5), not round(): banker's rounding could make the size non-monotone.
            fillers = math.floor(expected_fillers(stats.numel, stats.nnz, self.index_bits) + 0.5)
        return stats.nnz + fillers

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        count = self.entries(stats)
        return count * dtype.value_bytes + _ceil_div(count * self.index_bits, 8)


@dataclass(frozen=True, kw_only=True)
class NMFormat:
    """N of every M values stored (zeros included) + ``ceil(log2 M)`` position bits each.

    Groups run along the columns of ``nm_matrix_shape`` (a convolution's input channels). Only
    for tensors pruned with an N:M pattern, and only if every group holds at most N nonzeros.
    """

    @property
    def name(self) -> str:
        return "nm"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        pattern = stats.pattern
        if not isinstance(pattern, NMPattern):
            return None
        slots = nm_capacity(*nm_matrix_shape(stats.shape), pattern)
        fits = stats.nm_fits if stats.nm_fits is not None else stats.nnz <= slots
        if not fits:
            return None
        position_bits = math.ceil(math.log2(pattern.m))
        return slots * dtype.value_bytes + _ceil_div(slots * position_bits, 8)


@dataclass(frozen=True, kw_only=True)
class BlockFormat:
    """One bit per block of the 2-D view + every element of the kept blocks (ragged edges ok).

    Only for tensors pruned with a block pattern.
    """

    @property
    def name(self) -> str:
        return "block"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        pattern = stats.pattern
        if not isinstance(pattern, BlockPattern):
            return None
        grid = block_grid(stats.rows, stats.cols, pattern)
        kept = stats.kept_block_elems if stats.kept_block_elems is not None else stats.nnz
        return _ceil_div(grid[0] * grid[1], 8) + kept * dtype.value_bytes


@dataclass(frozen=True, kw_only=True)
class PaperFormat:
    """The paper's accounting (Tables 5-6): values + the cheaper of a bitmask or an ideal index.

    ``nnz * value_bytes + min(1 bit per element, index_bits per nonzero)``, with no filler
    entries: an idealised lower bound of a compressed index, not a format that can be written.
    """

    index_bits: int = 4

    @property
    def name(self) -> str:
        return f"paper{self.index_bits}"

    def payload_bytes(self, stats: TensorStats, dtype: DType) -> int | None:
        index_bits = min(stats.numel, self.index_bits * stats.nnz)
        return stats.nnz * dtype.value_bytes + _ceil_div(index_bits, 8)


@dataclass(frozen=True, kw_only=True)
class AutoFormat:
    """The cheapest applicable writable format per tensor (dense included)."""

    @property
    def name(self) -> str:
        return "auto"


ConcreteFormat = (
    DenseFormat | BitmaskFormat | CSRFormat | RelIdxFormat | NMFormat | BlockFormat | PaperFormat
)
StorageFormat = ConcreteFormat | AutoFormat

# Deep Compression used 8-bit relative indices for conv layers and 5-bit ones for FC layers.
AUTO_CANDIDATES: tuple[ConcreteFormat, ...] = (
    DenseFormat(),
    BitmaskFormat(),
    NMFormat(),
    BlockFormat(),
    CSRFormat(index_bits=8),
    CSRFormat(index_bits=16),
    CSRFormat(index_bits=32),
    RelIdxFormat(index_bits=4),
    RelIdxFormat(index_bits=5),
    RelIdxFormat(index_bits=8),
)
REPORTED_FORMATS: tuple[ConcreteFormat, ...] = (*AUTO_CANDIDATES, PaperFormat(index_bits=4))


def format_bytes(fmt: ConcreteFormat, stats: TensorStats, dtype: DType) -> int | None:
    """Bytes of one tensor in ``fmt`` including the dtype's per-tensor overhead; None = n/a."""
    payload = fmt.payload_bytes(stats, dtype)
    return None if payload is None else payload + dtype.overhead_bytes(stats.shape)


def fallbacks_for(fmt: ConcreteFormat) -> tuple[ConcreteFormat, ...]:
    """What an explicitly requested format falls back to where it cannot store a tensor, in order.

    A CSR format falls back to the next wider index (``csr8`` -> ``csr16`` -> ``csr32``); ``nm``
    to ``bitmask``.
    """
    if isinstance(fmt, CSRFormat):
        return tuple(CSRFormat(index_bits=b) for b in (16, 32) if b > fmt.index_bits)
    if isinstance(fmt, NMFormat):
        return (BitmaskFormat(),)
    return ()


def check_pattern(fmt: StorageFormat, pattern: Pattern) -> None:
    """Reject a pattern-specific format requested for a model pruned with another pattern."""
    if isinstance(fmt, NMFormat) and not isinstance(pattern, NMPattern):
        raise PrunefrontError(f"storage format 'nm' needs an N:M pattern (e.g. 2:4), got {pattern}")
    if isinstance(fmt, BlockFormat) and not isinstance(pattern, BlockPattern):
        raise PrunefrontError(
            f"storage format 'block' needs a block pattern (e.g. 4x4), got {pattern}"
        )


_VALID = (
    "auto, dense, bitmask, csr8, csr16, csr32 (csr = csr16), relidxB with B in 1..16 "
    "(relidx = relidx4), nm, block, paperB with B in 1..32 (paper = paper4)"
)
_NAMED = re.compile(r"^(csr|relidx|paper)(\d*)$")


def parse_format(text: str | StorageFormat) -> StorageFormat:
    """Parse a storage format name (case-insensitive), e.g. ``"csr16"``, ``"relidx5"``, ``"auto"``.

    Raises:
        PrunefrontError: The text names no storage format; the message lists the valid ones.
    """
    if isinstance(text, ConcreteFormat | AutoFormat):
        return text
    if not isinstance(text, str):
        raise PrunefrontError(f"storage format must be a string, one of: {_VALID}")
    name = text.strip().lower()
    simple: dict[str, StorageFormat] = {
        "auto": AutoFormat(),
        "dense": DenseFormat(),
        "bitmask": BitmaskFormat(),
        "nm": NMFormat(),
        "block": BlockFormat(),
    }
    if name in simple:
        return simple[name]
    match = _NAMED.match(name)
    if match:
        kind, digits = match[1], match[2]
        bits = int(digits) if digits else {"csr": 16, "relidx": 4, "paper": 4}[kind]
        if kind == "csr" and bits in _CSR_BITS:
            return CSRFormat(index_bits=bits)
        if kind == "relidx" and bits in _RELIDX_BITS:
            return RelIdxFormat(index_bits=bits)
        if kind == "paper" and bits in _PAPER_BITS:
            return PaperFormat(index_bits=bits)
    raise PrunefrontError(f"unknown storage format {text!r}: use one of {_VALID}")
