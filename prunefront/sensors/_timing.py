"""Timing forward passes until their spread settles: the torch-free core of latency profiling.

Timing is interleaved: when several workloads (the execution strategies of one candidate) are
compared, each round times every one of them once, in a rotating order, so that a noisy
neighbour on a shared machine slows all of them alike instead of whichever ran at that moment.
A sample times enough back-to-back calls to last ``min_sample_ms`` so that timer resolution and
call overhead do not dominate small models; every number is reported per forward pass. The
remote agent times ONNX Runtime sessions with exactly these statistics, without torch.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prunefront.errors import PrunefrontError
from prunefront.sensors._measurement import Measurement
from prunefront.sensors._meter import Clock, SystemClock

__all__ = [
    "LatencySettings",
    "LatencyStats",
    "Timer",
    "median_ci95",
    "perf_counter_timer",
    "time_interleaved",
]

Timer = Callable[[Callable[[], object], int], float]
"""``timer(fn, calls)`` runs ``fn`` ``calls`` times back to back and returns the elapsed ms."""


@dataclass(frozen=True, kw_only=True)
class LatencySettings:
    """How latency is sampled.

    Attributes:
        warmup_runs: Untimed calls per workload before timing (caches, allocator, MKL init).
        min_repeats: Timed samples per workload before its median may count as settled.
        max_repeats: Stop sampling a workload after this many samples.
        settle_rel_ci: Settled when the distribution-free 95 % confidence interval of the
            median (over all samples so far) is at most this fraction of the median wide. Unlike
            a spread of the last samples, it narrows with more samples even on a loaded machine,
            so the median of two profiles of one model agree to about this precision.
        min_time_s: Keep timing (all workloads, interleaved) at least this long even once
            settled, so that one burst of load from a neighbour cannot fill a whole profile.
        max_time_s: Stop all timing after this many seconds, settled or not (recorded as such).
        min_sample_ms: One sample runs back-to-back calls until it lasts at least this long.
        process_warmup_s: Untimed passes before the first timing in a process (thread pools,
            allocator, CPU clocks); without them the first profile of a search read slow.
    """

    warmup_runs: int = 3
    min_repeats: int = 10
    max_repeats: int = 2000
    settle_rel_ci: float = 0.03
    min_time_s: float = 1.0
    max_time_s: float = 10.0
    min_sample_ms: float = 1.0
    process_warmup_s: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "warmup_runs": (self.warmup_runs, 0, "an integer >= 0"),
            "min_repeats": (self.min_repeats, 3, "an integer >= 3"),
        }
        for key, (value, low, text) in checks.items():
            if value < low:
                raise PrunefrontError(f"latency.{key} = {value}: must be {text}")
        if self.max_repeats < self.min_repeats:
            raise PrunefrontError(
                f"latency.max_repeats = {self.max_repeats}: must be >= min_repeats "
                f"({self.min_repeats})"
            )
        if not 0.0 < self.settle_rel_ci < 1.0:
            raise PrunefrontError(
                f"latency.settle_rel_ci = {self.settle_rel_ci}: must be in (0, 1)"
            )
        if not self.max_time_s > 0.0:
            raise PrunefrontError(f"latency.max_time_s = {self.max_time_s}: must be > 0")
        if not 0.0 <= self.min_time_s <= self.max_time_s:
            raise PrunefrontError(
                f"latency.min_time_s = {self.min_time_s}: must be in [0, max_time_s "
                f"({self.max_time_s})]"
            )
        if not 0.0 <= self.process_warmup_s <= 60.0:
            raise PrunefrontError(
                f"latency.process_warmup_s = {self.process_warmup_s}: must be in [0, 60]"
            )
        if self.min_sample_ms < 0.0:
            raise PrunefrontError(f"latency.min_sample_ms = {self.min_sample_ms}: must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencySettings:
        """Build settings from a dict, naming any unknown key."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise PrunefrontError(
                f"latency: unknown key(s) {unknown}; valid: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**data)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    pos = (len(sorted_values) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def median_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Distribution-free 95 % confidence interval of the median (order statistics).

    The ranks ``n/2 -+ 1.96 sqrt(n)/2`` of the sorted values (the normal approximation of the
    binomial); with fewer than 6 values the interval is the whole range.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return (math.nan, math.nan)
    half = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half) - 1)
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    if n < 6:
        low, high = 0, n - 1
    return (ordered[low], ordered[high])


def _rel_ci(values: Sequence[float]) -> float:
    low, high = median_ci95(values)
    median = _quantile(sorted(values), 0.5)
    return (high - low) / median if median > 0 else math.inf


@dataclass(frozen=True, kw_only=True)
class LatencyStats:
    """The timed samples of one workload, per forward pass.

    Attributes:
        samples_ms: Per-forward-pass latency of each timed sample, in time order.
        calls_per_sample: Back-to-back calls inside one sample.
        settled: Whether the median's 95 % interval narrowed to ``settle_rel_ci`` (False: the
            time or repeat cap stopped timing first).
        elapsed_s: Wall time spent timing (all workloads of the same run together).
    """

    samples_ms: tuple[float, ...]
    calls_per_sample: int
    settled: bool
    elapsed_s: float

    @property
    def p50_ms(self) -> float:
        """Median latency per forward pass."""
        return _quantile(sorted(self.samples_ms), 0.5)

    @property
    def p90_ms(self) -> float:
        """90th percentile latency per forward pass."""
        return _quantile(sorted(self.samples_ms), 0.9)

    @property
    def iqr_ms(self) -> float:
        """Interquartile range of the per-forward-pass latency."""
        ordered = sorted(self.samples_ms)
        return _quantile(ordered, 0.75) - _quantile(ordered, 0.25)

    @property
    def median_ci95_ms(self) -> tuple[float, float]:
        """95 % confidence interval of the median latency per forward pass."""
        return median_ci95(self.samples_ms)

    def to_measurement(self, *, method: str, strategy: str | None = None) -> Measurement:
        """Return ``latency_ms`` (the median) with p50, p90, IQR and the median's interval."""
        notes = (
            ()
            if self.settled
            else ("the time or repeat cap stopped timing before the median's interval narrowed",)
        )
        low, high = self.median_ci95_ms
        details: dict[str, float | int | str | None] = {
            "median_ci95_low_ms": low,
            "median_ci95_high_ms": high,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "iqr_ms": self.iqr_ms,
            "mean_ms": statistics.fmean(self.samples_ms),
            "samples": len(self.samples_ms),
            "calls_per_sample": self.calls_per_sample,
        }
        if strategy is not None:
            details["strategy"] = strategy
        return Measurement(
            name="latency_ms",
            value=self.p50_ms,
            kind="measured",
            method=method,
            scope="forward_pass",
            window_s=self.elapsed_s,
            repeats=len(self.samples_ms) * self.calls_per_sample,
            spread=self.iqr_ms,
            details=details,
            notes=notes,
        )


def perf_counter_timer(clock: Clock | None = None) -> Timer:
    """Return a CPU timer: wall time around ``calls`` back-to-back calls."""
    source = clock or SystemClock()

    def time_calls(fn: Callable[[], object], calls: int) -> float:
        start = source.now()
        for _ in range(calls):
            fn()
        return (source.now() - start) * 1e3

    return time_calls


def _calls_per_sample(fn: Callable[[], object], timer: Timer, min_sample_ms: float) -> int:
    one_ms = max(timer(fn, 1), 1e-6)
    return max(1, min(10_000, math.ceil(min_sample_ms / one_ms)))


def time_interleaved(
    workloads: Mapping[str, Callable[[], object]],
    *,
    settings: LatencySettings,
    timer: Timer,
    clock: Clock | None = None,
) -> dict[str, LatencyStats]:
    """Time several workloads side by side until each one's spread settles or a cap is hit.

    Args:
        workloads: Name -> zero-argument callable running one forward pass (synchronised).
        settings: Warm-up, repeats, spread target and time cap.
        timer: ``perf_counter_timer()`` on CPU, ``cuda_event_timer(device)`` on CUDA.
        clock: Time source for the cap.

    Returns:
        Name -> latency statistics per forward pass.
    """
    source = clock or SystemClock()
    names = list(workloads)
    for name in names:
        for _ in range(settings.warmup_runs):
            workloads[name]()
    calls = {n: _calls_per_sample(workloads[n], timer, settings.min_sample_ms) for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    settled = dict.fromkeys(names, False)
    start = source.now()
    round_index = 0
    while True:
        elapsed = source.now() - start
        if elapsed >= settings.max_time_s:
            break
        active = [
            n
            for n in names
            if len(samples[n]) < settings.max_repeats
            and (not settled[n] or elapsed < settings.min_time_s)
        ]
        if not active:
            break
        shift = round_index % len(active)
        for name in active[shift:] + active[:shift]:
            samples[name].append(timer(workloads[name], calls[name]) / calls[name])
            if len(samples[name]) >= settings.min_repeats:
                settled[name] = _rel_ci(samples[name]) <= settings.settle_rel_ci
        round_index += 1
    elapsed = source.now() - start
    return {
        n: LatencyStats(
            samples_ms=tuple(samples[n]),
            calls_per_sample=calls[n],
            settled=settled[n],
            elapsed_s=elapsed,
        )
        for n in names
        if samples[n]
    }
