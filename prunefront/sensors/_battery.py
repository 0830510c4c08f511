"""Battery discharge power (``/sys/class/power_supply``): Android phones, laptops, handhelds.

A battery supply (``type`` = ``Battery``) reports ``status`` and ``current_now`` /
``voltage_now`` (or ``power_now``). Its current measures the device's consumption only while
it runs from the battery: while ``Charging``, ``Full`` or ``Not charging`` the charger feeds the
device and the battery current says nothing about the workload, so readings are refused with
that reason and the measurement becomes ``unavailable``. Units follow the kernel ABI (µA, µV,
µW); some Android vendors report mA and mV instead, which is recognised by magnitude (a running
phone never draws under 10 mA, a cell is never under 100 mV) and recorded. The sign of
``current_now`` differs between vendors, so its magnitude is used. The same arithmetic serves the
adb backend, which reads these files through ``adb shell``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prunefront.sensors._sampled import SensorError

__all__ = [
    "DEFAULT_POWER_SUPPLY_ROOT",
    "BatteryReader",
    "BatteryReading",
    "battery_power_w",
    "check_discharging",
]

DEFAULT_POWER_SUPPLY_ROOT = Path("/sys/class/power_supply")


def _read_text(path: Path) -> str:
    return path.read_text()


def check_discharging(status: str) -> None:
    """Raise ``SensorError`` unless the battery ``status`` is ``Discharging``."""
    clean = status.strip()
    if clean != "Discharging":
        raise SensorError(
            f"battery is not discharging (status {clean!r}): while a charger feeds the device "
            "the battery current does not measure its consumption; unplug it (use adb over "
            "Wi-Fi) to measure energy"
        )


@dataclass(frozen=True, kw_only=True)
class BatteryReading:
    """One battery reading in SI units.

    Attributes:
        power_w: Discharge power.
        current_unit: ``uA`` or ``mA``: how ``current_now`` was read (``None`` for power_now).
        voltage_unit: ``uV``, ``mV`` or ``V``.
    """

    power_w: float
    current_unit: str | None
    voltage_unit: str | None


def battery_power_w(current_raw: int, voltage_raw: int) -> BatteryReading:
    """Discharge power from raw ``current_now`` and ``voltage_now`` values.

    Raises:
        SensorError: a zero current or voltage (the driver does not report them).
    """
    current = abs(current_raw)
    if current == 0 or voltage_raw <= 0:
        raise SensorError(
            f"battery reports current_now={current_raw}, voltage_now={voltage_raw}: "
            "no usable reading"
        )
    current_a, current_unit = (current / 1e6, "uA") if current >= 10_000 else (current / 1e3, "mA")
    if voltage_raw > 100_000:
        volts, voltage_unit = voltage_raw / 1e6, "uV"
    elif voltage_raw > 100:
        volts, voltage_unit = voltage_raw / 1e3, "mV"
    else:
        volts, voltage_unit = float(voltage_raw), "V"
    return BatteryReading(
        power_w=current_a * volts, current_unit=current_unit, voltage_unit=voltage_unit
    )


class BatteryReader:
    """Reads the first battery supply under a ``power_supply`` root.

    Args:
        root: The power-supply class directory (default ``/sys/class/power_supply``).
        read_text: How a file is read; tests substitute one that raises.
    """

    def __init__(
        self,
        root: Path | str = DEFAULT_POWER_SUPPLY_ROOT,
        *,
        read_text: Callable[[Path], str] = _read_text,
    ) -> None:
        self.root = Path(root)
        self._read = read_text

    def find(self) -> Path | None:
        """The battery's directory (``type`` is ``Battery``), or ``None``; may raise ``OSError``."""
        if not self.root.is_dir():
            return None
        for supply in sorted(self.root.iterdir()):
            type_file = supply / "type"
            if type_file.exists() and self._read(type_file).strip() == "Battery":
                has_power = (supply / "power_now").exists()
                if has_power or (supply / "current_now").exists():
                    return supply
        return None

    def _battery(self) -> Path:
        supply = self.find()
        if supply is None:
            raise SensorError(
                f"no battery with current_now or power_now under {self.root} "
                "(on Android, SELinux may hide it from apps: run the agent through adb)"
            )
        return supply

    def status(self) -> str:
        """The battery's ``status`` (``Discharging``, ``Charging``, ``Full``, ...)."""
        return self._read(self._battery() / "status").strip()

    def reading(self) -> BatteryReading:
        """The present discharge power.

        Raises:
            SensorError: no battery, or it is not discharging (the reason says which).
            OSError: a file could not be read (e.g. ``PermissionError``).
        """
        supply = self._battery()
        check_discharging(self._read(supply / "status"))
        if (supply / "power_now").exists():
            microwatts = abs(int(self._read(supply / "power_now").strip()))
            return BatteryReading(power_w=microwatts / 1e6, current_unit=None, voltage_unit=None)
        return battery_power_w(
            int(self._read(supply / "current_now").strip()),
            int(self._read(supply / "voltage_now").strip()),
        )

    def power_w(self) -> float:
        """A ``PowerSource``: the present discharge power in watts."""
        return self.reading().power_w
