"""Energy from a power reading sampled over a window (Jetson INA3221, hwmon power, battery).

Sensors that report instantaneous power (not an energy counter) are read on a background thread
every ``period_s`` while a window is open, and the samples are integrated with the trapezoid
rule. Each record carries its window, the number of samples and the achieved sampling rate, so
a reader can judge how coarse it is. A reading that fails in the middle of a window (the sensor
went away, the battery started charging) makes the window ``unavailable`` with that reason,
never a partial number. Tests drive the sampling by hand (``background=False`` and ``sample``)
with a fake clock.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from prunefront.sensors._measurement import Detail, Measurement, energy_and_power, idle_power_from
from prunefront.sensors._meter import (
    Clock,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = ["PowerSource", "SampledPowerMeter", "SensorError", "integrate_power"]

PowerSource = Callable[[], float]
"""Returns the present power in watts; raises ``SensorError`` or ``OSError`` when it cannot."""


class SensorError(Exception):
    """A sensor gave no usable reading; the message says why (shown to the user as the reason)."""


def integrate_power(samples: list[tuple[float, float]]) -> float:
    """Trapezoid integral in joules of ``(time_s, power_w)`` samples in time order."""
    return sum((t1 - t0) * (p0 + p1) / 2.0 for (t0, p0), (t1, p1) in itertools.pairwise(samples))


@dataclass
class _Window:
    start_s: float
    samples: list[tuple[float, float]] = field(default_factory=list)
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class SampledPowerMeter:
    """An ``EnergyMeter`` that integrates a sampled power reading over each window.

    Args:
        source: Returns watts now (see ``PowerSource``).
        method: The method label of its records (``ina3221``, ``hwmon_power``, ...).
        scope: What the power covers (``board_input``, ``device_battery``, ...).
        period_s: Time between samples on the background thread.
        clock: Time source (a fake one in tests).
        background: Sample on a thread while a window is open; ``False`` leaves sampling to
            explicit ``sample`` calls (tests).
        details: Extra details recorded with every value (e.g. the rails that were summed).
    """

    def __init__(
        self,
        source: PowerSource,
        *,
        method: str,
        scope: str,
        period_s: float = 0.02,
        clock: Clock | None = None,
        background: bool = True,
        details: dict[str, Detail] | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self._source = source
        self.method = method
        self.scope = scope
        self.period_s = period_s
        self._clock = clock or SystemClock()
        self._background = background
        self._details = dict(details or {})
        self._book: WindowBook[_Window] = WindowBook()

    def _read_into(self, window: _Window) -> None:
        try:
            watts = float(self._source())
        except (SensorError, OSError, ValueError) as error:
            with window.lock:
                window.error = window.error or _reason(error)
            return
        with window.lock:
            window.samples.append((self._clock.now(), watts))

    def _run(self, window: _Window) -> None:
        while not window.stop.wait(self.period_s):
            self._read_into(window)

    def begin_window(self, key: str) -> None:
        """Take the first sample of window ``key`` and start sampling."""
        window = _Window(start_s=self._clock.now())
        self._book.open(key, window)
        self._read_into(window)
        if self._background:
            window.thread = threading.Thread(target=self._run, args=(window,), daemon=True)
            window.thread.start()

    def sample(self, key: str) -> None:
        """Take one sample of the open window ``key`` now (for ``background=False``)."""
        self._read_into(self._book.peek(key))

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds and samples taken so far (each sample is one sensor update)."""
        window = self._book.peek(key)
        with window.lock:
            count = len(window.samples)
        return WindowProgress(elapsed_s=self._clock.now() - window.start_s, counter_updates=count)

    def _stop(self, key: str) -> _Window:
        window = self._book.close(key)
        window.stop.set()
        if window.thread is not None:
            window.thread.join()
        self._read_into(window)
        return window

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return ``energy_mj`` per forward pass and mean ``power_w``, or unavailable + reason."""
        check_inferences(inferences)
        window = self._stop(key)
        samples = sorted(window.samples)
        if window.error is not None:
            return [self._unavailable("energy_mj", window.error)]
        if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
            return [self._unavailable("energy_mj", "fewer than two power samples in the window")]
        window_s = samples[-1][0] - samples[0][0]
        total_mj = integrate_power(samples) * 1e3
        details: dict[str, Detail] = {
            **self._details,
            "total_mj": total_mj,
            "samples": len(samples),
            "sample_period_s": self.period_s,
            "sample_rate_hz": (len(samples) - 1) / window_s,
            "inferences": inferences,
        }
        return energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope=self.scope,
            details=details,
            details_on_power=True,
        )

    def idle_power(self, duration_s: float) -> Measurement:
        """Mean power over ``duration_s`` seconds with no workload (``power_idle_w``)."""
        self.begin_window("__idle__")
        if self._background:
            self._clock.sleep(duration_s)
        else:
            # No sampling thread: sample at the configured period while the (fake) clock moves.
            steps = max(1, round(duration_s / self.period_s))
            for _ in range(steps):
                self._clock.sleep(duration_s / steps)
                self.sample("__idle__")
        records = self.end_window("__idle__", inferences=1)
        return idle_power_from(records, method=self.method, scope=self.scope, keep_details=True)

    def _unavailable(self, name: str, reason: str) -> Measurement:
        return Measurement.unavailable(name, method=self.method, scope=self.scope, reason=reason)


def _reason(error: BaseException) -> str:
    if isinstance(error, PermissionError):
        where = error.filename or "the sensor"
        return f"permission denied reading {where} (run as root or grant read access)"
    if isinstance(error, FileNotFoundError):
        return f"sensor file disappeared: {error.filename}"
    return str(error) or type(error).__name__
