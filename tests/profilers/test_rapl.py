"""RAPL on sysfs-like file trees: sums, wrap-around, permission denied, missing; and what energy
this machine reports when nothing is readable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from prunefront.profilers import (
    EnergySettings,
    LatencySettings,
    ProfileSettings,
    RaplMeter,
    RaplReader,
    UnavailableMeter,
    measure_energy,
    profile_candidate,
    select_energy_meter,
)
from prunefront.sensors import counter_delta
from prunefront.testing import FakeClock, deny_reading, write_rapl_tree


class PoweredClock(FakeClock):
    """A fake clock that charges the package counters ``watts`` for every second it advances."""

    def __init__(self, files: list[Path], max_range_uj: int) -> None:
        super().__init__()
        self.files, self.max_range_uj, self.watts = files, max_range_uj, 10.0

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        for file in self.files:
            value = int(file.read_text()) + round(self.watts * seconds * 1e6 / len(self.files))
            file.write_text(str(value % self.max_range_uj))


def test_package_zones_are_summed_and_subzones_not_double_counted(tmp_path: Path) -> None:
    files = write_rapl_tree(tmp_path, [("package-0", 5_000), ("package-1", 9_000)])
    clock = FakeClock()
    meter = RaplMeter(RaplReader(tmp_path), clock=clock)
    meter.begin_window("w")
    files[0].write_text("6000")  # +1 mJ
    files[1].write_text("12000")  # +3 mJ
    clock.advance(0.5)
    energy, power = meter.end_window("w", inferences=2)
    assert energy.kind == "measured" and energy.method == "rapl"
    assert energy.scope == "cpu_package"
    assert energy.value == pytest.approx(2.0)  # 4 mJ over 2 passes
    assert power.value == pytest.approx(0.008)  # 4 mJ in 0.5 s


def test_wrap_around_at_max_energy_range_is_counted_once(tmp_path: Path) -> None:
    (file,) = write_rapl_tree(tmp_path, [("package-0", 999_000)], max_energy_range_uj=1_000_000)
    clock = FakeClock()
    meter = RaplMeter(RaplReader(tmp_path), clock=clock)
    meter.begin_window("w")
    file.write_text("4000")  # wrapped: 1000 uJ to the top, then 4000 uJ
    clock.advance(1.0)
    energy, _ = meter.end_window("w", inferences=1)
    assert energy.value == pytest.approx(5.0)
    assert counter_delta(10, 30, 100) == 20
    assert counter_delta(90, 5, 100) == 15


def test_measure_energy_on_a_file_tree_subtracts_the_idle_package_power(tmp_path: Path) -> None:
    max_range = 2**32
    files = write_rapl_tree(
        tmp_path, [("package-0", max_range - 10**6)], max_energy_range_uj=max_range
    )
    clock = PoweredClock(files, max_range)
    meter = RaplMeter(RaplReader(tmp_path), clock=clock)

    def run_once() -> None:
        clock.watts = 40.0
        clock.advance(0.02)

    settings = EnergySettings(min_window_s=1.0, idle_s=0.5)
    result = measure_energy(meter, run_once, batch_size=8, settings=settings)
    # 20 ms at 40 W = 800 mJ gross; 10 W idle over the same 20 ms = 200 mJ, so 600 net.
    assert result.power_idle_w.value == pytest.approx(10.0, rel=1e-3)
    assert result.energy_mj.value == pytest.approx(800.0, rel=1e-3)
    assert result.energy_net_mj.value == pytest.approx(600.0, rel=1e-3)


def test_permission_denied_is_unavailable_with_that_reason(tmp_path: Path) -> None:
    # A reader that raises PermissionError: chmod cannot deny root, who runs many CI boxes.
    write_rapl_tree(tmp_path, [("package-0", 1_000)])
    reader = RaplReader(tmp_path, read_text=deny_reading(("energy_uj",)))
    reason = reader.unavailable_reason()
    assert reason is not None and "permission denied" in reason
    meter = RaplMeter(reader, clock=FakeClock())
    meter.begin_window("w")
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable" and record.value is None
    assert record.reason is not None and "permission denied" in record.reason
    meter = select_energy_meter("cpu", "auto", rapl_root=tmp_path)
    assert isinstance(meter, RaplMeter)  # the real reader can read the tmp files


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not deny root")
def test_an_unreadable_energy_file_is_unavailable_for_a_normal_user(tmp_path: Path) -> None:
    (file,) = write_rapl_tree(tmp_path, [("package-0", 1_000)])
    file.chmod(0)
    meter = select_energy_meter("cpu", "auto", rapl_root=tmp_path)
    assert isinstance(meter, UnavailableMeter)
    assert "permission denied" in meter.reason


def test_missing_powercap_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    meter = select_energy_meter("cpu", "auto", rapl_root=tmp_path / "nowhere")
    assert isinstance(meter, UnavailableMeter)
    assert "no RAPL zones" in meter.reason
    meter.begin_window("x")
    (record,) = meter.end_window("x", inferences=1)
    assert record.value is None and record.kind == "unavailable"


@pytest.mark.skipif(RaplReader().unavailable_reason() is None, reason="this machine has RAPL")
def test_energy_on_a_machine_without_readable_rapl_is_unavailable_not_zero() -> None:
    model = torch.nn.Linear(16, 4)
    fast = ProfileSettings(latency=LatencySettings(min_time_s=0.0, max_time_s=0.3))
    result = profile_candidate(
        model, (torch.randn(2, 16),), energy="auto", strategies=("masked_dense",), settings=fast
    )
    energy = result.to_dict()["energy_mj"]
    assert energy["value"] is None
    assert energy["kind"] == "unavailable"
    assert energy["reason"]
    assert result.energy.energy_net_mj.value is None
    assert all(m.kind != "measured" for m in result.energy.measurements())
