"""GPU energy by integrating sampled NVML power, where the energy counter is not supported.

``nvmlDeviceGetPowerUsage`` (milliwatts) is sampled in a background thread and integrated with
the trapezoid rule over the window. Every record says ``nvml_power_integration`` so it is never
mistaken for the counter. On recent GPUs the power reading is itself an average over about a
second, so windows should be long (the default window is at least 2 s).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from prunefront.profilers._nvml import NvmlReader
from prunefront.sensors._measurement import Detail, Measurement, energy_and_power
from prunefront.sensors._meter import (
    Clock,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = ["NvmlPowerMeter"]


@dataclass
class _PowerWindow:
    samples: list[tuple[float, float]]
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

    def _sample(self) -> tuple[float, float]:
        return (self._clock.now(), float(self._reader.power_mw()))

    def _run(self, window: _PowerWindow) -> None:
        while not window.stop.wait(self._interval_s):
            window.samples.append(self._sample())

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

    def _stop(self, key: str) -> list[tuple[float, float]]:
        window = self._book.close(key)
        window.stop.set()
        if window.thread is not None:
            window.thread.join()
        window.samples.append(self._sample())
        return window.samples

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Stop sampling; return gross ``energy_mj`` per forward pass and mean ``power_w``."""
        check_inferences(inferences)
        samples = self._stop(key)
        window_s = samples[-1][0] - samples[0][0]
        total_mj = _integrate_mj(samples)
        if window_s <= 0 or total_mj <= 0:
            return [
                Measurement.unavailable(
                    "energy_mj",
                    method=self.method,
                    scope="gpu_device",
                    reason=f"power integration over {window_s:.3f} s gave no energy",
                )
            ]
        details: dict[str, Detail] = {
            "total_mj": total_mj,
            "power_samples": len(samples),
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

    def idle_power(self, duration_s: float) -> Measurement:
        """Sample power for ``duration_s`` with no workload."""
        self.begin_window("__idle__")
        self._clock.sleep(duration_s)
        samples = self._stop("__idle__")
        window_s = samples[-1][0] - samples[0][0]
        if window_s <= 0:
            return Measurement.unavailable(
                "power_idle_w",
                method=self.method,
                scope="gpu_device",
                reason="idle window had no length",
            )
        return Measurement(
            name="power_idle_w",
            value=_integrate_mj(samples) / window_s / 1e3,
            kind="measured",
            method=self.method,
            scope="gpu_device",
            window_s=window_s,
            details={"power_samples": len(samples)},
        )
