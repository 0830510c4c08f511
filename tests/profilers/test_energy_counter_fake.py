"""The NVML energy counter on a fake counter with a set update period and phase and a fake
clock: an unbiased idle baseline, and energy windows that pipeline the passes (the counter read
about four times per update period, one synchronise at the end)."""

from __future__ import annotations

import pytest

from prunefront.profilers import EnergySettings, NvmlCounterMeter, measure_energy
from prunefront.testing import FakeClock, ReplayedNvml, nvml_trace

PHASES_S = (0.0, 0.013, 0.05, 0.087)


@pytest.mark.parametrize("idle_s", [0.75, 1.0, 1.05])
@pytest.mark.parametrize(
    ("period_s", "phase_s"), [(0.02, 0.0), (0.02, 0.013), *((0.1, p) for p in PHASES_S)]
)
def test_idle_power_is_the_true_power_whatever_the_counters_period_and_phase(
    period_s: float, phase_s: float, idle_s: float
) -> None:
    clock = FakeClock()
    reader = ReplayedNvml(
        nvml_trace([(30.0, 60.0)], update_period_s=period_s, phase_s=phase_s), clock=clock
    )
    meter = NvmlCounterMeter(reader, clock=clock)
    idle = meter.idle_power(idle_s)
    assert idle.value == pytest.approx(60.0, rel=2e-3)
    assert meter.update_period_s == pytest.approx(period_s, rel=1e-3)


@pytest.mark.parametrize("phase_s", PHASES_S)
def test_gross_and_net_energy_per_pass_are_unbiased_at_any_phase(phase_s: float) -> None:
    clock = FakeClock()
    trace = nvml_trace([(1.0, 60.0), (60.0, 260.0)], update_period_s=0.1, phase_s=phase_s)
    meter = NvmlCounterMeter(ReplayedNvml(trace, clock=clock), clock=clock)
    settings = EnergySettings(min_window_s=2.0, min_counter_updates=20, idle_s=1.0)
    result = measure_energy(meter, lambda: clock.advance(0.004), batch_size=1, settings=settings)
    # 4 ms per pass at 260 W = 1040 mJ gross; 200 W above idle = 800 mJ net.
    assert result.power_idle_w.value == pytest.approx(60.0, rel=2e-3)
    assert result.energy_mj.value == pytest.approx(1040.0, rel=5e-3)
    assert result.energy_net_mj.value == pytest.approx(800.0, rel=5e-3)


class _Gpu:
    """A fake asynchronous device: passes queue up; the counter sees them as they run."""

    def __init__(self, clock: FakeClock, reader: ReplayedNvml) -> None:
        self.clock, self.reader = clock, reader
        self.launched = self.synchronised = 0
        self.reads_at_first_launch = self.reads_at_sync = 0

    def launch(self) -> None:
        if not self.launched:
            self.reads_at_first_launch = self.reader.reads
        self.launched += 1
        self.clock.advance(0.0002)  # the CPU waits on a full queue: one pass time per launch

    def synchronize(self) -> None:
        self.synchronised += 1
        self.reads_at_sync = self.reader.reads


def test_energy_passes_pipeline_with_one_synchronise_and_few_counter_reads() -> None:
    clock = FakeClock()
    trace = nvml_trace([(1.0, 60.0), (60.0, 300.0)], update_period_s=0.02)
    reader = ReplayedNvml(trace, clock=clock)
    meter = NvmlCounterMeter(reader, clock=clock)
    gpu = _Gpu(clock, reader)
    settings = EnergySettings(min_window_s=2.0, min_counter_updates=50, idle_s=1.0)
    result = measure_energy(
        meter, gpu.launch, batch_size=1, settings=settings, synchronize=gpu.synchronize
    )
    assert gpu.synchronised == 1
    assert gpu.launched >= 10_000
    # About four reads per 20 ms update over the 2 s window, not one per pass.
    assert gpu.reads_at_sync - gpu.reads_at_first_launch <= 4 * 2.0 / 0.02 + 5
    assert result.energy_mj.value == pytest.approx(300.0 * 0.2, rel=5e-3)
