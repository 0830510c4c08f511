"""Latency on torch devices: CUDA event timing, pinned CPU threads, and window meters.

The sampling loop and its statistics (``time_interleaved``, ``LatencySettings``,
``LatencyStats``) are torch-free and live in ``prunefront.sensors``, shared with the remote
agent; they are re-exported here. What needs torch — CUDA events, ``torch.set_num_threads`` —
is in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from prunefront.errors import PrunefrontError
from prunefront.sensors import (
    Clock,
    LatencySettings,
    LatencyStats,
    Measurement,
    SystemClock,
    Timer,
    WindowBook,
    check_inferences,
    perf_counter_timer,
    time_interleaved,
)

__all__ = [
    "CudaEventLatencyMeter",
    "LatencySettings",
    "LatencyStats",
    "PerfCounterLatencyMeter",
    "Timer",
    "cuda_event_timer",
    "perf_counter_timer",
    "pinned_threads",
    "time_interleaved",
]


def cuda_event_timer(device: torch.device) -> Timer:
    """Return a CUDA timer: events recorded around the calls on the current stream, synchronised."""

    def time_calls(fn: Callable[[], object], calls: int) -> float:
        with torch.cuda.device(device):
            torch.cuda.synchronize(device)
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))

    return time_calls


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[int]:
    """Set ``torch.set_num_threads(threads)`` inside the block and restore the old count after.

    ``None`` keeps the current count. Yields the count in effect.

    Raises:
        PrunefrontError: ``threads`` is below 1.
    """
    previous = torch.get_num_threads()
    if threads is None:
        yield previous
        return
    if threads < 1:
        raise PrunefrontError(f"threads = {threads}: must be an integer >= 1 (or None: keep)")
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)


class PerfCounterLatencyMeter:
    """Window meter of wall time per forward pass (``perf_counter``); for synchronous devices."""

    method = "perf_counter"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._book: WindowBook[float] = WindowBook()

    def begin_window(self, key: str) -> None:
        """Start timing window ``key``."""
        self._book.open(key, self._clock.now())

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return ``latency_ms`` = window wall time / ``inferences``."""
        check_inferences(inferences)
        window_s = self._clock.now() - self._book.close(key)
        return [
            Measurement(
                name="latency_ms",
                value=window_s * 1e3 / inferences,
                kind="measured",
                method=self.method,
                scope="forward_pass",
                window_s=window_s,
                repeats=inferences,
            )
        ]


class CudaEventLatencyMeter:
    """Window meter of GPU time per forward pass between two CUDA events (synchronised)."""

    method = "cuda_events"

    def __init__(self, device: torch.device | str) -> None:
        self._device = torch.device(device)
        self._book: WindowBook[Any] = WindowBook()

    def begin_window(self, key: str) -> None:
        """Synchronise, then record the start event of window ``key``."""
        torch.cuda.synchronize(self._device)
        with torch.cuda.device(self._device):
            start = torch.cuda.Event(enable_timing=True)
            start.record()
        self._book.open(key, start)

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Record the end event, wait for it, and return ``latency_ms`` per forward pass."""
        check_inferences(inferences)
        start = self._book.close(key)
        with torch.cuda.device(self._device):
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
        window_ms = float(start.elapsed_time(end))
        return [
            Measurement(
                name="latency_ms",
                value=window_ms / inferences,
                kind="measured",
                method=self.method,
                scope="forward_pass",
                window_s=window_ms / 1e3,
                repeats=inferences,
            )
        ]
