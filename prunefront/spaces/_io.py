"""The sparse weight file: a pruned model's state in the storage formats of the footprint model.

Layout (all integers little-endian)::

    b"PFSPARSE"  8-byte magic
    u16          container version (2; 1 is read for files other than int8)
    u32          header length H
    H bytes      zlib-compressed JSON header
    payload      the tensors' payloads, back to back, in header order

The header holds the dtype, the pattern, the user's metadata, a CRC-32 of the payload and one row
per tensor: ``[name, format, shape, count, nbytes, torch dtype]``. Each prunable weight is stored in
the format the footprint model chooses from its actual zeros, every other floating tensor dense in
the chosen dtype, and integer buffers raw. The payload of the parameters is therefore exactly
``model_footprint(model, fmt=..., dtype=...).footprint_bytes``; the file adds the header and
the buffers (e.g. BatchNorm running statistics), which the footprint does not count.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning import Pattern, find_prunable, parse_pattern
from prunefront.spaces._codecs import decode_tensor, encode_tensor
from prunefront.spaces._dtypes import DType, parse_dtype
from prunefront.spaces._formats import (
    AutoFormat,
    ConcreteFormat,
    DenseFormat,
    PaperFormat,
    StorageFormat,
    check_pattern,
    parse_format,
)
from prunefront.spaces._stats import choose, exact_stats

__all__ = ["SparseCheckpoint", "load_sparse", "save_sparse"]

MAGIC = b"PFSPARSE"
VERSION = 2
# Version 1 stored int8 with one scale per tensor; version 2 with one per output channel. Files
# of other dtypes are laid out the same in both and are read either way.
_READABLE = (1, 2)
_PREFIX = struct.Struct("<8sHI")
_RAW = "raw"


@dataclass(frozen=True, kw_only=True)
class SparseCheckpoint:
    """A sparse weight file read back.

    Attributes:
        state_dict: Dense tensors (original dtypes, CPU) with the exact zeros restored; tied
            weights are the same tensor under each name. Load it with ``load_state_dict``.
        metadata: The metadata dict given to :func:`save_sparse`.
        formats: Storage format of each tensor (``raw`` for integer buffers).
        dtype: Value dtype the floating tensors were stored in.
        pattern: The sparsity pattern the file was written with.
        file_bytes: Size of the file.
        header_bytes: Bytes before the payload (magic, version, header); the rest is the
            tensors' payloads, i.e. the footprint plus any buffers.
    """

    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    formats: dict[str, str]
    dtype: str
    pattern: str
    file_bytes: int
    header_bytes: int


def _entries(model: nn.Module) -> tuple[list[tuple[str, torch.Tensor]], dict[str, str]]:
    """Unique state tensors in ``state_dict`` order, and aliases (tied name -> stored name)."""
    unique: list[tuple[str, torch.Tensor]] = []
    first_name: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, value in model.state_dict(keep_vars=True).items():
        if not isinstance(value, torch.Tensor):
            raise PrunefrontError(f"state entry {name!r} is not a tensor; it cannot be saved")
        if id(value) in first_name:
            aliases[name] = first_name[id(value)]
            continue
        first_name[id(value)] = name
        unique.append((name, value))
    return unique, aliases


def _encode_all(
    model: nn.Module,
    fmt_text: str | StorageFormat,
    dtype_text: str | DType,
    pattern: Pattern,
    exclude: Sequence[str],
) -> tuple[str, list[list[Any]], list[bytes], dict[str, str]]:
    """(dtype name, header rows, payloads, aliases) of every unique state tensor."""
    fmt = parse_format(fmt_text)
    dtype = parse_dtype(dtype_text)
    check_pattern(fmt, pattern)
    if isinstance(fmt, PaperFormat):
        raise PrunefrontError(
            f"format {fmt.name!r} is the paper's idealised accounting and cannot be written; "
            "use auto, bitmask, csr16 or relidx4"
        )
    prunable = {id(t.param) for t in find_prunable(model, exclude)}
    unique, aliases = _entries(model)
    rows: list[list[Any]] = []
    payloads: list[bytes] = []
    for name, tensor in unique:
        if tensor.device.type == "meta":
            raise PrunefrontError(f"tensor {name!r} is on the meta device and has no values")
        cpu = tensor.detach().cpu()
        torch_dtype = str(cpu.dtype).removeprefix("torch.")
        if not cpu.is_floating_point():
            payload = cpu.contiguous().numpy().tobytes()
            rows.append([name, _RAW, list(cpu.shape), cpu.numel(), len(payload), torch_dtype])
            payloads.append(payload)
            continue
        chosen: ConcreteFormat = DenseFormat()
        if id(tensor) in prunable:
            chosen = choose(exact_stats(cpu, pattern), fmt, dtype).format
        values = cpu.float().numpy()
        count, payload = encode_tensor(values, chosen, dtype, pattern)
        rows.append([name, chosen.name, list(cpu.shape), count, len(payload), torch_dtype])
        payloads.append(payload)
    return dtype.name, rows, payloads, aliases


def save_sparse(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    fmt: str | StorageFormat = "auto",
    dtype: str | DType = "float32",
    metadata: Mapping[str, Any] | None = None,
    exclude: Sequence[str] = (),
    pattern: str | Pattern = "unstructured",
) -> int:
    """Write ``model``'s state to ``path`` in sparse storage formats, atomically.

    Args:
        path: The file to write (replaced if it exists; nothing is left behind on failure).
        model: The (pruned) model; its actual zeros decide what is stored.
        fmt: Storage format of the prunable weights (``auto`` = cheapest per tensor; ``paper``
            is an accounting, not a layout, and is refused).
        dtype: Value dtype of floating tensors: ``float32`` (lossless), ``float16``,
            ``bfloat16`` or ``int8`` (per-channel scales).
        metadata: JSON-serialisable data stored in the header.
        exclude: Name patterns of weights kept dense (as given to the pruner).
        pattern: The sparsity pattern the model was pruned with (needed by ``nm``/``block``).

    Returns:
        Bytes written.

    Raises:
        PrunefrontError: Bad format, dtype, pattern or metadata, or the file cannot be written.
    """
    parsed_pattern = parse_pattern(pattern)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise PrunefrontError(f"metadata must be a dict, got {type(metadata).__name__}")
    dtype_name, rows, payloads, aliases = _encode_all(model, fmt, dtype, parsed_pattern, exclude)
    payload = b"".join(payloads)
    header: dict[str, Any] = {
        "dtype": dtype_name,
        "pattern": str(parsed_pattern),
        "crc32": zlib.crc32(payload),
        "tensors": rows,
    }
    if aliases:
        header["aliases"] = aliases
    if metadata:
        header["metadata"] = dict(metadata)
    try:
        text = json.dumps(header, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PrunefrontError(f"metadata for {path} is not JSON-serialisable: {exc}") from exc
    packed = zlib.compress(text.encode(), 9)
    blob = _PREFIX.pack(MAGIC, VERSION, len(packed)) + packed + payload
    _write_atomically(Path(path), blob)
    return len(blob)


def _write_atomically(path: Path, blob: bytes) -> None:
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PrunefrontError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PrunefrontError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def _corrupt(path: Path, why: str) -> PrunefrontError:
    return PrunefrontError(f"{path} is not a readable prunefront sparse file: {why}")


def _read_header(path: Path, blob: bytes) -> tuple[dict[str, Any], int]:
    if len(blob) < _PREFIX.size or blob[: len(MAGIC)] != MAGIC:
        raise _corrupt(path, "wrong magic (not written by save_sparse)")
    _, version, header_len = _PREFIX.unpack_from(blob)
    if version not in _READABLE:
        raise _corrupt(path, f"container version {version}, this prunefront reads {_READABLE}")
    end = _PREFIX.size + header_len
    if end > len(blob):
        raise _corrupt(path, "truncated header")
    try:
        header = json.loads(zlib.decompress(blob[_PREFIX.size : end]))
    except (zlib.error, ValueError) as exc:
        raise _corrupt(path, "damaged header") from exc
    if not isinstance(header, dict) or not isinstance(header.get("tensors"), list):
        raise _corrupt(path, "damaged header")
    payload = blob[end:]
    try:
        expected = sum(int(row[4]) for row in header["tensors"])
    except (TypeError, ValueError, IndexError) as exc:
        raise _corrupt(path, "damaged header") from exc
    if len(payload) != expected:
        raise _corrupt(
            path, f"payload is {len(payload)} bytes, header says {expected} (truncated?)"
        )
    if zlib.crc32(payload) != header.get("crc32"):
        raise _corrupt(path, "payload checksum mismatch")
    if version == 1 and header.get("dtype") == "int8":
        raise _corrupt(path, "int8 with per-tensor scales (container version 1); save it again")
    return header, end


def load_sparse(path: str | os.PathLike[str]) -> SparseCheckpoint:
    """Read a file written by :func:`save_sparse`.

    Raises:
        PrunefrontError: The file is missing, truncated, corrupt or not a sparse file; the
            message names the path.
    """
    file = Path(path)
    try:
        blob = file.read_bytes()
    except OSError as exc:
        raise PrunefrontError(f"cannot read {file}: {exc.strerror or exc}") from exc
    header, header_bytes = _read_header(file, blob)
    payload = blob[header_bytes:]
    state: dict[str, torch.Tensor] = {}
    formats: dict[str, str] = {}
    offset = 0
    try:
        dtype = parse_dtype(header["dtype"])
        pattern = parse_pattern(header["pattern"])
        for name, fmt_name, shape, count, nbytes, torch_name in header["tensors"]:
            chunk = payload[offset : offset + nbytes]
            offset += nbytes
            target = getattr(torch, str(torch_name), None)
            if not isinstance(target, torch.dtype):
                raise ValueError(f"unknown tensor dtype {torch_name!r}")
            if fmt_name == _RAW:
                array = np.frombuffer(chunk, dtype=_numpy_dtype(target), count=count)
                tensor = torch.from_numpy(array.copy()).reshape(shape)
            else:
                fmt = parse_format(fmt_name)
                if isinstance(fmt, AutoFormat | PaperFormat):
                    raise ValueError(f"{fmt_name!r} is not a stored format")
                values = decode_tensor(chunk, tuple(shape), fmt, dtype, pattern, count)
                tensor = torch.from_numpy(values).to(target)
            state[name] = tensor
            formats[name] = fmt_name
        for alias, stored in header.get("aliases", {}).items():
            state[alias] = state[stored]
            formats[alias] = formats[stored]
    except (PrunefrontError, KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        raise _corrupt(file, str(exc) or type(exc).__name__) from exc
    return SparseCheckpoint(
        state_dict=state,
        metadata=dict(header.get("metadata", {})),
        formats=formats,
        dtype=dtype.name,
        pattern=str(pattern),
        file_bytes=len(blob),
        header_bytes=header_bytes,
    )


def _numpy_dtype(target: torch.dtype) -> np.dtype[Any]:
    return np.dtype(torch.empty(0, dtype=target).numpy().dtype)
