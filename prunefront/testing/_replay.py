"""Replayed sensors: code above a sensor is tested without the hardware (Zeus's ``Replay*`` idea).

``FakeClock`` is a clock that moves only when told to (a fake workload advances it), so a
replayed trace is read at exactly known times. ``ReplayedNvml`` plays back a recorded NVML trace
(time, energy counter, power) through the ``NvmlReader`` protocol; ``nvml_trace`` builds such a
trace from power segments the way a driver would (a counter that updates every few tens of ms).
``write_rapl_tree`` writes a sysfs-like powercap tree; ``deny_reading`` wraps a file reader so that
chosen files raise ``PermissionError`` as they do for a non-root user on Linux >= 5.10.
Re-exported from ``prunefront.testing``.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prunefront.profilers import NvmlUnsupported
from prunefront.sensors import Clock, SystemClock

__all__ = [
    "FakeClock",
    "NvmlSample",
    "ReplayedNvml",
    "deny_reading",
    "nvml_trace",
    "write_rapl_tree",
]


class FakeClock:
    """A clock that only moves when ``advance`` or ``sleep`` is called (thread-safe).

    Args:
        start_s: The initial time.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = start_s
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the current fake time."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the time by ``seconds`` without waiting."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move the time forward by ``seconds``."""
        with self._lock:
            self._now += seconds


@dataclass(frozen=True, kw_only=True)
class NvmlSample:
    """One row of an NVML trace.

    Attributes:
        t_s: Time since the start of the trace.
        energy_mj: The total-energy counter at ``t_s`` (``None``: no counter on this GPU).
        power_mw: The power reading at ``t_s``.
    """

    t_s: float
    energy_mj: int | None
    power_mw: int


def nvml_trace(
    segments: Sequence[tuple[float, float]],
    *,
    update_period_s: float = 0.02,
    counter: bool = True,
    start_mj: int = 1_000_000,
    phase_s: float = 0.0,
) -> list[NvmlSample]:
    """Build a trace from ``(duration_s, watts)`` segments, sampled at the counter's updates.

    The counter holds the integral of power up to each update, rounded to whole millijoules as
    NVML reports it; between updates a reader sees the last update's value.

    Args:
        segments: Consecutive spans of constant power.
        update_period_s: Time between counter (and power) updates.
        counter: ``False`` replays a GPU without the total-energy counter.
        start_mj: Counter value at time zero (counters start at driver load, not at zero).
        phase_s: Time of the first update after zero, in ``[0, update_period_s)``: a reader
            starting at zero sees the value of an update made before it until then.
    """
    if not 0.0 <= phase_s < update_period_s:
        raise ValueError(f"phase_s = {phase_s}: must be in [0, update_period_s)")
    edges, energy, t = [0.0], [0.0], 0.0
    for duration, watts in segments:
        t += duration
        edges.append(t)
        energy.append(energy[-1] + duration * watts * 1e3)

    def power_at(time_s: float) -> float:
        index = min(bisect.bisect_right(edges, time_s) - 1, len(segments) - 1)
        return segments[index][1]

    def energy_at(time_s: float) -> float:
        index = min(bisect.bisect_right(edges, time_s) - 1, len(segments) - 1)
        return energy[index] + (time_s - edges[index]) * segments[index][1] * 1e3

    samples = []
    if phase_s > 0:  # the update before zero, held until the first one after it
        held = start_mj + round((phase_s - update_period_s) * segments[0][1] * 1e3)
        samples.append(
            NvmlSample(
                t_s=0.0, energy_mj=held if counter else None, power_mw=round(segments[0][1] * 1e3)
            )
        )
    for step in range(math.floor((edges[-1] - phase_s) / update_period_s) + 1):
        time_s = phase_s + step * update_period_s
        value = start_mj + round(energy_at(time_s)) if counter else None
        samples.append(
            NvmlSample(t_s=time_s, energy_mj=value, power_mw=round(power_at(time_s) * 1e3))
        )
    return samples


class ReplayedNvml:
    """An ``NvmlReader`` that plays back a trace against a clock.

    The trace starts at the clock's time when the reader is built; a read at time ``t`` returns
    the last sample at or before ``t`` (the held value of a sensor between updates). Reading past
    the end returns the last sample.

    Args:
        trace: Samples in time order.
        clock: The clock that the meter under test also uses (``FakeClock`` for exact results).
        info: What ``device_info`` returns.
    """

    def __init__(
        self,
        trace: Sequence[NvmlSample],
        *,
        clock: Clock | None = None,
        info: dict[str, str] | None = None,
    ) -> None:
        if not trace:
            raise ValueError("a replayed trace needs at least one sample")
        self._trace = list(trace)
        self._times = [s.t_s for s in self._trace]
        self._clock = clock or SystemClock()
        self._origin = self._clock.now()
        self._info = info or {
            "name": "Replayed GPU",
            "uuid": "GPU-replay",
            "compute_capability": "9.0",
            "driver_version": "replay",
        }
        self.reads = 0

    def _sample(self) -> NvmlSample:
        self.reads += 1
        elapsed = self._clock.now() - self._origin
        index = max(bisect.bisect_right(self._times, elapsed) - 1, 0)
        return self._trace[index]

    def total_energy_mj(self) -> int:
        """The counter at the current time; ``NvmlUnsupported`` if the trace has none."""
        value = self._sample().energy_mj
        if value is None:
            raise NvmlUnsupported("total energy counter: Not Supported (replayed)")
        return value

    def power_mw(self) -> int:
        """The power reading at the current time."""
        return self._sample().power_mw

    def device_info(self) -> dict[str, str]:
        """The replayed device's description."""
        return dict(self._info)


def write_rapl_tree(
    root: Path | str,
    zones: Sequence[tuple[str, int]],
    *,
    max_energy_range_uj: int = 262_143_328_850,
    subzones: bool = True,
) -> list[Path]:
    """Write a powercap tree like ``/sys/class/powercap`` under ``root``.

    Args:
        root: Directory to write into (created).
        zones: ``(name, energy_uj)`` per top-level zone, e.g. ``[("package-0", 1000)]``.
        max_energy_range_uj: Wrap-around point of every counter.
        subzones: Also write a ``core`` subzone per zone (which must not be double counted).

    Returns:
        The ``energy_uj`` files of the top-level zones, to update between reads.
    """
    base = Path(root)
    files = []
    for index, (name, energy_uj) in enumerate(zones):
        zone = base / f"intel-rapl:{index}"
        zone.mkdir(parents=True, exist_ok=True)
        (zone / "name").write_text(name + "\n")
        (zone / "energy_uj").write_text(f"{energy_uj}\n")
        (zone / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        files.append(zone / "energy_uj")
        if subzones:
            sub = base / f"intel-rapl:{index}:0"
            sub.mkdir(exist_ok=True)
            (sub / "name").write_text("core\n")
            (sub / "energy_uj").write_text(f"{energy_uj // 2}\n")
            (sub / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
    return files


def deny_reading(
    names: Sequence[str] = ("energy_uj",),
    read_text: Callable[[Path], str] = Path.read_text,
) -> Callable[[Path], str]:
    """A file reader that raises ``PermissionError`` for files called one of ``names``.

    ``chmod 000`` does not stop root, so a fake reader is how tests reproduce the root-only
    ``energy_uj`` of Linux >= 5.10 on any CI box.
    """

    def read(path: Path) -> str:
        if path.name in names:
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path)

    return read
