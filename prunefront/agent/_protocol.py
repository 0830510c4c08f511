"""The agent's wire protocol: endpoints, headers, the profile request and its validation.

Version 1, over HTTP (the agent is Python's ``ThreadingHTTPServer``; no TLS — see the docs):

- ``GET /v1/info`` -> JSON: device, ONNX Runtime providers, power sensors, limits.
- ``POST /v1/profile`` -> JSON result document. The body is the raw ONNX model
  (``Content-Type: application/onnx``, ``Content-Length`` required); the request settings are
  one line of JSON in the ``X-Prunefront-Profile`` header (``ProfileRequest.to_dict``).

Every request carries ``Authorization: Bearer <token>``. Errors are JSON ``{"error": "...",
"status": N}``: 400 malformed request or not an ONNX model, 401 missing or wrong token, 404,
411 no length, 413 model too large, 422 the model loaded but could not be profiled (bad inputs,
time limit), 429 busy. Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prunefront.errors import PrunefrontError
from prunefront.sensors import EnergySettings, LatencySettings

__all__ = [
    "DEFAULT_PORT",
    "INFO_PATH",
    "INPUT_DTYPES",
    "MODEL_CONTENT_TYPE",
    "PROFILE_HEADER",
    "PROFILE_PATH",
    "PROTOCOL_VERSION",
    "InputSpec",
    "ProfileRequest",
    "ProtocolError",
]

PROTOCOL_VERSION = 1
DEFAULT_PORT = 8765
INFO_PATH = "/v1/info"
PROFILE_PATH = "/v1/profile"
PROFILE_HEADER = "X-Prunefront-Profile"
MODEL_CONTENT_TYPE = "application/onnx"
INPUT_DTYPES: tuple[str, ...] = (
    "float32",
    "float16",
    "float64",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
)
# One generated input may hold at most this many elements (1 GiB of float32), and all the inputs
# of one request at most MAX_REQUEST_INPUT_BYTES together: a request cannot make the agent
# allocate without bound (two [2^28] float32 inputs took it from 0.4 to 4.6 GB).
MAX_INPUT_ELEMENTS = 2**28
MAX_REQUEST_INPUT_BYTES = 2**30
_ITEM_BYTES = {
    "float32": 4,
    "float16": 2,
    "float64": 8,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}
MAX_THREADS = 1024


class ProtocolError(PrunefrontError):
    """A request the agent refuses; ``status`` is the HTTP status it answers with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _int(data: Mapping[str, Any], key: str, low: int, high: int, default: int | None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(f"{key} = {value!r}: must be an integer in [{low}, {high}]")
    return value


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{key} = {value!r}: must be a finite number")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """How the agent generates one model input.

    Attributes:
        name: The graph input's name; ``None`` matches by position.
        shape: Its shape (every dimension >= 1).
        dtype: One of ``INPUT_DTYPES``.
        low: Smallest generated value (integers: inclusive), e.g. 0 for token ids.
        high: Largest generated value (integers: inclusive; floats: exclusive).
    """

    name: str | None
    shape: tuple[int, ...]
    dtype: str
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.dtype not in INPUT_DTYPES:
            raise ProtocolError(
                f"inputs.dtype = {self.dtype!r}: must be one of {list(INPUT_DTYPES)}"
            )
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.shape):
            raise ProtocolError(f"inputs.shape = {list(self.shape)}: every dimension must be >= 1")
        if math.prod(self.shape) > MAX_INPUT_ELEMENTS:
            raise ProtocolError(
                f"inputs.shape = {list(self.shape)}: at most {MAX_INPUT_ELEMENTS} elements"
            )
        if not self.low <= self.high:
            raise ProtocolError(f"inputs.low = {self.low} must be <= inputs.high = {self.high}")

    @property
    def nbytes(self) -> int:
        """The bytes the generated input takes."""
        return math.prod(self.shape) * _ITEM_BYTES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one entry of ``inputs``."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, data: Any) -> InputSpec:
        """Validate one JSON entry of ``inputs``."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"inputs: each entry must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"name", "shape", "dtype", "low", "high"})
        if unknown:
            raise ProtocolError(f"inputs: unknown key(s) {unknown}")
        name, shape = data.get("name"), data.get("shape")
        if name is not None and not isinstance(name, str):
            raise ProtocolError(f"inputs.name = {name!r}: must be a string or null")
        if not isinstance(shape, list) or not shape:
            raise ProtocolError(f"inputs.shape = {shape!r}: must be a non-empty list of integers")
        return cls(
            name=name,
            shape=tuple(shape),
            dtype=str(data.get("dtype", "float32")),
            low=_number(data, "low", 0.0),
            high=_number(data, "high", 1.0),
        )


@dataclass(frozen=True, kw_only=True)
class ProfileRequest:
    """What to measure: inputs, threads, provider, energy sensor, latency and energy windows.

    Attributes:
        inputs: One spec per graph input.
        threads: ONNX Runtime intra-op threads (``None``: its default, one per core).
        batch_size: Samples per forward pass (default: the first input's leading dimension).
        provider: The execution provider (``CPUExecutionProvider``, ``CUDAExecutionProvider``,
            ...); it must be one the agent's ONNX Runtime has.
        energy: ``auto`` (the device's best sensor), ``off``, or a sensor name from ``info``.
        latency: Warm-up, repeats, spread target and time cap.
        energy_window: Energy window lengths and idle baseline.
        memory: Whether to measure the process's peak resident memory.
        seed: Seed of the generated inputs.
    """

    inputs: tuple[InputSpec, ...]
    threads: int | None = None
    batch_size: int | None = None
    provider: str = "CPUExecutionProvider"
    energy: str = "auto"
    latency: LatencySettings = field(default_factory=LatencySettings)
    energy_window: EnergySettings = field(default_factory=EnergySettings)
    memory: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ProtocolError("inputs: give at least one input")
        total = sum(spec.nbytes for spec in self.inputs)
        if total > MAX_REQUEST_INPUT_BYTES:
            raise ProtocolError(
                f"inputs: {total} bytes in all; a request may generate at most "
                f"{MAX_REQUEST_INPUT_BYTES} bytes of inputs"
            )
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise ProtocolError(f"threads = {self.threads}: must be in [1, {MAX_THREADS}]")
        if self.batch_size is not None and self.batch_size < 1:
            raise ProtocolError(f"batch_size = {self.batch_size}: must be >= 1")
        if not self.provider or not self.energy:
            raise ProtocolError("provider and energy must be non-empty strings")

    @property
    def effective_batch_size(self) -> int:
        """``batch_size``, else the first input's leading dimension."""
        return self.batch_size if self.batch_size is not None else self.inputs[0].shape[0]

    def budget_s(self) -> float:
        """The longest this request can keep the agent busy timing (latency + energy)."""
        energy = 0.0
        if self.energy != "off":
            energy = self.energy_window.idle_s + self.energy_window.max_window_s
        return self.latency.max_time_s + energy

    def to_dict(self) -> dict[str, Any]:
        """The JSON sent in the ``X-Prunefront-Profile`` header."""
        return {
            "protocol": PROTOCOL_VERSION,
            "inputs": [i.to_dict() for i in self.inputs],
            "threads": self.threads,
            "batch_size": self.batch_size,
            "provider": self.provider,
            "energy": self.energy,
            "latency": self.latency.to_dict(),
            "energy_window": self.energy_window.to_dict(),
            "memory": self.memory,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ProfileRequest:
        """Validate a request from untrusted JSON; every error names the key (status 400)."""
        if not isinstance(data, Mapping):
            raise ProtocolError("the profile request must be a JSON object")
        known = set(cls.__dataclass_fields__) | {"protocol"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProtocolError(f"unknown request key(s) {unknown}; valid: {sorted(known)}")
        if data.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol = {data.get('protocol')!r}: this agent speaks {PROTOCOL_VERSION}"
            )
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise ProtocolError("inputs: must be a list of input specs")
        for key in ("provider", "energy"):
            if key in data and not isinstance(data[key], str):
                raise ProtocolError(f"{key} = {data[key]!r}: must be a string")
        if not isinstance(data.get("memory", True), bool):
            raise ProtocolError(f"memory = {data['memory']!r}: must be true or false")
        try:
            latency = LatencySettings.from_dict(_mapping(data, "latency"))
            window = EnergySettings.from_dict(_mapping(data, "energy_window"))
        except ProtocolError:
            raise
        except PrunefrontError as error:
            raise ProtocolError(str(error)) from error
        except TypeError as error:
            raise ProtocolError(
                f"latency/energy_window: a value has the wrong type ({error})"
            ) from error
        return cls(
            inputs=tuple(InputSpec.from_dict(i) for i in inputs),
            threads=_int(data, "threads", 1, MAX_THREADS, None),
            batch_size=_int(data, "batch_size", 1, 2**31, None),
            provider=data.get("provider", "CPUExecutionProvider"),
            energy=data.get("energy", "auto"),
            latency=latency,
            energy_window=window,
            memory=data.get("memory", True),
            seed=_int(data, "seed", 0, 2**32 - 1, 0) or 0,
        )


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{key}: must be an object")
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ProtocolError(f"{key}.{name} = {item!r}: must be a number")
        if name in _INTEGER_SETTINGS and not float(item).is_integer():
            raise ProtocolError(f"{key}.{name} = {item!r}: must be an integer")
    return {name: int(item) if name in _INTEGER_SETTINGS else item for name, item in value.items()}


_INTEGER_SETTINGS = frozenset({"warmup_runs", "min_repeats", "max_repeats", "min_counter_updates"})
