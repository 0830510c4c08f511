"""GPU energy by integrating sampled NVML power, where the energy counter is not supported.

``nvmlDeviceGetPowerUsage`` (milliwatts) is sampled in a background thread and integrated with
the trapezoid rule over the window. Every record says ``nvml_power_integration`` so it is never
mistaken for the counter. The reader gives instantaneous power where NVML offers it (the
``NVML_FI_DEV_POWER_INSTANT`` field); elsewhere ``nvmlDeviceGetPowerUsage`` is, on Ampere and
newer, an average over about a second, and the records say so (``power_reading``). A reading
that fails while a window is open makes that window ``unavailable`` with the error, never a
number integrated from the samples taken before it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace

from prunefront.profilers._nvml import NvmlReader, _device_details
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

__all__ = ["NvmlPowerMeter"]


@dataclass
class _PowerWindow:
    samples: list[tuple[float, float]]
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


def _integrate_mj(samples: list[tuple[float, float]]) -> float:
    """Trapezoidal integral of (seconds, milliwatts) samples, in millijoules."""
    return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in itertools.pairwise(samples))


class NvmlPowerMeter:
    """Energy by sampling instantaneous power in a thread and integrating it.

    Used where the energy counter is not supported; every record says
    ``nvml_power_integration`` so it is never mistaken for the counter.

    Args:
        reader: Where power is read.
        clock: Time source for sample timestamps (the thread paces itself in real time).
        interval_s: Sampling period.
    """

    method = "nvml_power_integration"

    def __init__(
        self, reader: NvmlReader, *, clock: Clock | None = None, interval_s: float = 0.01
    ) -> None:
        self._reader = reader
        self._clock = clock or SystemClock()
        self._interval_s = interval_s
        self._book: WindowBook[_PowerWindow] = WindowBook()
        reading = getattr(reader, "power_reading", "unknown")
        self._details: dict[str, Detail] = {**_device_details(reader), "power_reading": reading}
        self._notes: tuple[str, ...] = (
            (
                "NVML gives a 1-second average power on this GPU, not instantaneous power: "
                "short windows are smoothed",
            )
            if reading == "average_1s"
            else ()
        )

    def _sample(self) -> tuple[float, float]:
        return (self._clock.now(), float(self._reader.power_mw()))

    def _sample_into(self, window: _PowerWindow) -> None:
        try:
            window.samples.append(self._sample())
        except Exception as error:  # any NVML failure ends the window's validity, said in it
            if window.error is None:
                window.error = (
                    f"NVML power reading failed after {len(window.samples)} sample(s): "
                    f"{type(error).__name__}: {error}"
                )

    def _run(self, window: _PowerWindow) -> None:
        while window.error is None and not window.stop.wait(self._interval_s):
            self._sample_into(window)

    def begin_window(self, key: str) -> None:
        """Take a first sample and start the sampling thread."""
        window = _PowerWindow(samples=[self._sample()])
        window.thread = threading.Thread(
            target=self._run, args=(window,), daemon=True, name=f"prunefront-power-{key}"
        )
        self._book.open(key, window)
        window.thread.start()

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds and power samples taken so far."""
        samples = self._book.peek(key).samples
        return WindowProgress(
            elapsed_s=self._clock.now() - samples[0][0], counter_updates=len(samples)
        )

    def _stop(self, key: str) -> _PowerWindow:
        window = self._book.close(key)
        window.stop.set()
        if window.thread is not None:
            window.thread.join()
        if window.error is None:
            self._sample_into(window)
        return window

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Stop sampling; return gross ``energy_mj`` per forward pass and mean ``power_w``."""
        check_inferences(inferences)
        window = self._stop(key)
        if window.error is not None:
            return [self._unavailable("energy_mj", window.error)]
        samples = window.samples
        window_s = samples[-1][0] - samples[0][0]
        total_mj = _integrate_mj(samples)
        if window_s <= 0 or total_mj <= 0:
            return [
                self._unavailable(
                    "energy_mj", f"power integration over {window_s:.3f} s gave no energy"
                )
            ]
        details: dict[str, Detail] = {
            **self._details,
            "total_mj": total_mj,
            "power_samples": len(samples),
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
        return [replace(r, notes=(*r.notes, *self._notes)) for r in records]

    def idle_power(self, duration_s: float) -> Measurement:
        """Sample power for ``duration_s`` with no workload."""
        self.begin_window("__idle__")
        self._clock.sleep(duration_s)
        window = self._stop("__idle__")
        if window.error is not None:
            return self._unavailable("power_idle_w", window.error)
        samples = window.samples
        window_s = samples[-1][0] - samples[0][0]
        if window_s <= 0:
            return self._unavailable("power_idle_w", "idle window had no length")
        return Measurement(
            name="power_idle_w",
            value=_integrate_mj(samples) / window_s / 1e3,
            kind="measured",
            method=self.method,
            scope="gpu_device",
            window_s=window_s,
            details={**self._details, "power_samples": len(samples)},
            notes=self._notes,
        )

    def _unavailable(self, name: str, reason: str) -> Measurement:
        return Measurement.unavailable(name, method=self.method, scope="gpu_device", reason=reason)
