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

import atexit
import contextlib
import math
import os
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import torch

from prunefront.sensors import (
    Clock,
    Detail,
    Measurement,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
    energy_and_power,
)

__all__ = [
    "NvmlCounterMeter",
    "NvmlReader",
    "NvmlUnavailable",
    "NvmlUnsupported",
    "PynvmlReader",
    "counter_supported",
    "shared_reader",
    "start_nvml",
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


def _cuda_uuid(index: int) -> str:
    """The UUID CUDA reports for ``cuda:index``, without a ``GPU-``/``MIG-`` prefix."""
    try:
        uuid = str(torch.cuda.get_device_properties(index).uuid)
    except Exception as error:  # CPU-only torch, no device, or a torch without the field
        raise NvmlUnavailable(
            f"torch cannot tell the UUID of cuda:{index} ({type(error).__name__}: {error}), "
            "so the NVML device cannot be matched"
        ) from error
    return uuid.removeprefix("GPU-").removeprefix("MIG-")


def _mig_reason(index: int, uuid: str) -> str:
    return (
        f"cuda:{index} is a MIG instance ({uuid}): NVML has no per-instance energy counter or "
        "power reading, and the board's would include the other instances"
    )


class PynvmlReader:
    """The real reader: one NVIDIA device through ``pynvml``.

    The device is matched to NVML by the UUID CUDA reports (tried as ``GPU-`` and ``MIG-``),
    never by index: with ``CUDA_VISIBLE_DEVICES`` or MIG, torch's index ``i`` and NVML's index
    ``i`` are different GPUs. A MIG instance (or a board in MIG mode) is refused: NVML cannot
    measure one instance. ``device_info()['matched_by']`` says how the device was found.

    Args:
        device: The CUDA device to read.
        library: The ``pynvml`` module (tests pass ``FakePynvml``); default: import it.

    Raises:
        NvmlUnavailable: no driver / library, the device cannot be matched, or it is MIG.
    """

    def __init__(self, device: torch.device | str | int = 0, *, library: Any = None) -> None:
        self._nvml = start_nvml(library)
        self._index = _index(device)
        self._handle, self._matched_by = self._find_handle(self._index)
        self._instant = True  # until the field answers NOT_SUPPORTED

    def _find_handle(self, index: int) -> tuple[Any, str]:
        nvml = self._nvml
        bare = _cuda_uuid(index)
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        if any(part.strip().startswith("MIG-") for part in visible.split(",")):
            raise NvmlUnavailable(_mig_reason(index, f"CUDA_VISIBLE_DEVICES={visible}"))
        for prefix in ("GPU-", "MIG-"):
            try:
                handle = nvml.nvmlDeviceGetHandleByUUID(prefix + bare)
            except nvml.NVMLError:
                continue
            if prefix == "MIG-" or _is_mig(nvml, handle) or _mig_mode_on(nvml, handle):
                raise NvmlUnavailable(_mig_reason(index, prefix + bare))
            return handle, f"uuid {prefix}{bare}"
        raise NvmlUnavailable(
            f"no NVML device has the UUID of cuda:{index} (GPU-{bare} / MIG-{bare}); "
            "not guessing by index, which can read another GPU"
        )

    def total_energy_mj(self) -> int:
        """Read ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded)."""
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except self._nvml.NVMLError as error:
            raise NvmlUnsupported(f"total energy counter: {error}") from error

    def _instant_mw(self) -> int | None:
        nvml = self._nvml
        field = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
        if field is None or not self._instant:
            return None
        try:
            (value,) = nvml.nvmlDeviceGetFieldValues(self._handle, [field])
        except nvml.NVMLError:
            value = None
        if value is None or value.nvmlReturn != getattr(nvml, "NVML_SUCCESS", 0):
            self._instant = False  # not offered by this GPU / driver: stop asking
            return None
        return int(value.value.uiVal)

    def power_mw(self) -> int:
        """Instantaneous power (field ``NVML_FI_DEV_POWER_INSTANT``) where NVML offers it, else
        ``nvmlDeviceGetPowerUsage`` (a 1-second average after GA100, i.e. above sm 8.0), in mW.

        Raises:
            NvmlUnsupported: NVML gave no reading.
        """
        instant = self._instant_mw()
        if instant is not None:
            return instant
        try:
            return int(self._nvml.nvmlDeviceGetPowerUsage(self._handle))
        except self._nvml.NVMLError as error:
            raise NvmlUnsupported(f"power reading: {error}") from error

    @property
    def power_reading(self) -> str:
        """``instant`` or ``average_1s``: what ``power_mw`` returns on this device."""
        self._instant_mw()
        if self._instant:
            return "instant"
        # NVML: GA100 and older report instantaneous power, later GPUs a 1-second average.
        capability = tuple(self._nvml.nvmlDeviceGetCudaComputeCapability(self._handle))
        return "average_1s" if capability > (8, 0) else "instant"

    def device_info(self) -> dict[str, str]:
        """Describe the device as NVML sees it, and how it was matched to torch's device."""
        nvml = self._nvml
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(self._handle)
        return {
            "name": _text(nvml.nvmlDeviceGetName(self._handle)),
            "uuid": _text(nvml.nvmlDeviceGetUUID(self._handle)),
            "compute_capability": f"{major}.{minor}",
            "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
            "cuda_device": f"cuda:{self._index}",
            "matched_by": self._matched_by,
        }

    def close(self) -> None:
        """Nothing to release: NVML stays started for the process (one session, see
        ``shared_reader``); it is shut down at exit."""


_STARTED: dict[int, Any] = {}
_READERS: dict[tuple[int, int], PynvmlReader] = {}
_LOCK = threading.Lock()


def start_nvml(library: Any = None) -> Any:
    """Start NVML for this process (once) and return the ``pynvml`` module used.

    Args:
        library: The ``pynvml`` module (tests pass ``FakePynvml``); default: import it.

    Raises:
        NvmlUnavailable: pynvml is not installed, or NVML cannot start (the reason says which).
    """
    if library is None:
        try:
            import pynvml
        except ImportError as error:
            raise NvmlUnavailable(f"pynvml is not installed (nvidia-ml-py): {error}") from error
        library = pynvml
    _start(library)
    return library


def _start(library: Any) -> None:
    """``nvmlInit`` once per process (per library object), ``nvmlShutdown`` at exit."""
    with _LOCK:
        if id(library) in _STARTED:
            return
        try:
            library.nvmlInit()
        except library.NVMLError as error:
            no_driver = (
                library.NVML_ERROR_LIBRARY_NOT_FOUND,
                library.NVML_ERROR_DRIVER_NOT_LOADED,
            )
            hint = ": no NVIDIA driver" if getattr(error, "value", None) in no_driver else ""
            raise NvmlUnavailable(f"NVML could not start ({error}){hint}") from error
        _STARTED[id(library)] = library
        if len(_STARTED) == 1:
            atexit.register(_shutdown_all)


def _shutdown_all() -> None:
    for library in _STARTED.values():
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            library.nvmlShutdown()
    _STARTED.clear()
    _READERS.clear()


def shared_reader(device: torch.device | str | int = 0, *, library: Any = None) -> PynvmlReader:
    """The process's one ``PynvmlReader`` for ``device`` (created on first use, then reused).

    Raises:
        NvmlUnavailable: as ``PynvmlReader``.
    """
    library = start_nvml(library)
    key = (id(library), _index(device))
    with _LOCK:
        reader = _READERS.get(key)
    if reader is None:
        reader = PynvmlReader(device, library=library)
        with _LOCK:
            reader = _READERS.setdefault(key, reader)
    return reader


def _is_mig(nvml: Any, handle: Any) -> bool:
    try:
        return bool(nvml.nvmlDeviceIsMigDeviceHandle(handle))
    except (AttributeError, nvml.NVMLError):
        return False


def _mig_mode_on(nvml: Any, handle: Any) -> bool:
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except (AttributeError, nvml.NVMLError):
        return False  # NOT_SUPPORTED on boards without MIG
    return bool(current == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1))


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
class _Change:
    """Where the counter was seen to change: the time of the read and the new value."""

    t_s: float
    mj: int


@dataclass
class _CounterWindow:
    start_s: float
    start_mj: int
    last_mj: int
    last_read_s: float
    reads: int = 1
    changes: list[_Change] = field(default_factory=list)


def _device_details(reader: NvmlReader) -> dict[str, Detail]:
    """Which GPU the records are about and how it was matched (said in every record)."""
    try:
        info = reader.device_info()
    except Exception as error:  # the description is provenance; its failure is reported in it
        return {"gpu": f"unknown ({type(error).__name__}: {error})", "matched_by": "unknown"}
    return {
        "gpu": info.get("name", "unknown"),
        "gpu_uuid": info.get("uuid", "unknown"),
        "matched_by": info.get("matched_by", "given reader"),
    }


class NvmlCounterMeter:
    """Energy from the NVML total-energy counter (``nvml_energy_counter``).

    The counter holds the energy up to its last update, so a difference between two arbitrary
    reads spans whole updates but not the time between the reads (up to one update period off at
    each end). Power is therefore taken between the counter's first and last *observed changes*:
    energy between them over the time between them (the number of update periods when the
    period is known). The idle baseline polls finely and also measures the update period; during
    a window the counter is read about four times per update period (the workload runs
    pipelined in between), and gross energy per pass is that power over the whole window.

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
        self._device = _device_details(reader)
        self.update_period_s: float | None = None

    def _span(self, changes: list[_Change]) -> tuple[float, int, int] | None:
        """(seconds, mJ, updates) between the first and the last change, or ``None``."""
        if len(changes) < 2:
            return None
        seen_s = changes[-1].t_s - changes[0].t_s
        energy_mj = changes[-1].mj - changes[0].mj
        if self.update_period_s:
            # Reads lag the updates they see by up to one read interval at either end; a whole
            # number of update periods lies between the two changes.
            updates = max(1, round(seen_s / self.update_period_s))
            return updates * self.update_period_s, energy_mj, updates
        return seen_s, energy_mj, len(changes) - 1

    def idle_power(self, duration_s: float) -> Measurement:
        """Poll the counter for ``duration_s`` with no workload: idle watts and update period."""
        start_s = self._clock.now()
        last = self._reader.total_energy_mj()
        changes: list[_Change] = []
        while self._clock.now() - start_s < duration_s:
            self._clock.sleep(self._poll_s)
            value = self._reader.total_energy_mj()
            if value != last:
                changes.append(_Change(self._clock.now(), value))
                last = value
        window_s = self._clock.now() - start_s
        if len(changes) >= 2:
            self.update_period_s = (changes[-1].t_s - changes[0].t_s) / (len(changes) - 1)
        span = self._span(changes)
        if span is None or span[0] <= 0:
            return Measurement.unavailable(
                "power_idle_w",
                method=self.method,
                scope="gpu_device",
                reason=f"the energy counter changed {len(changes)} time(s) in {window_s:.2f} s "
                "of idle polling: at least two changes are needed",
            )
        span_s, energy_mj, updates = span
        return Measurement(
            name="power_idle_w",
            value=energy_mj / span_s / 1e3,
            kind="measured",
            method=self.method,
            scope="gpu_device",
            window_s=window_s,
            details={
                **self._device,
                "counter_updates": updates,
                "counter_span_s": span_s,
                "update_period_s": self.update_period_s,
            },
        )

    def begin_window(self, key: str) -> None:
        """Read the counter at the start of window ``key``."""
        value, now = self._reader.total_energy_mj(), self._clock.now()
        self._book.open(
            key, _CounterWindow(start_s=now, start_mj=value, last_mj=value, last_read_s=now)
        )

    def _read(self, window: _CounterWindow) -> None:
        value, now = self._reader.total_energy_mj(), self._clock.now()
        window.last_read_s = now
        window.reads += 1
        if value != window.last_mj:
            window.changes.append(_Change(now, value))
            window.last_mj = value

    def _updates(self, window: _CounterWindow, elapsed_s: float) -> int:
        seen = len(window.changes)
        if self.update_period_s:
            # Changes seen between reads undercount when one read spans several updates.
            return max(seen, math.floor(elapsed_s / self.update_period_s))
        return seen

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds and counter updates spanned so far.

        The counter is read only when a quarter of an update period has passed since the last
        read, so a workload checking progress after every pass is not slowed by NVML calls.
        """
        window = self._book.peek(key)
        now = self._clock.now()
        # A quarter period between reads keeps the lag of the first and last observed changes
        # within a quarter period of each other, so the update count between them is exact.
        if now - window.last_read_s >= (self.update_period_s or 0.0) / 4:
            self._read(window)
        elapsed = now - window.start_s
        return WindowProgress(elapsed_s=elapsed, counter_updates=self._updates(window, elapsed))

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return gross ``energy_mj`` per forward pass and mean ``power_w`` over the window.

        Call it after the workload has finished on the device (synchronised).
        """
        check_inferences(inferences)
        window = self._book.close(key)
        self._read(window)
        window_s = window.last_read_s - window.start_s
        span = self._span(window.changes)
        notes: tuple[str, ...] = ()
        if span is not None and span[0] > 0 and span[1] > 0 and window_s > 0:
            span_s, span_mj, span_updates = span
            total_mj = span_mj / span_s * window_s
        elif window.last_mj > window.start_mj and window_s > 0:
            # Read only at its two ends: the difference spans whole updates, not the window.
            span_s, span_mj, span_updates = window_s, window.last_mj - window.start_mj, 0
            total_mj = float(span_mj)
            notes = (
                "the counter was read only at the window's ends: up to one update period off "
                "at each end",
            )
        else:
            reason = (
                f"the energy counter changed {len(window.changes)} time(s) over {window_s:.3f} s: "
                "the window is too short to measure, or the sensor stopped updating"
            )
            return [
                Measurement.unavailable(
                    "energy_mj", method=self.method, scope="gpu_device", reason=reason
                )
            ]
        details: dict[str, Detail] = {
            **self._device,
            "total_mj": total_mj,
            "counter_mj": float(span_mj),
            "counter_span_s": span_s,
            "counter_span_updates": span_updates,
            "counter_updates": self._updates(window, window_s),
            "counter_reads": window.reads,
            "update_period_s": self.update_period_s,
            "inferences": inferences,
        }
        records = energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope="gpu_device",
            details=details,
            details_on_power=True,  # which GPU, and how it was matched, in every record
        )
        return [replace(r, notes=(*r.notes, *notes)) for r in records]
