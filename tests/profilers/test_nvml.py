"""NVML energy on replayed traces: counter differences, long-enough windows, idle subtraction,
and the power-integration fallback labelled as such."""

from __future__ import annotations

import time

import pytest

from prunefront.profilers import (
    EnergySettings,
    NvmlCounterMeter,
    NvmlPowerMeter,
    NvmlUnavailable,
    NvmlUnsupported,
    PynvmlReader,
    UnavailableMeter,
    measure_energy,
    select_energy_meter,
)
from prunefront.testing import FakeClock, ReplayedNvml, nvml_trace


def _nvml_works() -> bool:
    try:
        PynvmlReader(0).close()
    except NvmlUnavailable:
        return False
    return True


def _idle_then_busy(clock: FakeClock, *, idle_w: float, busy_w: float, period_s: float = 0.02):
    trace = nvml_trace([(1.0, idle_w), (100.0, busy_w)], update_period_s=period_s)
    return ReplayedNvml(trace, clock=clock)


def test_replayed_trace_gives_known_gross_and_net_energy_per_pass() -> None:
    clock = FakeClock()
    reader = _idle_then_busy(clock, idle_w=50.0, busy_w=250.0)
    meter = NvmlCounterMeter(reader, clock=clock)
    settings = EnergySettings(min_window_s=2.0, min_counter_updates=50, idle_s=1.0)
    result = measure_energy(meter, lambda: clock.advance(0.01), batch_size=4, settings=settings)
    # 10 ms per pass at 250 W = 2500 mJ gross; minus 50 W idle = 2000 mJ net.
    assert result.energy_mj.kind == "measured"
    assert result.energy_mj.method == "nvml_energy_counter"
    assert result.energy_mj.value == pytest.approx(2500.0, rel=0.02)
    assert result.energy_net_mj.value == pytest.approx(2000.0, rel=0.02)
    assert result.power_w.value == pytest.approx(250.0, rel=0.02)
    assert result.power_idle_w.value == pytest.approx(50.0, rel=0.03)
    assert result.to_dict()["per_sample_mj"] == pytest.approx(625.0, rel=0.02)
    assert meter.update_period_s == pytest.approx(0.02, rel=0.05)


def test_counter_difference_over_a_window_is_the_trace_energy() -> None:
    clock = FakeClock()
    reader = ReplayedNvml(nvml_trace([(100.0, 300.0)], update_period_s=0.05), clock=clock)
    meter = NvmlCounterMeter(reader, clock=clock)
    meter.idle_power(0.5)  # also measures the update period
    meter.begin_window("w")
    for _ in range(500):  # 5 s, 100 updates, progress checked as the energy loop does
        clock.advance(0.01)
        meter.progress("w")
    gross, power = meter.end_window("w", inferences=10)
    assert gross.details["total_mj"] == pytest.approx(300.0 * 5.0 * 1e3, rel=1e-6)
    assert gross.value == pytest.approx(150_000.0, rel=1e-6)
    assert power.value == pytest.approx(300.0, rel=1e-6)


def test_a_too_short_window_is_extended_until_it_spans_enough_updates() -> None:
    clock = FakeClock()
    reader = _idle_then_busy(clock, idle_w=50.0, busy_w=200.0, period_s=0.02)
    meter = NvmlCounterMeter(reader, clock=clock)
    # 0.1 s would do for time, but 50 updates of 20 ms need a whole second.
    settings = EnergySettings(min_window_s=0.1, min_counter_updates=50, idle_s=0.5)
    result = measure_energy(meter, lambda: clock.advance(0.001), batch_size=1, settings=settings)
    assert result.energy_mj.window_s is not None and result.energy_mj.window_s >= 0.99
    assert result.energy_mj.details["counter_updates"] >= 50  # type: ignore[operator]
    assert not result.energy_mj.notes


def test_a_window_capped_before_enough_updates_is_flagged() -> None:
    clock = FakeClock()
    reader = _idle_then_busy(clock, idle_w=50.0, busy_w=200.0, period_s=0.5)
    meter = NvmlCounterMeter(reader, clock=clock)
    settings = EnergySettings(
        min_window_s=1.0, min_counter_updates=50, max_window_s=3.0, idle_s=1.0
    )
    result = measure_energy(meter, lambda: clock.advance(0.01), batch_size=1, settings=settings)
    assert result.energy_mj.kind == "measured"
    assert any("cap" in note for note in result.energy_mj.notes)
    assert result.to_dict()["notes"]


def test_a_window_without_a_counter_update_is_unavailable_not_zero() -> None:
    clock = FakeClock()
    reader = ReplayedNvml(nvml_trace([(10.0, 100.0)], update_period_s=0.1), clock=clock)
    meter = NvmlCounterMeter(reader, clock=clock)
    clock.advance(0.01)
    meter.begin_window("w")
    clock.advance(0.02)  # inside one update period
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable"
    assert record.value is None
    assert record.reason is not None and "too short" in record.reason


class _BusyGpu:
    """A GPU without the energy counter whose power jumps when the workload runs."""

    def __init__(self, idle_w: float, busy_w: float) -> None:
        self.idle_w, self.busy_w, self.busy = idle_w, busy_w, False

    def total_energy_mj(self) -> int:
        raise NvmlUnsupported("total energy counter: Not Supported")

    def power_mw(self) -> int:
        return round((self.busy_w if self.busy else self.idle_w) * 1e3)

    def device_info(self) -> dict[str, str]:
        return {"name": "Old GPU", "compute_capability": "6.1"}


def test_without_the_counter_power_is_integrated_and_labelled_as_such() -> None:
    gpu = _BusyGpu(idle_w=60.0, busy_w=300.0)
    meter = select_energy_meter("cuda", "auto", nvml_reader=gpu)
    assert isinstance(meter, NvmlPowerMeter)

    def run_once() -> None:
        gpu.busy = True
        time.sleep(0.005)

    settings = EnergySettings(min_window_s=0.4, min_counter_updates=1, idle_s=0.2)
    result = measure_energy(meter, run_once, batch_size=1, settings=settings)
    for record in result.measurements():
        assert record.method == "nvml_power_integration"
        assert record.kind == "measured"
    assert result.power_w.value == pytest.approx(300.0, rel=0.05)
    assert result.power_idle_w.value == pytest.approx(60.0, rel=0.02)
    window_s = result.energy_mj.window_s
    calls = result.energy_mj.repeats
    assert window_s is not None
    assert result.energy_mj.value == pytest.approx(300.0 * window_s * 1e3 / calls, rel=0.05)
    assert result.energy_net_mj.value == pytest.approx(240.0 * window_s * 1e3 / calls, rel=0.07)


def test_counter_support_picks_the_counter_meter() -> None:
    clock = FakeClock()
    reader = ReplayedNvml(nvml_trace([(10.0, 100.0)]), clock=clock)
    assert isinstance(select_energy_meter("cuda", "auto", nvml_reader=reader), NvmlCounterMeter)


@pytest.mark.skipif(_nvml_works(), reason="this machine has an NVIDIA driver")
def test_without_a_driver_gpu_energy_is_unavailable_with_the_reason() -> None:
    with pytest.raises(NvmlUnavailable, match="driver"):
        PynvmlReader(0)
    meter = select_energy_meter("cuda", "auto")
    assert isinstance(meter, UnavailableMeter)
    assert "NVML" in meter.reason
