"""Value dtypes of stored weights: bytes per value, per-tensor overhead and the value codec.

``float32`` (4 B), ``float16`` and ``bfloat16`` (2 B) store values as they are; ``int8`` stores one
byte per value plus one float32 scale per output channel (symmetric per-channel quantisation of
the 2-D view's rows, ``q = round(w / scale)`` with ``scale = max|w_row| / 127``; one scale for a
tensor of fewer than two dimensions), so an exact zero stays an exact zero. :meth:`DType.rounded`
gives the float32 weights a model computes with once stored in the dtype: what the task metric is
evaluated with, so the metric, the footprint and the exported file describe the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from prunefront.errors import PrunefrontError

__all__ = ["DTYPE_NAMES", "DType", "parse_dtype"]

DTYPE_NAMES = ("float32", "float16", "bfloat16", "int8")
_VALUE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
_INT8_MAX = 127


@dataclass(frozen=True, kw_only=True)
class DType:
    """How one stored weight value is encoded.

    Attributes:
        name: One of ``float32``, ``float16``, ``bfloat16``, ``int8``.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in _VALUE_BYTES:
            raise PrunefrontError(
                f"unknown dtype {self.name!r}: use one of {', '.join(DTYPE_NAMES)}"
            )

    def __str__(self) -> str:
        return self.name

    @property
    def value_bytes(self) -> int:
        """Bytes per stored value."""
        return _VALUE_BYTES[self.name]

    def scale_count(self, shape: Sequence[int]) -> int:
        """Scales stored for a tensor of ``shape``: one per output channel for ``int8``."""
        if self.name != "int8":
            return 0
        return int(shape[0]) if len(shape) >= 2 else 1

    def overhead_bytes(self, shape: Sequence[int]) -> int:
        """Bytes stored once per tensor: the float32 scales of ``int8``, nothing otherwise."""
        return 4 * self.scale_count(shape)

    def scales_for(self, weight: np.ndarray) -> np.ndarray:
        """The ``int8`` scales of ``weight`` (float32, one per row of its 2-D view, or one).

        Rows that are all zero (or not finite) get scale 1.0. Empty for float dtypes.
        """
        if self.name != "int8":
            return np.zeros(0, dtype=np.float32)
        rows = self.scale_count(weight.shape)
        view = np.abs(np.asarray(weight, dtype=np.float32).reshape(rows, -1))
        peak = view.max(axis=1) if view.shape[1] else np.zeros(rows, dtype=np.float32)
        usable = np.isfinite(peak) & (peak > 0)
        return np.where(usable, peak / np.float32(_INT8_MAX), np.float32(1.0)).astype(np.float32)

    def quantise(self, weight: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """``int8`` levels of ``weight`` (float32 integers in [-127, 127], ``weight``'s shape)."""
        rows = self.scale_count(weight.shape)
        view = np.asarray(weight, dtype=np.float32).reshape(rows, -1)
        levels = np.clip(np.rint(view / scales[:, None]), -_INT8_MAX, _INT8_MAX)
        return levels.astype(np.float32).reshape(weight.shape)

    def dequantise(self, levels: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Float32 weights of ``int8`` levels (inverse of :meth:`quantise` up to rounding)."""
        rows = self.scale_count(levels.shape)
        view = np.asarray(levels, dtype=np.float32).reshape(rows, -1) * scales[:, None]
        return view.astype(np.float32).reshape(levels.shape)

    def rounded(self, weight: np.ndarray) -> np.ndarray:
        """The float32 values ``weight`` has once stored in this dtype and read back."""
        array = np.ascontiguousarray(weight, dtype=np.float32)
        if self.name == "float32":
            return array.copy()
        if self.name == "int8":
            scales = self.scales_for(array)
            return self.dequantise(self.quantise(array, scales), scales)
        flat = array.ravel()
        decoded = self.decode_values(self.encode_values(flat, 1.0), flat.size, 1.0)
        return decoded.reshape(array.shape)

    def encode_scales(self, scales: np.ndarray) -> bytes:
        """The per-tensor bytes written before a tensor's payload (the int8 scales)."""
        return np.asarray(scales, dtype="<f4").tobytes()

    def decode_scales(self, buf: bytes, count: int) -> np.ndarray:
        """Read back what :meth:`encode_scales` wrote."""
        return np.frombuffer(buf, dtype="<f4", count=count).astype(np.float32)

    def encode_values(self, values: np.ndarray, scale: float) -> bytes:
        """Encode float values (any shape, C order) as ``value_bytes`` each, little-endian.

        ``int8`` divides by ``scale`` (1.0 when the values are already levels).
        """
        flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
        if self.name == "float32":
            return flat.astype("<f4").tobytes()
        if self.name == "float16":
            return flat.astype("<f2").tobytes()
        if self.name == "bfloat16":
            as_bf16 = torch.from_numpy(flat.copy()).to(torch.bfloat16).view(torch.int16)
            return as_bf16.numpy().astype("<i2").tobytes()
        quantised = np.clip(np.rint(flat / np.float32(scale)), -_INT8_MAX, _INT8_MAX)
        return quantised.astype(np.int8).tobytes()

    def decode_values(self, buf: bytes, count: int, scale: float) -> np.ndarray:
        """Decode ``count`` values written by :meth:`encode_values` as float32."""
        if self.name == "float32":
            return np.frombuffer(buf, dtype="<f4", count=count).astype(np.float32)
        if self.name == "float16":
            return np.frombuffer(buf, dtype="<f2", count=count).astype(np.float32)
        if self.name == "bfloat16":
            raw = np.frombuffer(buf, dtype="<i2", count=count).astype(np.int16)
            return torch.from_numpy(raw).view(torch.bfloat16).float().numpy()
        quantised = np.frombuffer(buf, dtype=np.int8, count=count).astype(np.float32)
        return quantised * np.float32(scale)


def parse_dtype(text: str | DType) -> DType:
    """Parse ``"float32"``, ``"float16"``, ``"bfloat16"`` or ``"int8"`` (case-insensitive).

    Raises:
        PrunefrontError: The text names no supported dtype.
    """
    if isinstance(text, DType):
        return text
    if not isinstance(text, str):
        raise PrunefrontError(f"dtype must be a string, one of {', '.join(DTYPE_NAMES)}")
    aliases = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
    name = text.strip().lower()
    return DType(name=aliases.get(name, name))
