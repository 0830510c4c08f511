"""Byte layouts of the storage formats: one tensor to bytes and back.

Each layout takes exactly the bytes its size formula in ``_formats`` counts, so a saved file is the
footprint plus its header. Every payload starts with the dtype's per-tensor prefix (the int8
per-channel scales). Bit fields are packed little-endian (``np.packbits(..., bitorder="little")``).

- dense: all values.
- bitmask: ``ceil(numel/8)`` mask bytes, then the nonzero values in C order.
- csrB: nonzero values, B-bit column indices, ``rows + 1`` int32 row pointers.
- relidxB: entry values (fillers are 0), then B-bit "zeros skipped" fields.
- nm: N values per group of M (zeros pad short groups), then ``ceil(log2 M)``-bit positions;
  groups run along the rows of the N:M view (a convolution's input channels at each position).
- block: one bit per block of the 2-D view, then the kept blocks' elements (block-major).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from prunefront.pruning import BlockPattern, NMPattern, Pattern, matrix_shape, nm_matrix_shape
from prunefront.spaces._dtypes import DType
from prunefront.spaces._formats import (
    BitmaskFormat,
    BlockFormat,
    ConcreteFormat,
    CSRFormat,
    DenseFormat,
    NMFormat,
    RelIdxFormat,
    block_grid,
)
from prunefront.spaces._stats import block_keep, nm_view

__all__ = ["CorruptPayloadError", "decode_tensor", "encode_tensor"]


class CorruptPayloadError(ValueError):
    """A payload disagrees with its header: the file is damaged."""


def pack_uint(values: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integers into ``bits`` bits each (``ceil(n * bits / 8)`` bytes)."""
    if bits in (8, 16, 32):
        return values.astype(f"<u{bits // 8}").tobytes()
    wide = values.astype(np.int64)
    planes = np.empty((wide.size, bits), dtype=np.uint8)  # one byte per bit, not eight
    for bit in range(bits):
        planes[:, bit] = (wide >> bit) & 1
    return np.packbits(planes.ravel(), bitorder="little").tobytes()


def unpack_uint(buf: bytes, count: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_uint`, as int64."""
    if bits in (8, 16, 32):
        return np.frombuffer(buf, dtype=f"<u{bits // 8}", count=count).astype(np.int64)
    raw = np.frombuffer(buf, dtype=np.uint8)
    planes = np.unpackbits(raw, count=count * bits, bitorder="little").reshape(count, bits)
    result = np.zeros(count, dtype=np.int64)
    for bit in range(bits):
        result |= planes[:, bit].astype(np.int64) << bit
    return result


def _pack_bits(flags: np.ndarray) -> bytes:
    return np.packbits(flags.astype(bool).ravel(), bitorder="little").tobytes()


def _unpack_bits(buf: bytes, count: int) -> np.ndarray:
    raw = np.frombuffer(buf, dtype=np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little").astype(bool)


class _Reader:
    """Consumes a payload front to back, refusing to read past its end."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.buf):
            raise CorruptPayloadError("payload shorter than its header says")
        chunk = self.buf[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise CorruptPayloadError("payload longer than its header says")


def _nm_slots(cols: int, pattern: NMPattern) -> tuple[int, np.ndarray]:
    """Groups per row and which of each group's N slots exist (short last group: min(N, r))."""
    groups = -(-cols // pattern.m)
    real = np.minimum(pattern.m, cols - np.arange(groups) * pattern.m)
    valid = np.arange(pattern.n)[None, :] < np.minimum(pattern.n, real)[:, None]
    return groups, valid


def _block_views(rows: int, cols: int, pattern: BlockPattern) -> tuple[tuple[int, int], np.ndarray]:
    grid = block_grid(rows, cols, pattern)
    valid = np.zeros((grid[0] * pattern.rows, grid[1] * pattern.cols), dtype=bool)
    valid[:rows, :cols] = True
    return grid, valid.reshape(grid[0], pattern.rows, grid[1], pattern.cols).transpose(0, 2, 1, 3)


ValueEncoder = Callable[[np.ndarray], bytes]
ValueDecoder = Callable[[int], np.ndarray]


def _encode_body(
    weight: np.ndarray, fmt: ConcreteFormat, pattern: Pattern, enc: ValueEncoder
) -> tuple[int, bytes]:
    """(count for the header, body bytes) of a float32 array in ``fmt``."""
    flat = weight.reshape(-1)
    rows, cols = matrix_shape(weight.shape)
    grid2d = weight.reshape(rows, cols)
    if isinstance(fmt, DenseFormat):
        return flat.size, enc(flat)
    if isinstance(fmt, BitmaskFormat):
        mask = flat != 0
        return int(mask.sum()), _pack_bits(mask) + enc(flat[mask])
    if isinstance(fmt, CSRFormat):
        r, c = np.nonzero(grid2d)
        pointers = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=rows))])
        body = enc(grid2d[r, c]) + pack_uint(c, fmt.index_bits) + pointers.astype("<i4").tobytes()
        return int(r.size), body
    if isinstance(fmt, RelIdxFormat):
        return _encode_relidx(flat, fmt.index_bits, enc)
    if isinstance(fmt, NMFormat) and isinstance(pattern, NMPattern):
        return _encode_nm(nm_view(weight), pattern, enc)
    if isinstance(fmt, BlockFormat) and isinstance(pattern, BlockPattern):
        kept, _ = block_keep(grid2d != 0, pattern)
        select = kept[:, :, None, None] & _block_views(rows, cols, pattern)[1]
        return int(select.sum()), _pack_bits(kept) + enc(_to_blocks(grid2d, pattern)[select])
    raise ValueError(f"no byte layout for storage format {fmt.name} with pattern {pattern}")


def _encode_relidx(flat: np.ndarray, bits: int, enc: ValueEncoder) -> tuple[int, bytes]:
    positions = np.flatnonzero(flat)
    runs = np.diff(positions, prepend=-1) - 1
    fillers = runs >> bits
    entries = positions.size + int(fillers.sum())
    real = np.arange(positions.size) + np.cumsum(fillers)
    skips = np.full(entries, (1 << bits) - 1, dtype=np.int64)
    skips[real] = runs & ((1 << bits) - 1)
    values = np.zeros(entries, dtype=np.float32)
    values[real] = flat[positions]
    return entries, enc(values) + pack_uint(skips, bits)


def _encode_nm(grid2d: np.ndarray, pattern: NMPattern, enc: ValueEncoder) -> tuple[int, bytes]:
    rows, cols = grid2d.shape
    groups, valid = _nm_slots(cols, pattern)
    padded = np.zeros((rows, groups * pattern.m), dtype=np.float32)
    padded[:, :cols] = grid2d
    grouped = padded.reshape(rows, groups, pattern.m)
    # Nonzeros first, then the lowest positions: a short group's real slots come first.
    chosen = np.sort(np.argsort(grouped == 0, axis=2, kind="stable")[:, :, : pattern.n], axis=2)
    values = np.take_along_axis(grouped, chosen, axis=2)[:, valid]
    if np.count_nonzero(values) != np.count_nonzero(grid2d):
        raise ValueError(f"weights do not hold the {pattern} pattern")
    bits = math.ceil(math.log2(pattern.m))
    return int(values.size), enc(values.ravel()) + pack_uint(chosen[:, valid].ravel(), bits)


def _to_blocks(grid2d: np.ndarray, pattern: BlockPattern) -> np.ndarray:
    """The zero-padded 2-D view as (block row, block col, row in block, col in block)."""
    rows, cols = grid2d.shape
    grid = block_grid(rows, cols, pattern)
    padded = np.zeros((grid[0] * pattern.rows, grid[1] * pattern.cols), dtype=np.float32)
    padded[:rows, :cols] = grid2d
    return padded.reshape(grid[0], pattern.rows, grid[1], pattern.cols).transpose(0, 2, 1, 3)


def _decode_body(
    reader: _Reader,
    shape: tuple[int, ...],
    fmt: ConcreteFormat,
    pattern: Pattern,
    count: int,
    dec: ValueDecoder,
) -> np.ndarray:
    rows, cols = matrix_shape(shape)
    numel = rows * cols
    if isinstance(fmt, DenseFormat):
        _expect(count == numel)
        return dec(numel)
    out = np.zeros(numel, dtype=np.float32)
    if isinstance(fmt, BitmaskFormat):
        mask = _unpack_bits(reader.take(-(-numel // 8)), numel)
        _expect(int(mask.sum()) == count)
        out[mask] = dec(count)
        return out
    if isinstance(fmt, CSRFormat):
        values = dec(count)
        columns = unpack_uint(reader.take(count * fmt.index_bits // 8), count, fmt.index_bits)
        pointers = np.frombuffer(reader.take((rows + 1) * 4), dtype="<i4").astype(np.int64)
        counts = np.diff(pointers)
        _expect(pointers[0] == 0 and pointers[-1] == count and bool(np.all(counts >= 0)))
        _expect(bool(np.all(columns < cols)))
        out.reshape(rows, cols)[np.repeat(np.arange(rows), counts), columns] = values
        return out
    if isinstance(fmt, RelIdxFormat):
        values = dec(count)
        skips = unpack_uint(reader.take(-(-count * fmt.index_bits // 8)), count, fmt.index_bits)
        positions = np.cumsum(skips + 1) - 1
        _expect(count == 0 or int(positions[-1]) < numel)
        out[positions] = values
        return out
    if isinstance(fmt, NMFormat) and isinstance(pattern, NMPattern):
        return _decode_nm(reader, shape, pattern, count, dec)
    if isinstance(fmt, BlockFormat) and isinstance(pattern, BlockPattern):
        grid, valid = _block_views(rows, cols, pattern)
        kept = _unpack_bits(reader.take(-(-(grid[0] * grid[1]) // 8)), grid[0] * grid[1])
        select = kept.reshape(grid)[:, :, None, None] & valid
        _expect(int(select.sum()) == count)
        blocks = np.zeros(valid.shape, dtype=np.float32)
        blocks[select] = dec(count)
        padded = blocks.transpose(0, 2, 1, 3).reshape(grid[0] * pattern.rows, -1)
        return np.ascontiguousarray(padded[:rows, :cols]).reshape(-1)
    raise CorruptPayloadError(f"no byte layout for storage format {fmt.name} with {pattern}")


def _decode_nm(
    reader: _Reader, shape: tuple[int, ...], pattern: NMPattern, count: int, dec: ValueDecoder
) -> np.ndarray:
    rows, cols = nm_matrix_shape(shape)
    _, valid = _nm_slots(cols, pattern)
    _expect(count == rows * int(valid.sum()))
    values = dec(count)
    bits = math.ceil(math.log2(pattern.m))
    offsets = unpack_uint(reader.take(-(-count * bits // 8)), count, bits).reshape(rows, -1)
    columns = np.nonzero(valid)[0][None, :] * pattern.m + offsets
    _expect(bool(np.all(columns < cols)))
    view = np.zeros((rows, cols), dtype=np.float32)
    view[np.arange(rows)[:, None], columns] = values.reshape(rows, -1)
    if len(shape) <= 2:
        return view.reshape(-1)
    moved = view.reshape(shape[0], *shape[2:], shape[1])
    return np.ascontiguousarray(np.moveaxis(moved, -1, 1)).reshape(-1)


def _expect(condition: bool) -> None:
    if not condition:
        raise CorruptPayloadError("payload disagrees with its header")


def encode_tensor(
    weight: np.ndarray, fmt: ConcreteFormat, dtype: DType, pattern: Pattern
) -> tuple[int, bytes]:
    """Encode a float32 array in ``fmt``; returns (count for the header, payload bytes).

    ``int8`` writes the per-channel scales first, then the levels in ``fmt`` (a weight that
    rounds to level 0 is stored as a zero).

    Raises:
        ValueError: ``fmt`` cannot store these weights (a caller's bug: choose the format with
            the footprint model first).
    """
    if dtype.name == "int8":
        scales = dtype.scales_for(weight)
        levels = dtype.quantise(weight, scales)
        count, body = _encode_body(levels, fmt, pattern, lambda v: dtype.encode_values(v, 1.0))
        return count, dtype.encode_scales(scales) + body
    count, body = _encode_body(weight, fmt, pattern, lambda v: dtype.encode_values(v, 1.0))
    return count, body


def decode_tensor(
    payload: bytes,
    shape: tuple[int, ...],
    fmt: ConcreteFormat,
    dtype: DType,
    pattern: Pattern,
    count: int,
) -> np.ndarray:
    """Decode what :func:`encode_tensor` wrote, as a float32 array of ``shape``.

    Raises:
        CorruptPayloadError: The payload does not match the shape, format or count.
    """
    reader = _Reader(payload)
    scales = dtype.decode_scales(reader.take(dtype.overhead_bytes(shape)), dtype.scale_count(shape))

    def dec(n: int) -> np.ndarray:
        return dtype.decode_values(reader.take(n * dtype.value_bytes), n, 1.0)

    try:
        flat = _decode_body(reader, shape, fmt, pattern, count, dec)
    except (IndexError, ValueError) as exc:
        if isinstance(exc, CorruptPayloadError):
            raise
        raise CorruptPayloadError(f"payload disagrees with its header ({exc})") from exc
    reader.done()
    values = flat.reshape(shape)
    return dtype.dequantise(values, scales) if dtype.name == "int8" else values
