"""Value dtypes of stored weights: bytes per value, per-tensor overhead and the value codec.

``float32`` (4 B), ``float16`` and ``bfloat16`` (2 B) store values as they are; ``int8`` stores one
byte per value plus one float32 scale per tensor (symmetric per-tensor quantisation,
``q = round(w / scale)`` with ``scale = max|w| / 127``), so an exact zero stays an exact zero.
"""

from __future__ import annotations

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

    @property
    def tensor_overhead_bytes(self) -> int:
        """Bytes stored once per tensor: the float32 scale of ``int8``, nothing otherwise."""
        return 4 if self.name == "int8" else 0

    def scale_for(self, values: np.ndarray) -> float:
        """The per-tensor quantisation scale (1.0 for float dtypes or an all-zero tensor)."""
        if self.name != "int8" or values.size == 0:
            return 1.0
        peak = float(np.max(np.abs(values)))
        return peak / _INT8_MAX if peak > 0 and np.isfinite(peak) else 1.0

    def encode_prefix(self, scale: float) -> bytes:
        """The per-tensor bytes written before a tensor's payload (the int8 scale)."""
        return np.float32(scale).tobytes() if self.name == "int8" else b""

    def decode_prefix(self, buf: bytes) -> float:
        """Read back what :meth:`encode_prefix` wrote."""
        if self.name != "int8":
            return 1.0
        return float(np.frombuffer(buf[:4], dtype="<f4")[0])

    def encode_values(self, values: np.ndarray, scale: float) -> bytes:
        """Encode float values (any shape, C order) as ``value_bytes`` each, little-endian."""
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
