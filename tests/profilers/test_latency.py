"""Latency: repeats until the spread settles, quantiles, pinned threads, interleaving."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from prunefront.errors import PrunefrontError
from prunefront.profilers import (
    LatencySettings,
    LatencyStats,
    perf_counter_timer,
    pinned_threads,
    time_interleaved,
)
from prunefront.testing import FakeClock


def _scripted_timer(per_call_ms: Iterator[float], log: list[str] | None = None) -> Callable:
    """A timer that returns scripted durations; ``fn`` is called so order can be logged."""

    def time_calls(fn: Callable[[], object], calls: int) -> float:
        fn()
        return next(per_call_ms) * calls

    return time_calls


def test_cpu_latency_is_measured_with_perf_counter_and_ordered_quantiles() -> None:
    x = torch.randn(16, 64)
    layer = torch.nn.Linear(64, 64)
    settings = LatencySettings(min_time_s=0.0, max_time_s=1.0, min_sample_ms=0.2)
    stats = time_interleaved(
        {"dense": lambda: layer(x)}, settings=settings, timer=perf_counter_timer()
    )
    record = stats["dense"].to_measurement(method="perf_counter", strategy="dense")
    assert record.kind == "measured"
    assert record.method == "perf_counter"
    assert record.unit == "ms"
    assert 0 < record.details["p50_ms"] <= record.details["p90_ms"]  # type: ignore[operator]
    assert record.value == record.details["p50_ms"]
    assert record.repeats >= settings.min_repeats
    assert record.spread is not None and record.spread >= 0


def test_timing_stops_once_the_medians_interval_is_narrow() -> None:
    # Ten widely spread samples, then a steady 2 ms: stops once the median's 95 % interval
    # lies inside the steady part (about 20 more samples), not after hundreds.
    noisy = [1.0, 9.0, 3.0, 7.0, 0.5, 8.0, 2.5, 6.0, 4.0, 10.0]
    script = iter([2.0, *noisy] + [2.0] * 500)  # first value: the calibration call
    settings = LatencySettings(
        warmup_runs=0, min_repeats=10, settle_rel_ci=0.05, min_sample_ms=0.0, min_time_s=0.0
    )
    stats = time_interleaved({"w": lambda: None}, settings=settings, timer=_scripted_timer(script))
    assert stats["w"].settled
    assert 20 < len(stats["w"].samples_ms) <= 40
    assert stats["w"].p50_ms == 2.0
    assert stats["w"].median_ci95_ms == (2.0, 2.0)


def test_noise_that_never_stops_still_settles_as_samples_accumulate() -> None:
    # Under steady noise a spread of the last samples never shrinks; the median's interval does.
    import random

    rng = random.Random(0)
    script = iter([1.0] + [1.0 + rng.random() for _ in range(5000)])
    settings = LatencySettings(
        warmup_runs=0, min_repeats=10, settle_rel_ci=0.05, min_sample_ms=0.0, min_time_s=0.0
    )
    stats = time_interleaved({"w": lambda: None}, settings=settings, timer=_scripted_timer(script))
    low, high = stats["w"].median_ci95_ms
    assert stats["w"].settled
    assert (high - low) / stats["w"].p50_ms <= 0.05
    assert len(stats["w"].samples_ms) < 2000


def test_a_spread_that_never_settles_stops_at_max_repeats_and_is_flagged() -> None:
    script = iter([1.0] + [1.0, 3.0] * 100)
    settings = LatencySettings(
        warmup_runs=0, min_repeats=10, max_repeats=30, min_sample_ms=0.0, min_time_s=0.0
    )
    stats = time_interleaved({"w": lambda: None}, settings=settings, timer=_scripted_timer(script))
    assert not stats["w"].settled
    assert len(stats["w"].samples_ms) == 30
    assert stats["w"].to_measurement(method="perf_counter").notes


def test_time_cap_stops_timing() -> None:
    clock = FakeClock()

    def timer(fn: Callable[[], object], calls: int) -> float:
        clock.advance(0.5)
        return 1.0 if clock.now() % 1 else 4.0  # alternating: never settles

    settings = LatencySettings(warmup_runs=0, max_time_s=3.0, min_sample_ms=0.0)
    stats = time_interleaved({"w": lambda: None}, settings=settings, timer=timer, clock=clock)
    assert len(stats["w"].samples_ms) <= 7


def test_timing_goes_on_for_min_time_even_when_settled() -> None:
    clock = FakeClock()

    def timer(fn: Callable[[], object], calls: int) -> float:
        clock.advance(0.01)
        return 2.0 * calls

    settings = LatencySettings(warmup_runs=0, min_time_s=0.5, max_time_s=5.0, min_sample_ms=0.0)
    stats = time_interleaved({"w": lambda: None}, settings=settings, timer=timer, clock=clock)
    assert stats["w"].settled
    assert len(stats["w"].samples_ms) == pytest.approx(50, abs=2)


def test_workloads_are_interleaved_round_by_round() -> None:
    order: list[str] = []
    script = iter([1.0] * 1000)
    settings = LatencySettings(warmup_runs=0, min_repeats=4, min_sample_ms=0.0, min_time_s=0.0)
    stats = time_interleaved(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")},
        settings=settings,
        timer=_scripted_timer(script),
    )
    timed = order[2:]  # after the two calibration calls
    assert timed.count("a") == timed.count("b") == 4
    # Each round times both before either is timed again.
    for i in range(0, len(timed), 2):
        assert sorted(timed[i : i + 2]) == ["a", "b"]
    assert set(stats) == {"a", "b"}


def test_quantiles_match_numpy_linear_interpolation() -> None:
    stats = LatencyStats(
        samples_ms=(1.0, 2.0, 3.0, 4.0, 10.0), calls_per_sample=1, settled=True, elapsed_s=1.0
    )
    assert stats.p50_ms == 3.0
    assert stats.p90_ms == pytest.approx(7.6)
    assert stats.iqr_ms == pytest.approx(2.0)


def test_threads_are_pinned_inside_and_restored_after() -> None:
    before = torch.get_num_threads()
    target = 2 if before != 2 else 1
    with pinned_threads(target) as used:
        assert used == target
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before


def test_threads_are_restored_when_the_workload_raises() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), pinned_threads(2 if before != 2 else 1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_bad_thread_count_is_a_user_error() -> None:
    with pytest.raises(PrunefrontError, match="threads = 0"), pinned_threads(0):
        pass


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_repeats", 1, "min_repeats"),
        ("settle_rel_ci", 0.0, "settle_rel_ci"),
        ("max_time_s", 0.0, "max_time_s"),
        ("max_repeats", 2, "max_repeats"),
        ("min_time_s", 20.0, "min_time_s"),
    ],
)
def test_latency_settings_reject_bad_values(field: str, value: float, message: str) -> None:
    with pytest.raises(PrunefrontError, match=message):
        LatencySettings(**{field: value})  # type: ignore[arg-type]


def test_latency_settings_round_trip_and_name_unknown_keys() -> None:
    settings = LatencySettings(max_time_s=2.0)
    assert LatencySettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(PrunefrontError, match="warmup"):
        LatencySettings.from_dict({"warmup": 3})
