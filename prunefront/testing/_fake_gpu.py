"""A fake ``pynvml`` module and fake CUDA devices: the GPU paths tested on a machine without one.

``FakePynvml`` answers the NVML calls prunefront makes, for a set of ``FakeGpu`` boards: UUID
lookups (``GPU-`` and ``MIG-``), MIG instances, the energy counter, the 1-second-average power
reading and the instantaneous power field, each of which can answer ``NOT_SUPPORTED``; it counts
``nvmlInit`` calls. ``fake_cuda`` makes torch report a chosen list of visible devices (the order
``CUDA_VISIBLE_DEVICES`` gives them, MIG instances included) with their capability and UUID, so
matching and capability code run as they would on the real machine. Re-exported from
``prunefront.testing``.
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from unittest import mock

import torch

__all__ = ["FakeGpu", "FakePynvml", "fake_cuda"]

NVML_SUCCESS = 0
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_UNKNOWN = 999
NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1
NVML_VALUE_TYPE_UNSIGNED_INT = 1

Reading = int | Callable[[], int] | None


def _read(value: Reading, error: type[Exception]) -> int:
    if value is None:
        raise error(NVML_ERROR_NOT_SUPPORTED)
    return int(value() if callable(value) else value)


@dataclass(eq=False)
class FakeGpu:
    """One NVIDIA board (or a MIG instance of one) as NVML and CUDA describe it.

    Attributes:
        uuid: ``GPU-...`` for a board, ``MIG-...`` for an instance.
        name: The marketing name.
        capability: CUDA compute capability.
        energy_mj: The total-energy counter (a value or a callable); ``None``: not supported.
        power_mw: ``nvmlDeviceGetPowerUsage``: on Ampere and newer a 1-second average.
        instant_power_mw: The ``NVML_FI_DEV_POWER_INSTANT`` field; ``None``: not supported.
        mig_instances: MIG instances of this board (MIG mode is on when there are any).
        total_memory: Bytes of device memory.
    """

    uuid: str
    name: str = "NVIDIA A100-SXM4-40GB"
    capability: tuple[int, int] = (8, 0)
    energy_mj: Reading = 1_000_000
    power_mw: Reading = 60_000
    instant_power_mw: Reading = None
    mig_instances: tuple[FakeGpu, ...] = ()
    total_memory: int = 40 * 2**30

    @property
    def is_mig(self) -> bool:
        """Whether this is a MIG instance."""
        return self.uuid.startswith("MIG-")

    @property
    def bare_uuid(self) -> str:
        """The UUID without its ``GPU-`` / ``MIG-`` prefix, as torch prints it."""
        return self.uuid.split("-", 1)[1]


class _NVMLError(Exception):
    """Stands for ``pynvml.NVMLError``: ``value`` is the NVML return code."""

    _names: ClassVar[dict[int, str]] = {
        NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
        NVML_ERROR_NOT_SUPPORTED: "Not Supported",
        NVML_ERROR_NOT_FOUND: "Not Found",
        NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
        NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
        NVML_ERROR_UNKNOWN: "Unknown Error",
    }

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return self._names.get(self.value, f"NVML error {self.value}")


@dataclass(eq=False)
class FakePynvml:
    """A stand-in for the ``pynvml`` module (install it as ``sys.modules['pynvml']``).

    Args:
        gpus: The boards NVML enumerates, in NVML's (PCI) order.
        init_error: An NVML return code ``nvmlInit`` fails with (``None``: it starts).
        driver_version: What ``nvmlSystemGetDriverVersion`` returns.
    """

    gpus: Sequence[FakeGpu]
    init_error: int | None = None
    driver_version: str = "550.54.15"
    calls: Counter[str] = field(default_factory=Counter)

    NVMLError = _NVMLError
    NVML_SUCCESS = NVML_SUCCESS
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NOT_FOUND = NVML_ERROR_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_FI_DEV_POWER_AVERAGE = NVML_FI_DEV_POWER_AVERAGE
    NVML_FI_DEV_POWER_INSTANT = NVML_FI_DEV_POWER_INSTANT
    NVML_DEVICE_MIG_ENABLE = NVML_DEVICE_MIG_ENABLE
    NVML_DEVICE_MIG_DISABLE = NVML_DEVICE_MIG_DISABLE

    def _count(self, name: str) -> None:
        self.calls[name] += 1

    def _all(self) -> list[FakeGpu]:
        return [g for gpu in self.gpus for g in (gpu, *gpu.mig_instances)]

    def nvmlInit(self) -> None:
        """Start NVML (or fail with ``init_error``)."""
        self._count("nvmlInit")
        if self.init_error is not None:
            raise _NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        """Stop NVML."""
        self._count("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self) -> str:
        """The driver version."""
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        """Boards, MIG instances not counted."""
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        """The board at NVML (PCI) ``index``: not torch's index."""
        self._count("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise _NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> FakeGpu:
        """The board or MIG instance with exactly this UUID (prefix included)."""
        self._count("nvmlDeviceGetHandleByUUID")
        text = uuid.decode() if isinstance(uuid, bytes) else uuid
        for gpu in self._all():
            if gpu.uuid == text:
                return gpu
        raise _NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        """The handle's UUID."""
        return handle.uuid

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        """The handle's name."""
        return handle.name

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeGpu) -> tuple[int, int]:
        """The handle's compute capability."""
        return handle.capability

    def nvmlDeviceIsMigDeviceHandle(self, handle: FakeGpu) -> int:
        """1 for a MIG instance."""
        return int(handle.is_mig)

    def nvmlDeviceGetMigMode(self, handle: FakeGpu) -> tuple[int, int]:
        """(current, pending) MIG mode of a board."""
        if handle.is_mig:
            raise _NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        mode = NVML_DEVICE_MIG_ENABLE if handle.mig_instances else NVML_DEVICE_MIG_DISABLE
        return mode, mode

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        """The counter in mJ; NVML answers NOT_SUPPORTED for MIG instances."""
        self._count("nvmlDeviceGetTotalEnergyConsumption")
        if handle.is_mig:
            raise _NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return _read(handle.energy_mj, _NVMLError)

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        """Power in mW (a 1-second average on Ampere and newer)."""
        self._count("nvmlDeviceGetPowerUsage")
        if handle.is_mig:
            raise _NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return _read(handle.power_mw, _NVMLError)

    def nvmlDeviceGetFieldValues(self, handle: FakeGpu, field_ids: list[int]) -> list[Any]:
        """Field values; each carries its own ``nvmlReturn`` as in pynvml."""
        self._count("nvmlDeviceGetFieldValues")
        values = []
        for field_id in field_ids:
            source = {
                NVML_FI_DEV_POWER_INSTANT: handle.instant_power_mw,
                NVML_FI_DEV_POWER_AVERAGE: handle.power_mw,
            }.get(field_id)
            result = NVML_ERROR_NOT_SUPPORTED if source is None or handle.is_mig else NVML_SUCCESS
            reading = 0 if result else _read(source, _NVMLError)
            values.append(
                types.SimpleNamespace(
                    fieldId=field_id,
                    nvmlReturn=result,
                    valueType=NVML_VALUE_TYPE_UNSIGNED_INT,
                    value=types.SimpleNamespace(uiVal=reading),
                )
            )
        return values


@contextmanager
def fake_cuda(visible: Sequence[FakeGpu], *, cusparselt: bool = True) -> Iterator[None]:
    """Make torch see ``visible`` as ``cuda:0``, ``cuda:1``, ... (``CUDA_VISIBLE_DEVICES`` order).

    Patches ``torch.cuda.is_available``, ``device_count``, ``get_device_properties`` (name,
    capability, memory, UUID without prefix as torch prints it), ``torch.version.cuda`` and
    ``torch.backends.cusparselt.is_available``. Tensors cannot be put on these devices.
    """

    def index(device: Any = None) -> int:
        if isinstance(device, int):
            return device
        return 0 if device is None else (torch.device(device).index or 0)

    def properties(device: Any = None) -> types.SimpleNamespace:
        gpu = visible[index(device)]
        return types.SimpleNamespace(
            name=gpu.name,
            major=gpu.capability[0],
            minor=gpu.capability[1],
            total_memory=gpu.total_memory,
            uuid=gpu.bare_uuid,
        )

    with (
        mock.patch.object(torch.cuda, "is_available", lambda: bool(visible)),
        mock.patch.object(torch.cuda, "device_count", lambda: len(visible)),
        mock.patch.object(torch.cuda, "get_device_properties", properties),
        mock.patch.object(torch.version, "cuda", "12.8"),
        mock.patch.object(torch.backends.cusparselt, "is_available", lambda: cusparselt),
    ):
        yield
