"""Sysfs-like file trees for tests: hwmon devices, Jetson INA3221 rails, batteries.

The device sensors are read through directories, so a test writes the files a kernel would
expose under a tmp root and points the readers (or the agent, ``--sensor-root``) at it. Each
writer returns the files a test updates between reads. Companions of ``write_rapl_tree`` in
``prunefront.testing``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["write_battery_tree", "write_hwmon_device", "write_ina3221_tree"]

INA3221_LAYOUTS: tuple[str, ...] = ("jetpack3", "jetpack4", "jetpack5+")


def _write(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{value}\n")
    return path


def write_hwmon_device(
    root: Path | str, index: int, name: str, attributes: Mapping[str, int | str]
) -> dict[str, Path]:
    """Write ``<root>/sys/class/hwmon/hwmon<index>`` with ``name`` and the given attributes.

    Args:
        root: The filesystem root of the fake device.
        index: The hwmon number.
        name: The device's ``name`` (``amd_energy``, ``amdgpu``, ...).
        attributes: File name -> content, e.g. ``{"energy1_input": 5000, "energy1_label":
            "Esocket0"}``.

    Returns:
        File name -> path, for the test to update.
    """
    directory = Path(root) / "sys/class/hwmon" / f"hwmon{index}"
    _write(directory / "name", name)
    return {key: _write(directory / key, value) for key, value in attributes.items()}


def write_ina3221_tree(
    root: Path | str, layout: str, rails: Sequence[tuple[str, float]], *, volts: float = 5.0
) -> dict[str, Path]:
    """Write Jetson INA3221 rails in the sysfs layout of a JetPack generation.

    Args:
        root: The filesystem root of the fake device.
        layout: ``jetpack3``, ``jetpack4`` or ``jetpack5+``.
        rails: ``(label, watts)`` per rail, three per monitor.
        volts: Bus voltage of every rail.

    Returns:
        Rail label -> the file to rewrite to change its power: the milliwatt file for JetPack
        3/4, the milliampere file for JetPack 5+ (at ``volts``).
    """
    if layout not in INA3221_LAYOUTS:
        raise ValueError(f"layout must be one of {INA3221_LAYOUTS}, got {layout!r}")
    base = Path(root) / "sys"
    files: dict[str, Path] = {}
    for start in range(0, len(rails), 3):
        group = rails[start : start + 3]
        address = f"1-00{40 + start // 3}"
        if layout == "jetpack5+":
            directory = base / "bus/i2c/drivers/ina3221" / address / "hwmon" / f"hwmon{start}"
            _write(directory / "name", "ina3221")
            for offset, (label, watts) in enumerate(group, start=1):
                _write(directory / f"in{offset}_label", label)
                _write(directory / f"in{offset}_input", round(volts * 1e3))
                files[label] = _write(directory / f"curr{offset}_input", round(watts / volts * 1e3))
            _write(directory / "in7_label", "sum of shunt voltages")
            _write(directory / "in7_input", 120)
            continue
        if layout == "jetpack4":
            directory = base / "bus/i2c/drivers/ina3221x" / address / f"iio:device{start // 3}"
        else:
            directory = (
                base / "devices/3160000.i2c/i2c-0" / address.replace("1-", "0-") / "iio_device"
            )
        for offset, (label, watts) in enumerate(group):
            _write(directory / f"rail_name_{offset}", label)
            _write(directory / f"in_voltage{offset}_input", round(volts * 1e3))
            _write(directory / f"in_current{offset}_input", round(watts / volts * 1e3))
            files[label] = _write(directory / f"in_power{offset}_input", round(watts * 1e3))
    return files


def write_battery_tree(
    root: Path | str,
    *,
    status: str = "Discharging",
    current_ua: int = -450_000,
    voltage_uv: int = 3_900_000,
    name: str = "battery",
) -> dict[str, Path]:
    """Write an Android-style battery under ``<root>/sys/class/power_supply/<name>``.

    Returns:
        File name (``status``, ``current_now``, ``voltage_now``) -> path.
    """
    directory = Path(root) / "sys/class/power_supply" / name
    _write(directory / "type", "Battery")
    _write(Path(root) / "sys/class/power_supply/usb/type", "USB")
    return {
        "status": _write(directory / "status", status),
        "current_now": _write(directory / "current_now", current_ua),
        "voltage_now": _write(directory / "voltage_now", voltage_uv),
    }
