"""Read a prunefront sparse weight file (``.pfs``) without prunefront: numpy and torch only.

Copy this one file next to your model code; it imports nothing from prunefront. ::

    from pfs_loader import load_pfs

    model = MyNet(width=0.5)                      # the architecture the trial trained
    model.load_state_dict(load_pfs("trial-00017.pfs"))

``load_pfs`` returns the dense state dict (exact zeros restored, tied weights as one tensor) of
a file written by ``prunefront train --checkpoint`` or a search trial (``RUN/artifacts/``); the
file's metadata (task, width, sparsity, pattern, seed) is in ``read_pfs(path)[1]``. It reads
container versions 1 and 2, every storage format (dense, bitmask, csr8/16/32, relidxB, nm,
block) and dtype (float32, float16, bfloat16, int8 with per-channel scales).
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["load_pfs", "read_pfs"]

_PREFIX = struct.Struct("<8sHI")
_VALUE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


def _bits(buf: bytes, count: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(buf, np.uint8), count=count, bitorder="little").astype(bool)


def _uints(buf: bytes, count: int, bits: int) -> np.ndarray:
    if bits in (8, 16, 32):
        return np.frombuffer(buf, f"<u{bits // 8}", count=count).astype(np.int64)
    planes = _bits(buf, count * bits).reshape(count, bits).astype(np.int64)
    return (planes << np.arange(bits)).sum(axis=1)


class _Payload:
    def __init__(self, buf: bytes, dtype: str) -> None:
        self.buf, self.pos, self.dtype = buf, 0, dtype

    def take(self, size: int) -> bytes:
        chunk = self.buf[self.pos : self.pos + size]
        if len(chunk) != size:
            raise ValueError("payload shorter than its header says")
        self.pos += size
        return chunk

    def values(self, count: int) -> np.ndarray:
        raw = self.take(count * _VALUE_BYTES[self.dtype])
        if self.dtype == "float32":
            return np.frombuffer(raw, "<f4").astype(np.float32)
        if self.dtype == "float16":
            return np.frombuffer(raw, "<f2").astype(np.float32)
        if self.dtype == "bfloat16":
            widened = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            return widened.view(np.float32)
        return np.frombuffer(raw, np.int8).astype(np.float32)


def _decode(p: _Payload, shape: list[int], fmt: str, pattern: str, count: int) -> np.ndarray:
    rows = int(shape[0]) if shape else 1
    cols = math.prod(shape[1:]) if shape else 1
    numel = rows * cols
    out = np.zeros(numel, np.float32)
    if fmt == "dense":
        return p.values(numel)
    if fmt == "bitmask":
        mask = _bits(p.take(-(-numel // 8)), numel)
        out[mask] = p.values(count)
    elif fmt.startswith("csr"):
        values, bits = p.values(count), int(fmt[3:])
        columns = _uints(p.take(count * bits // 8), count, bits)
        pointers = np.frombuffer(p.take((rows + 1) * 4), "<i4").astype(np.int64)
        out.reshape(rows, cols)[np.repeat(np.arange(rows), np.diff(pointers)), columns] = values
    elif fmt.startswith("relidx"):
        values, bits = p.values(count), int(fmt[6:])
        skips = _uints(p.take(-(-count * bits // 8)), count, bits)
        out[np.cumsum(skips + 1) - 1] = values
    elif fmt == "nm":
        n, m = (int(x) for x in pattern.split(":"))
        groups = -(-cols // m)
        real = np.minimum(m, cols - np.arange(groups) * m)
        valid = np.arange(n)[None, :] < np.minimum(n, real)[:, None]
        values = p.values(count).reshape(rows, -1)
        bits = math.ceil(math.log2(m))
        offsets = _uints(p.take(-(-count * bits // 8)), count, bits).reshape(rows, -1)
        columns = np.nonzero(valid)[0][None, :] * m + offsets
        out.reshape(rows, cols)[np.arange(rows)[:, None], columns] = values
    elif fmt == "block":
        br, bc = (int(x) for x in pattern.split("x"))
        grid = (-(-rows // br), -(-cols // bc))
        valid = np.zeros((grid[0] * br, grid[1] * bc), dtype=bool)
        valid[:rows, :cols] = True
        valid = valid.reshape(grid[0], br, grid[1], bc).transpose(0, 2, 1, 3)
        kept = _bits(p.take(-(-(grid[0] * grid[1]) // 8)), grid[0] * grid[1]).reshape(grid)
        blocks = np.zeros(valid.shape, np.float32)
        blocks[kept[:, :, None, None] & valid] = p.values(count)
        padded = blocks.transpose(0, 2, 1, 3).reshape(grid[0] * br, -1)
        return np.ascontiguousarray(padded[:rows, :cols]).reshape(-1)
    else:
        raise ValueError(f"unknown storage format {fmt!r}")
    return out


def read_pfs(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The dense state dict and the metadata of a ``.pfs`` file.

    Raises:
        ValueError: Not a ``.pfs`` file, or damaged.
    """
    blob = Path(path).read_bytes()
    magic, version, size = _PREFIX.unpack_from(blob)
    if magic != b"PFSPARSE" or version not in (1, 2):
        raise ValueError(f"{path}: not a prunefront sparse file (or a newer version)")
    header = json.loads(zlib.decompress(blob[_PREFIX.size : _PREFIX.size + size]))
    payload = blob[_PREFIX.size + size :]
    if zlib.crc32(payload) != header["crc32"]:
        raise ValueError(f"{path}: payload checksum mismatch")
    dtype, pattern = header["dtype"], header["pattern"]
    if dtype == "int8" and version == 1:
        raise ValueError(f"{path}: int8 with per-tensor scales (version 1) is not read here")
    state: dict[str, torch.Tensor] = {}
    offset = 0
    for name, fmt, shape, count, nbytes, torch_dtype in header["tensors"]:
        chunk, offset = payload[offset : offset + nbytes], offset + nbytes
        target = getattr(torch, torch_dtype)
        if fmt == "raw":
            array = np.frombuffer(chunk, torch.empty(0, dtype=target).numpy().dtype, count=count)
            state[name] = torch.from_numpy(array.copy()).reshape(shape)
            continue
        reader = _Payload(chunk, dtype)
        scales = None
        if dtype == "int8":
            channels = int(shape[0]) if len(shape) >= 2 else 1
            scales = np.frombuffer(reader.take(4 * channels), "<f4").astype(np.float32)
        flat = _decode(reader, shape, fmt, pattern, count)
        if scales is not None:
            flat = (flat.reshape(scales.size, -1) * scales[:, None]).reshape(-1)
        state[name] = torch.from_numpy(flat.reshape(shape).copy()).to(target)
    for alias, stored in header.get("aliases", {}).items():
        state[alias] = state[stored]
    return state, dict(header.get("metadata", {}))


def load_pfs(path: str | Path) -> dict[str, torch.Tensor]:
    """The dense state dict of a ``.pfs`` file, for ``model.load_state_dict``."""
    return read_pfs(path)[0]


if __name__ == "__main__":  # python pfs_loader.py FILE: list the tensors and the metadata
    import sys

    tensors, meta = read_pfs(sys.argv[1])
    for key, tensor in tensors.items():
        nonzero = int(torch.count_nonzero(tensor))
        print(f"{key:40s} {tuple(tensor.shape)!s:20s} {nonzero}/{tensor.numel()} nonzero")
    print(json.dumps(meta, indent=2))
