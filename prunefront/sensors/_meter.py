"""The window contract every profiler backend follows, and the clock it reads.

A backend is read over named windows, the way Zeus's monitor is: ``begin_window(key)``, run the
workload, ``end_window(key, inferences=n)`` and get back ``Measurement`` records that describe
that window (per forward pass). Latency meters, energy meters and the ``unavailable`` meter all
follow this one contract, and one test suite checks it for every backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from prunefront.sensors._measurement import Measurement

__all__ = [
    "Clock",
    "EnergyMeter",
    "Meter",
    "SystemClock",
    "UnavailableMeter",
    "WindowBook",
    "WindowProgress",
    "check_inferences",
]

_State = TypeVar("_State")


class Clock(Protocol):
    """Where meters read time and how they wait; tests pass a fake one."""

    def now(self) -> float:
        """Return a monotonic time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock: ``time.perf_counter`` and ``time.sleep``."""

    def now(self) -> float:
        """Return ``time.perf_counter()``."""
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds``."""
        time.sleep(seconds)


@runtime_checkable
class Meter(Protocol):
    """A sensor read over named windows.

    ``end_window`` returns records per forward pass: ``inferences`` is the number of forward
    passes run inside the window. Opening a key twice or closing an unknown key is a
    programming error (``ValueError``).
    """

    def begin_window(self, key: str) -> None:
        """Start the window ``key``."""
        ...

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Close the window ``key`` and return its records."""
        ...


@dataclass(frozen=True, kw_only=True)
class WindowProgress:
    """How far an open energy window has come.

    Attributes:
        elapsed_s: Seconds since the window began.
        counter_updates: Sensor updates seen (or inferred) so far; ``None`` when the sensor has
            no countable updates (RAPL's ~1 ms counter, codecarbon).
    """

    elapsed_s: float
    counter_updates: int | None


@runtime_checkable
class EnergyMeter(Meter, Protocol):
    """A ``Meter`` of energy that can also say how far a window has come and measure idle power.

    Attributes:
        method: The method label its records carry (``rapl``, ``nvml_energy_counter``, ...).
    """

    method: str

    def progress(self, key: str) -> WindowProgress:
        """Return how long the open window ``key`` has run and how many updates it spans."""
        ...

    def idle_power(self, duration_s: float) -> Measurement:
        """Measure ``power_idle_w`` over ``duration_s`` seconds with no workload."""
        ...


class WindowBook(Generic[_State]):
    """Bookkeeping of open windows, shared by the backends."""

    def __init__(self) -> None:
        self._open: dict[str, _State] = {}

    def open(self, key: str, state: _State) -> None:
        """Record the start state of window ``key``."""
        if key in self._open:
            raise ValueError(f"window {key!r} is already open")
        self._open[key] = state

    def peek(self, key: str) -> _State:
        """Return the start state of the open window ``key``."""
        if key not in self._open:
            raise ValueError(f"window {key!r} was never begun (open: {sorted(self._open)})")
        return self._open[key]

    def close(self, key: str) -> _State:
        """Forget window ``key`` and return its start state."""
        state = self.peek(key)
        del self._open[key]
        return state


def check_inferences(inferences: int) -> None:
    """Reject a window that ran no forward pass (programming error)."""
    if inferences < 1:
        raise ValueError(f"a window needs inferences >= 1, got {inferences}")


class UnavailableMeter:
    """The backend of a sensor that is not there: every window gives ``unavailable`` + reason.

    Args:
        reason: Why nothing can be measured (shown to the user as is).
        name: The measurement name, e.g. ``"energy_mj"``.
        method: The method that was tried or would be used, e.g. ``"none"`` or ``"rapl"``.
        scope: What it would have covered.
        clock: Time source for ``progress``.
    """

    def __init__(
        self,
        reason: str,
        *,
        name: str = "energy_mj",
        method: str = "none",
        scope: str = "none",
        clock: Clock | None = None,
    ) -> None:
        self.reason = reason
        self.name = name
        self.method = method
        self.scope = scope
        self._clock = clock or SystemClock()
        self._book: WindowBook[float] = WindowBook()

    def begin_window(self, key: str) -> None:
        """Start the window ``key`` (only its time is kept)."""
        self._book.open(key, self._clock.now())

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return one ``unavailable`` record with the reason."""
        check_inferences(inferences)
        self._book.close(key)
        return [self.record(self.name)]

    def progress(self, key: str) -> WindowProgress:
        """Report elapsed time only: there is no sensor to update."""
        return WindowProgress(
            elapsed_s=self._clock.now() - self._book.peek(key), counter_updates=None
        )

    def idle_power(self, duration_s: float) -> Measurement:
        """Return ``power_idle_w`` as unavailable, without waiting."""
        return self.record("power_idle_w")

    def record(self, name: str) -> Measurement:
        """An ``unavailable`` record named ``name`` carrying this meter's reason."""
        return Measurement.unavailable(
            name, method=self.method, scope=self.scope, reason=self.reason
        )
