"""Sensors and measurement records that need no torch: shared by the profilers and the agent.

``Measurement`` is the one record every number travels in; meters follow the window contract
(``begin_window`` / ``end_window``); ``time_interleaved`` is the latency sampling loop and
``measure_energy`` the energy protocol. The device readers — RAPL (powercap), hwmon, Jetson
INA3221 rails, battery discharge — each read a directory of sysfs-like files, so tests point
them at a tmp tree. ``discover_sensors`` / ``open_sensor`` find and open them by name. Nothing
here imports torch: the remote agent runs on devices that have only numpy and ONNX Runtime.
"""

from __future__ import annotations

from prunefront.sensors._battery import (
    DEFAULT_POWER_SUPPLY_ROOT,
    BatteryReader,
    BatteryReading,
    battery_power_w,
    check_discharging,
)
from prunefront.sensors._discover import SensorInfo, discover_sensors, open_sensor
from prunefront.sensors._energy import EnergyResult, EnergySettings, measure_energy
from prunefront.sensors._hwmon import (
    DEFAULT_HWMON_ROOT,
    HwmonChannel,
    HwmonEnergyMeter,
    HwmonReader,
)
from prunefront.sensors._jetson import INPUT_RAILS, Ina3221Rail, Ina3221Reader, RailChoice
from prunefront.sensors._measurement import (
    KINDS,
    UNITS,
    Detail,
    Kind,
    Measurement,
    energy_and_power,
    unit_of,
)
from prunefront.sensors._memory import measure_process_peak_memory
from prunefront.sensors._meter import (
    Clock,
    EnergyMeter,
    Meter,
    SystemClock,
    UnavailableMeter,
    WindowBook,
    WindowProgress,
    check_inferences,
)
from prunefront.sensors._rapl import (
    DEFAULT_POWERCAP_ROOT,
    RaplMeter,
    RaplReader,
    RaplZone,
    counter_delta,
)
from prunefront.sensors._sampled import (
    PowerSource,
    SampledPowerMeter,
    SensorError,
    integrate_power,
)
from prunefront.sensors._timing import (
    LatencySettings,
    LatencyStats,
    Timer,
    median_ci95,
    perf_counter_timer,
    time_interleaved,
)
from prunefront.sensors._trees import write_battery_tree, write_hwmon_device, write_ina3221_tree

__all__ = [
    "DEFAULT_HWMON_ROOT",
    "DEFAULT_POWERCAP_ROOT",
    "DEFAULT_POWER_SUPPLY_ROOT",
    "INPUT_RAILS",
    "KINDS",
    "UNITS",
    "BatteryReader",
    "BatteryReading",
    "Clock",
    "Detail",
    "EnergyMeter",
    "EnergyResult",
    "EnergySettings",
    "HwmonChannel",
    "HwmonEnergyMeter",
    "HwmonReader",
    "Ina3221Rail",
    "Ina3221Reader",
    "Kind",
    "LatencySettings",
    "LatencyStats",
    "Measurement",
    "Meter",
    "PowerSource",
    "RailChoice",
    "RaplMeter",
    "RaplReader",
    "RaplZone",
    "SampledPowerMeter",
    "SensorError",
    "SensorInfo",
    "SystemClock",
    "Timer",
    "UnavailableMeter",
    "WindowBook",
    "WindowProgress",
    "battery_power_w",
    "check_discharging",
    "check_inferences",
    "counter_delta",
    "discover_sensors",
    "energy_and_power",
    "integrate_power",
    "measure_energy",
    "measure_process_peak_memory",
    "median_ci95",
    "open_sensor",
    "perf_counter_timer",
    "time_interleaved",
    "unit_of",
    "write_battery_tree",
    "write_hwmon_device",
    "write_ina3221_tree",
]
