"""Which power sensors a device has, and a meter for one of them by name.

Every reader looks below one filesystem root (``/`` on a device; a tmp tree in tests), so the
whole discovery runs against a directory of sysfs-like files. Sensor names:

- ``ina3221`` (Jetson board input; ``ina3221:RAIL+RAIL`` picks rails), method ``ina3221``;
- ``rapl`` (CPU packages), method ``rapl``;
- ``hwmon:<name>`` (an energy counter: ``hwmon_energy``; else a power reading:
  ``hwmon_power``);
- ``battery`` (discharge power while unplugged), method ``battery_current``.

``auto`` picks the first available in that order: the widest trustworthy scope first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunefront.sensors._battery import BatteryReader
from prunefront.sensors._hwmon import HwmonEnergyMeter, HwmonReader, energy_channels
from prunefront.sensors._jetson import Ina3221Reader
from prunefront.sensors._measurement import Detail
from prunefront.sensors._meter import Clock, EnergyMeter
from prunefront.sensors._rapl import RaplMeter, RaplReader
from prunefront.sensors._sampled import SampledPowerMeter, SensorError

__all__ = ["SensorInfo", "discover_sensors", "open_sensor"]


def _read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True, kw_only=True)
class SensorInfo:
    """One power sensor of the device.

    Attributes:
        name: What to ask for (``rapl``, ``ina3221``, ``hwmon:amdgpu``, ``battery``).
        method: The method label its measurements carry.
        scope: What it covers (``cpu_package``, ``board_input``, ``device_battery``, ...).
        available: Whether it can be read now.
        reason: Why not, when it cannot.
        details: Rails, channels or zones it reads.
    """

    name: str
    method: str
    scope: str
    available: bool
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "method": self.method,
            "scope": self.scope,
            "available": self.available,
            "reason": self.reason,
            "details": dict(self.details),
        }


def _why(error: BaseException) -> str:
    if isinstance(error, PermissionError):
        return f"permission denied reading {error.filename} (run as root or grant read access)"
    return str(error) or type(error).__name__


def _ina3221(root: Path, read: Callable[[Path], str]) -> list[SensorInfo]:
    reader = Ina3221Reader(root / "sys", read_text=read)
    try:
        if not reader.rails():
            return []
        choice = reader.choose()
        reader.power_source(choice)()
    except (SensorError, OSError, ValueError) as error:
        return [
            SensorInfo(
                name="ina3221",
                method="ina3221",
                scope="board_input",
                available=False,
                reason=_why(error),
            )
        ]
    details = {
        "rails": [r.label for r in choice.rails],
        "layout": choice.rails[0].layout,
        "all_rails": [r.label for r in reader.rails()],
        "note": choice.note,
    }
    return [
        SensorInfo(
            name="ina3221", method="ina3221", scope=choice.scope, available=True, details=details
        )
    ]


def _rapl(root: Path, read: Callable[[Path], str]) -> list[SensorInfo]:
    reader = RaplReader(root / "sys/class/powercap", read_text=read)
    if not reader.root.is_dir():
        return []
    reason = reader.unavailable_reason()
    zones = [] if reason else [z.name for z in reader.zones()]
    return [
        SensorInfo(
            name="rapl",
            method="rapl",
            scope="cpu_package",
            available=reason is None,
            reason=reason,
            details={"zones": zones},
        )
    ]


def _hwmon(root: Path, read: Callable[[Path], str]) -> list[SensorInfo]:
    reader = HwmonReader(root / "sys/class/hwmon", read_text=read)
    try:
        devices = reader.devices()
    except OSError as error:
        return [
            SensorInfo(
                name="hwmon",
                method="hwmon_power",
                scope="hwmon",
                available=False,
                reason=_why(error),
            )
        ]
    found = []
    for name, channels in devices.items():
        energy = energy_channels(channels)
        used = energy or [c for c in channels if c.kind == "power"]
        method = "hwmon_energy" if energy else "hwmon_power"
        try:
            reader.read_uj(used) if energy else reader.read_w(used)
            reason = None
        except (OSError, ValueError) as error:
            reason = _why(error)
        found.append(
            SensorInfo(
                name=name,
                method=method,
                scope=name,
                available=reason is None,
                reason=reason,
                details={"channels": [c.label for c in used]},
            )
        )
    return found


def _battery(root: Path, read: Callable[[Path], str]) -> list[SensorInfo]:
    reader = BatteryReader(root / "sys/class/power_supply", read_text=read)
    try:
        supply = reader.find()
        if supply is None:
            return []
        reader.reading()
        reason = None
    except (SensorError, OSError, ValueError) as error:
        reason = _why(error)
    return [
        SensorInfo(
            name="battery",
            method="battery_current",
            scope="device_battery",
            available=reason is None,
            reason=reason,
        )
    ]


# Widest trustworthy scope first: a whole board, then CPU packages, then a device's own
# counter, then the battery (the whole device, but only unplugged), then a sampled component.
_PREFERENCE = {"ina3221": 0, "rapl": 1, "hwmon_energy": 2, "battery_current": 3, "hwmon_power": 4}


def discover_sensors(
    root: Path | str = Path("/"), *, read_text: Callable[[Path], str] = _read_text
) -> list[SensorInfo]:
    """Every power sensor found below ``root``, in ``auto`` preference order."""
    base = Path(root)
    found: list[SensorInfo] = []
    for probe in (_ina3221, _rapl, _hwmon, _battery):
        found += probe(base, read_text)
    return sorted(found, key=lambda s: _PREFERENCE.get(s.method, len(_PREFERENCE)))


def open_sensor(
    name: str,
    root: Path | str = Path("/"),
    *,
    read_text: Callable[[Path], str] = _read_text,
    clock: Clock | None = None,
    period_s: float = 0.02,
    background: bool = True,
) -> EnergyMeter:
    """A meter for sensor ``name`` (see the module docstring; ``auto`` picks one).

    Raises:
        SensorError: unknown name, or the sensor is not available (the message says why).
    """
    base = Path(root)
    sensors = discover_sensors(base, read_text=read_text)
    if name == "auto":
        usable = [s for s in sensors if s.available]
        if not usable:
            reasons = "; ".join(f"{s.name}: {s.reason}" for s in sensors) or "none found"
            raise SensorError(f"no readable power sensor on this device ({reasons})")
        name = usable[0].name
    base_name, _, rails = name.partition(":") if name.startswith("ina3221") else (name, "", "")
    known = {s.name: s for s in sensors}
    if base_name not in known:
        raise SensorError(f"energy sensor {name!r} not found; available: {sorted(known)}")
    if not known[base_name].available and not rails:
        raise SensorError(f"energy sensor {name!r} is unavailable: {known[base_name].reason}")

    def sampled(
        source: Callable[[], float], method: str, scope: str, details: dict[str, Detail]
    ) -> SampledPowerMeter:
        return SampledPowerMeter(
            source,
            method=method,
            scope=scope,
            period_s=period_s,
            clock=clock,
            background=background,
            details=details,
        )

    if base_name == "ina3221":
        reader = Ina3221Reader(base / "sys", read_text=read_text)
        choice = reader.choose(rails.split("+") if rails else None)
        details: dict[str, Detail] = {"rails": ",".join(r.label for r in choice.rails)}
        if choice.note:
            details["note"] = choice.note
        return sampled(reader.power_source(choice), "ina3221", choice.scope, details)
    if base_name == "rapl":
        return RaplMeter(RaplReader(base / "sys/class/powercap", read_text=read_text), clock=clock)
    if base_name == "battery":
        battery = BatteryReader(base / "sys/class/power_supply", read_text=read_text)
        return sampled(battery.power_w, "battery_current", "device_battery", {})
    hwmon = HwmonReader(base / "sys/class/hwmon", read_text=read_text)
    channels = hwmon.devices()[base_name]
    energy = energy_channels(channels)
    if energy:
        return HwmonEnergyMeter(hwmon, base_name, energy, clock=clock)
    power = [c for c in channels if c.kind == "power"]
    labels = ",".join(c.label for c in power)
    return sampled(lambda: hwmon.read_w(power), "hwmon_power", base_name, {"channels": labels})
