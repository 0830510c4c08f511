"""Device sensors on sysfs-like trees: RAPL wrap-around, hwmon counters and power, Jetson INA3221
rails in each JetPack layout, Android batteries (charging refused), missing files and permission
errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prunefront.sensors import (
    BatteryReader,
    HwmonReader,
    Ina3221Reader,
    SampledPowerMeter,
    SensorError,
    battery_power_w,
    discover_sensors,
    open_sensor,
    write_battery_tree,
    write_hwmon_device,
    write_ina3221_tree,
)
from prunefront.testing import FakeClock, deny_reading, write_rapl_tree


def _sampled_window(meter: SampledPowerMeter, clock: FakeClock, seconds: float, steps: int) -> list:
    meter.begin_window("w")
    for _ in range(steps):
        clock.advance(seconds / steps)
        meter.sample("w")
    return meter.end_window("w", inferences=10)


def test_rapl_counter_wrap_around_is_counted_once_through_the_sensor_root(tmp_path: Path) -> None:
    (counter,) = write_rapl_tree(
        tmp_path / "sys/class/powercap", [("package-0", 999_000)], max_energy_range_uj=1_000_000
    )
    clock = FakeClock()
    meter = open_sensor("rapl", tmp_path, clock=clock)
    meter.begin_window("w")
    counter.write_text("9000\n")  # 1 000 uJ to the top, then 9 000 uJ
    clock.advance(0.5)
    energy, power = meter.end_window("w", inferences=2)
    assert energy.method == "rapl" and energy.value == pytest.approx(5.0)  # 10 mJ / 2 passes
    assert power.value == pytest.approx(0.02)


def test_hwmon_energy_counters_sum_sockets_not_cores_too(tmp_path: Path) -> None:
    files = write_hwmon_device(
        tmp_path,
        0,
        "amd_energy",
        {
            "energy1_input": 1_000,
            "energy1_label": "Ecore000",
            "energy2_input": 50_000,
            "energy2_label": "Esocket0",
        },
    )
    clock = FakeClock()
    meter = open_sensor("hwmon:amd_energy", tmp_path, clock=clock)
    meter.begin_window("w")
    files["energy1_input"].write_text("401000")  # a core inside the socket: not added again
    files["energy2_input"].write_text("1050000")  # +1 J
    clock.advance(2.0)
    energy, power = meter.end_window("w", inferences=4)
    assert energy.method == "hwmon_energy" and energy.scope == "hwmon:amd_energy"
    assert energy.value == pytest.approx(250.0)  # 1000 mJ over 4 passes
    assert power.value == pytest.approx(0.5)
    assert energy.details["channels"] == "Esocket0"


def test_a_hwmon_counter_that_goes_backwards_is_unavailable_not_negative(tmp_path: Path) -> None:
    files = write_hwmon_device(tmp_path, 3, "ina2xx", {"energy1_input": 90_000})
    clock = FakeClock()
    meter = open_sensor("hwmon:ina2xx", tmp_path, clock=clock)
    meter.begin_window("w")
    files["energy1_input"].write_text("10")
    clock.advance(1.0)
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable" and "went backwards" in (record.reason or "")


def test_hwmon_power_is_sampled_and_integrated_with_rate_and_window_recorded(
    tmp_path: Path,
) -> None:
    files = write_hwmon_device(tmp_path, 1, "amdgpu", {"power1_average": 30_000_000})
    clock = FakeClock()
    meter = open_sensor("hwmon:amdgpu", tmp_path, clock=clock, period_s=0.1, background=False)
    meter.begin_window("w")
    clock.advance(0.5)
    meter.sample("w")
    files["power1_average"].write_text("10000000")  # 30 W for 0.5 s, then a ramp to 10 W
    clock.advance(0.5)
    energy, power = meter.end_window("w", inferences=5)
    assert energy.method == "hwmon_power"
    assert energy.value == pytest.approx((15.0 + 10.0) * 1e3 / 5)  # trapezoids, mJ per pass
    assert power.value == pytest.approx(25.0)  # 25 J in 1 s
    assert energy.window_s == pytest.approx(1.0) and energy.details["samples"] == 3
    assert energy.details["sample_rate_hz"] == pytest.approx(2.0)
    assert energy.details["sample_period_s"] == 0.1


@pytest.mark.parametrize("layout", ["jetpack3", "jetpack4", "jetpack5+"])
def test_jetson_ina3221_reads_the_board_input_rail_in_every_jetpack_layout(
    tmp_path: Path, layout: str
) -> None:
    write_ina3221_tree(
        tmp_path, layout, [("VDD_IN", 6.0), ("VDD_CPU_GPU_CV", 2.0), ("VDD_SOC", 1.5)]
    )
    (info,) = discover_sensors(tmp_path)
    assert info.name == "ina3221" and info.available
    assert info.details["layout"] == layout and info.details["rails"] == ["VDD_IN"]
    clock = FakeClock()
    meter = open_sensor("ina3221", tmp_path, clock=clock, period_s=0.05, background=False)
    energy, power = _sampled_window(meter, clock, 1.0, 20)
    assert energy.method == "ina3221" and energy.scope == "board_input"
    assert power.value == pytest.approx(6.0, rel=1e-3)
    assert energy.value == pytest.approx(600.0, rel=1e-3)  # 6 J over 10 passes


def test_jetson_without_an_input_rail_sums_every_rail_and_says_so(tmp_path: Path) -> None:
    rails = [("GPU", 3.0), ("CPU", 2.0), ("SOC", 1.0), ("CV", 0.5), ("VDDRQ", 0.4), ("SYS5V", 1.1)]
    write_ina3221_tree(tmp_path, "jetpack4", rails)  # an AGX Xavier: two monitors, no VDD_IN
    choice = Ina3221Reader(tmp_path / "sys").choose()
    assert [r.label for r in choice.rails] == [label for label, _ in rails]
    assert choice.note is not None and "sum of every rail" in choice.note
    source = Ina3221Reader(tmp_path / "sys").power_source(choice)
    assert source() == pytest.approx(8.0, rel=1e-3)


def test_named_jetson_rails_and_an_unknown_rail(tmp_path: Path) -> None:
    write_ina3221_tree(
        tmp_path, "jetpack5+", [("VDD_IN", 7.0), ("VDD_GPU_SOC", 3.0), ("VDD_CPU_CV", 1.0)]
    )
    clock = FakeClock()
    meter = open_sensor("ina3221:VDD_GPU_SOC", tmp_path, clock=clock, background=False)
    _, power = _sampled_window(meter, clock, 0.5, 5)
    assert power.scope == "rails:VDD_GPU_SOC" and power.value == pytest.approx(3.0, rel=1e-3)
    with pytest.raises(SensorError, match="VDD_GPU'] not found; available"):
        open_sensor("ina3221:VDD_GPU", tmp_path)


def test_a_discharging_battery_gives_current_times_voltage(tmp_path: Path) -> None:
    write_battery_tree(tmp_path, current_ua=-450_000, voltage_uv=3_900_000)
    clock = FakeClock()
    meter = open_sensor("battery", tmp_path, clock=clock, background=False)
    energy, power = _sampled_window(meter, clock, 2.0, 10)
    assert power.method == "battery_current" and power.scope == "device_battery"
    assert power.value == pytest.approx(0.45 * 3.9)
    assert energy.value == pytest.approx(0.45 * 3.9 * 2.0 * 1e3 / 10)


@pytest.mark.parametrize("status", ["Charging", "Full", "Not charging"])
def test_a_battery_on_a_charger_is_unavailable_with_the_reason(tmp_path: Path, status: str) -> None:
    write_battery_tree(tmp_path, status=status)
    (info,) = discover_sensors(tmp_path)
    assert not info.available and f"status {status!r}" in (info.reason or "")
    with pytest.raises(SensorError, match="not discharging"):
        open_sensor("auto", tmp_path)


def test_plugging_in_the_charger_mid_window_makes_the_window_unavailable(tmp_path: Path) -> None:
    files = write_battery_tree(tmp_path)
    clock = FakeClock()
    meter = open_sensor("battery", tmp_path, clock=clock, background=False)
    meter.begin_window("w")
    clock.advance(0.5)
    meter.sample("w")
    files["status"].write_text("Charging\n")
    clock.advance(0.5)
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable" and record.value is None
    assert "Charging" in (record.reason or "")


def test_battery_units_reported_in_milliamps_and_millivolts_are_recognised() -> None:
    reading = battery_power_w(-620, 3880)  # some vendors: mA and mV
    assert reading.power_w == pytest.approx(0.62 * 3.88)
    assert (reading.current_unit, reading.voltage_unit) == ("mA", "mV")
    assert battery_power_w(620_000, 3_880_000).power_w == pytest.approx(0.62 * 3.88)


def test_no_sensor_files_means_no_sensors_and_a_clear_auto_error(tmp_path: Path) -> None:
    assert discover_sensors(tmp_path) == []
    with pytest.raises(SensorError, match="no readable power sensor"):
        open_sensor("auto", tmp_path)
    with pytest.raises(SensorError, match="'rapl' not found"):
        open_sensor("rapl", tmp_path)
    assert BatteryReader(tmp_path / "missing").find() is None
    assert HwmonReader(tmp_path / "missing").devices() == {}


def test_a_sensor_file_that_disappears_mid_window_makes_it_unavailable(tmp_path: Path) -> None:
    files = write_hwmon_device(tmp_path, 0, "ina226", {"power1_input": 2_000_000})
    clock = FakeClock()
    meter = open_sensor("hwmon:ina226", tmp_path, clock=clock, background=False)
    meter.begin_window("w")
    files["power1_input"].unlink()
    clock.advance(0.5)
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable" and "disappeared" in (record.reason or "")


@pytest.mark.parametrize(
    ("tree", "denied"),
    [
        ("rapl", "energy_uj"),
        ("battery", "current_now"),
        ("ina3221", "curr1_input"),
        ("hwmon", "energy1_input"),
    ],
)
def test_permission_denied_is_reported_as_unavailable_with_the_file(
    tmp_path: Path, tree: str, denied: str
) -> None:
    if tree == "rapl":
        write_rapl_tree(tmp_path / "sys/class/powercap", [("package-0", 10)])
    elif tree == "battery":
        write_battery_tree(tmp_path)
    elif tree == "ina3221":
        write_ina3221_tree(tmp_path, "jetpack5+", [("VDD_IN", 5.0)])
    else:
        write_hwmon_device(tmp_path, 0, "amd_energy", {"energy1_input": 5})
    # chmod does not stop root (CI containers): a reader that raises, as the kernel would.
    (info,) = discover_sensors(tmp_path, read_text=deny_reading([denied]))
    assert not info.available
    assert "permission denied" in (info.reason or "").lower() and denied in (info.reason or "")


def test_background_sampling_on_the_real_clock_integrates_a_constant_power() -> None:
    meter = SampledPowerMeter(lambda: 3.0, method="ina3221", scope="board_input", period_s=0.01)
    meter.begin_window("w")
    time.sleep(0.2)
    energy, power = meter.end_window("w", inferences=2)
    assert power.value == pytest.approx(3.0)
    assert energy.value == pytest.approx(3.0 * energy.window_s * 1e3 / 2)
    assert energy.details["samples"] >= 5 and energy.details["sample_rate_hz"] > 10
