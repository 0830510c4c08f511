"""NVIDIA GPU energy through NVML (package nvidia-ml-py): the energy counter, or integrated power.

The preferred source is ``nvmlDeviceGetTotalEnergyConsumption`` (Volta and newer): a counter of
millijoules since the driver loaded, updated every few tens of milliseconds. A window must span
many updates for the difference to be precise; the update period is measured during the idle
baseline. Where the counter is not supported, ``nvmlDeviceGetPowerUsage`` (milliwatts) is sampled
in a thread and integrated over time, labelled ``nvml_power_integration`` (``_nvml_power``).

Sensors are read through the small ``NvmlReader`` protocol: ``PynvmlReader`` talks to the driver,
``ReplayedNvml`` (in ``prunefront.testing``) replays a recorded trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from prunefront.sensors._measurement import Detail, Measurement, energy_and_power
from prunefront.sensors._meter import (
    Clock,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = [
    "NvmlCounterMeter",
    "NvmlReader",
    "NvmlUnavailable",
    "NvmlUnsupported",
    "PynvmlReader",
    "counter_supported",
]


class NvmlUnsupported(Exception):
    """The device does not support a query (e.g. the energy counter before Volta)."""


class NvmlUnavailable(Exception):
    """NVML cannot be used at all here; the message is the reason shown to the user."""


@runtime_checkable
class NvmlReader(Protocol):
    """What the energy meters need from NVML."""

    def total_energy_mj(self) -> int:
        """Energy counter in millijoules; raises ``NvmlUnsupported`` where there is none."""
        ...

    def power_mw(self) -> int:
        """Current power draw in milliwatts."""
        ...

    def device_info(self) -> dict[str, str]:
        """Name, UUID, compute capability and driver version, as strings."""
        ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PynvmlReader:
    """The real reader: one NVIDIA device through ``pynvml``.

    Args:
        device: The CUDA device to read. It is matched to NVML by UUID, so that
            ``CUDA_VISIBLE_DEVICES`` renumbering does not make it read another GPU.

    Raises:
        NvmlUnavailable: no driver / library, or the device cannot be found.
    """

    def __init__(self, device: torch.device | str | int = 0) -> None:
        try:
            import pynvml
        except ImportError as error:
            raise NvmlUnavailable(f"pynvml is not installed (nvidia-ml-py): {error}") from error
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            no_driver = (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
            hint = ": no NVIDIA driver" if getattr(error, "value", None) in no_driver else ""
            raise NvmlUnavailable(f"NVML could not start ({error}){hint}") from error
        self._handle, self._matched_by = self._find_handle(torch.device("cuda", _index(device)))

    def _find_handle(self, device: torch.device) -> tuple[Any, str]:
        nvml = self._nvml
        index = device.index or 0
        try:
            uuid = str(torch.cuda.get_device_properties(index).uuid)
            prefix = "" if uuid.startswith(("GPU-", "MIG-")) else "GPU-"
            return nvml.nvmlDeviceGetHandleByUUID(prefix + uuid), "uuid"
        except Exception:  # any failure falls back to the index, said in device_info
            pass
        try:
            return nvml.nvmlDeviceGetHandleByIndex(index), "index"
        except nvml.NVMLError as error:
            raise NvmlUnavailable(f"NVML has no device {index}: {error}") from error

    def total_energy_mj(self) -> int:
        """Read ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded)."""
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except self._nvml.NVMLError as error:
            raise NvmlUnsupported(f"total energy counter: {error}") from error

    def power_mw(self) -> int:
        """Read ``nvmlDeviceGetPowerUsage`` (mW)."""
        return int(self._nvml.nvmlDeviceGetPowerUsage(self._handle))

    def device_info(self) -> dict[str, str]:
        """Describe the device as NVML sees it."""
        nvml = self._nvml
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(self._handle)
        return {
            "name": _text(nvml.nvmlDeviceGetName(self._handle)),
            "uuid": _text(nvml.nvmlDeviceGetUUID(self._handle)),
            "compute_capability": f"{major}.{minor}",
            "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
            "matched_by": self._matched_by,
        }

    def close(self) -> None:
        """Release this reader's NVML reference."""
        self._nvml.nvmlShutdown()


def _index(device: torch.device | str | int) -> int:
    if isinstance(device, int):
        return device
    return torch.device(device).index or 0


def counter_supported(reader: NvmlReader) -> bool:
    """Whether the device has the total-energy counter."""
    try:
        reader.total_energy_mj()
    except NvmlUnsupported:
        return False
    return True


@dataclass
class _CounterWindow:
    start_s: float
    start_mj: int
    last_mj: int
    changes: int = 0


class NvmlCounterMeter:
    """Energy from differences of the NVML total-energy counter (``nvml_energy_counter``).

    Args:
        reader: Where the counter is read.
        clock: Time source (a fake one in tests, driving a replayed trace).
        poll_interval_s: Poll period while measuring the idle baseline and the update period.
    """

    method = "nvml_energy_counter"

    def __init__(
        self, reader: NvmlReader, *, clock: Clock | None = None, poll_interval_s: float = 0.002
    ) -> None:
        self._reader = reader
        self._clock = clock or SystemClock()
        self._poll_s = poll_interval_s
        self._book: WindowBook[_CounterWindow] = WindowBook()
        self.update_period_s: float | None = None

    def idle_power(self, duration_s: float) -> Measurement:
        """Poll the counter for ``duration_s`` with no workload: idle watts and update period."""
        start_s, start_mj = self._clock.now(), self._reader.total_energy_mj()
        change_times = []
        last = start_mj
        while self._clock.now() - start_s < duration_s:
            self._clock.sleep(self._poll_s)
            value = self._reader.total_energy_mj()
            if value != last:
                change_times.append(self._clock.now())
                last = value
        window_s = self._clock.now() - start_s
        if len(change_times) >= 2:
            self.update_period_s = (change_times[-1] - change_times[0]) / (len(change_times) - 1)
        if not change_times:
            return Measurement.unavailable(
                "power_idle_w",
                method=self.method,
                scope="gpu_device",
                reason=f"the energy counter did not change in {window_s:.2f} s of idle polling",
            )
        return Measurement(
            name="power_idle_w",
            value=(last - start_mj) / window_s / 1e3,
            kind="measured",
            method=self.method,
            scope="gpu_device",
            window_s=window_s,
            details={"counter_updates": len(change_times), "update_period_s": self.update_period_s},
        )

    def begin_window(self, key: str) -> None:
        """Read the counter at the start of window ``key``."""
        value = self._reader.total_energy_mj()
        self._book.open(
            key, _CounterWindow(start_s=self._clock.now(), start_mj=value, last_mj=value)
        )

    def _updates(self, window: _CounterWindow, elapsed_s: float) -> int:
        value = self._reader.total_energy_mj()
        if value != window.last_mj:
            window.changes += 1
            window.last_mj = value
        if self.update_period_s:
            # Changes seen between polls undercount when one poll spans several updates.
            return max(window.changes, math.floor(elapsed_s / self.update_period_s))
        return window.changes

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds and counter updates spanned so far."""
        window = self._book.peek(key)
        elapsed = self._clock.now() - window.start_s
        return WindowProgress(elapsed_s=elapsed, counter_updates=self._updates(window, elapsed))

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return gross ``energy_mj`` per forward pass and mean ``power_w`` over the window."""
        check_inferences(inferences)
        window = self._book.close(key)
        end_mj, end_s = self._reader.total_energy_mj(), self._clock.now()
        window_s = end_s - window.start_s
        updates = self._updates(window, window_s)
        total_mj = end_mj - window.start_mj
        if total_mj <= 0 or window_s <= 0:
            reason = (
                f"the energy counter did not advance over {window_s:.3f} s "
                f"({updates} updates): the window is too short to measure, or the sensor "
                "stopped updating"
            )
            return [
                Measurement.unavailable(
                    "energy_mj", method=self.method, scope="gpu_device", reason=reason
                )
            ]
        details: dict[str, Detail] = {
            "total_mj": float(total_mj),
            "counter_updates": updates,
            "update_period_s": self.update_period_s,
            "inferences": inferences,
        }
        return energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope="gpu_device",
            details=details,
        )
