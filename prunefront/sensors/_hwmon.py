"""Linux hwmon power and energy channels (``/sys/class/hwmon/hwmon*``).

A hwmon device has a ``name`` and numbered attributes: ``energyN_input`` is a microjoule
counter (AMD ``amd_energy``, some BMCs, ``ina2xx`` boards), ``powerN_input`` or
``powerN_average`` an instantaneous power in microwatts (``amdgpu``, ``ina226``, laptop
embedded controllers); ``*_label`` names a channel. Old kernels keep the attributes in the
``device/`` subdirectory. A device with energy counters is read as a counter (difference over
the window); a device with only power readings is sampled (``SampledPowerMeter``). The reader
takes a root directory and a file-reading function, so tests point it at a tmp tree and at
readers that raise ``PermissionError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prunefront.sensors._measurement import Detail, Measurement, energy_and_power, idle_power_from
from prunefront.sensors._meter import (
    Clock,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = [
    "DEFAULT_HWMON_ROOT",
    "HwmonChannel",
    "HwmonEnergyMeter",
    "HwmonReader",
]

DEFAULT_HWMON_ROOT = Path("/sys/class/hwmon")
_ATTRIBUTE = re.compile(r"^(energy|power)(\d+)_(input|average)$")


def _read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True, kw_only=True)
class HwmonChannel:
    """One power or energy attribute of a hwmon device.

    Attributes:
        path: The value file (``energy1_input``, ``power1_input`` or ``power1_average``).
        device: The device's ``name`` (``amd_energy``, ``amdgpu``, ...).
        label: The channel's ``*_label``, else ``energy1`` / ``power1``.
        kind: ``energy`` (microjoule counter) or ``power`` (microwatts).
    """

    path: Path
    device: str
    label: str
    kind: Literal["energy", "power"]


class HwmonReader:
    """Finds and reads hwmon power/energy channels under a root.

    Args:
        root: The hwmon class directory (default ``/sys/class/hwmon``).
        read_text: How a file is read; tests substitute one that raises.
    """

    def __init__(
        self,
        root: Path | str = DEFAULT_HWMON_ROOT,
        *,
        read_text: Callable[[Path], str] = _read_text,
    ) -> None:
        self.root = Path(root)
        self._read = read_text

    def _channels_of(self, directory: Path, device: str) -> list[HwmonChannel]:
        found: dict[tuple[str, str], HwmonChannel] = {}
        for path in sorted(directory.iterdir()):
            match = _ATTRIBUTE.match(path.name)
            if match is None:
                continue
            kind, index, flavour = match.groups()
            key = (kind, index)
            if key in found and flavour == "average":
                continue  # an instantaneous input beats a driver-side average
            label_file = directory / f"{kind}{index}_label"
            label = self._read(label_file).strip() if label_file.exists() else f"{kind}{index}"
            found[key] = HwmonChannel(
                path=path,
                device=device,
                label=label,
                kind="energy" if kind == "energy" else "power",
            )
        return list(found.values())

    def devices(self) -> dict[str, list[HwmonChannel]]:
        """Sensor name (``hwmon:<name>``, ``#2`` for repeats) -> its power/energy channels.

        May raise ``OSError`` (e.g. ``PermissionError``) while reading names or labels.
        """
        if not self.root.is_dir():
            return {}
        result: dict[str, list[HwmonChannel]] = {}
        for hwmon in sorted(self.root.glob("hwmon*")):
            name_file = hwmon / "name"
            device = self._read(name_file).strip() if name_file.exists() else hwmon.name
            channels = self._channels_of(hwmon, device)
            if not channels and (hwmon / "device").is_dir():
                channels = self._channels_of(hwmon / "device", device)
            if not channels:
                continue
            key, repeat = f"hwmon:{device}", 2
            while key in result:
                key, repeat = f"hwmon:{device}#{repeat}", repeat + 1
            result[key] = channels
        return result

    def read_uj(self, channels: list[HwmonChannel]) -> list[int]:
        """Each energy channel's counter in microjoules; may raise ``OSError``."""
        return [int(self._read(c.path).strip()) for c in channels]

    def read_w(self, channels: list[HwmonChannel]) -> float:
        """The summed power of the channels in watts; may raise ``OSError``."""
        return sum(int(self._read(c.path).strip()) for c in channels) / 1e6


def energy_channels(channels: list[HwmonChannel]) -> list[HwmonChannel]:
    """The energy channels to sum, without double counting.

    ``amd_energy`` reports every core *and* every socket (which contains the cores): when
    socket channels exist only those are summed.
    """
    energy = [c for c in channels if c.kind == "energy"]
    sockets = [c for c in energy if c.label.lower().startswith("esocket")]
    return sockets or energy


@dataclass
class _CounterWindow:
    start_s: float
    start_uj: list[int] | None
    error: str | None


class HwmonEnergyMeter:
    """Energy from hwmon ``energyN_input`` counter differences (method ``hwmon_energy``).

    Args:
        reader: Where the channels are read.
        sensor: The sensor name from ``HwmonReader.devices`` (the scope of the records).
        channels: The energy channels to sum (see ``energy_channels``).
        clock: Time source.
    """

    method = "hwmon_energy"

    def __init__(
        self,
        reader: HwmonReader,
        sensor: str,
        channels: list[HwmonChannel],
        *,
        clock: Clock | None = None,
    ) -> None:
        self._reader = reader
        self.scope = sensor
        self._channels = channels
        self._clock = clock or SystemClock()
        self._book: WindowBook[_CounterWindow] = WindowBook()

    def _read(self) -> tuple[list[int] | None, str | None]:
        try:
            return self._reader.read_uj(self._channels), None
        except PermissionError as error:
            return None, f"permission denied reading {error.filename} (run as root)"
        except (OSError, ValueError) as error:
            return None, f"cannot read {self.scope}: {error}"

    def begin_window(self, key: str) -> None:
        """Read the counters at the start of window ``key``."""
        values, error = self._read()
        self._book.open(key, _CounterWindow(self._clock.now(), values, error))

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds; the counters' update rate is not known, so updates are not counted."""
        return WindowProgress(
            elapsed_s=self._clock.now() - self._book.peek(key).start_s, counter_updates=None
        )

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return ``energy_mj`` per forward pass and mean ``power_w``, or unavailable."""
        check_inferences(inferences)
        window = self._book.close(key)
        end, error = self._read()
        if window.start_uj is None or end is None:
            return [self._unavailable(window.error or error or "no reading")]
        window_s = self._clock.now() - window.start_s
        deltas = [e - s for s, e in zip(window.start_uj, end, strict=True)]
        if any(d < 0 for d in deltas):
            # hwmon does not publish a wrap-around point: a decrease is a reset, not a wrap.
            return [self._unavailable("an energy counter went backwards (driver reset)")]
        total_mj = sum(deltas) / 1e3
        if window_s <= 0 or total_mj <= 0:
            return [self._unavailable(f"counters did not advance over {window_s:.3f} s")]
        details: dict[str, Detail] = {
            "total_mj": total_mj,
            "channels": ",".join(c.label for c in self._channels),
            "inferences": inferences,
        }
        return energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope=self.scope,
            details=details,
            details_on_power=True,
        )

    def _unavailable(self, reason: str) -> Measurement:
        return Measurement.unavailable(
            "energy_mj", method=self.method, scope=self.scope, reason=reason
        )

    def idle_power(self, duration_s: float) -> Measurement:
        """Mean power over ``duration_s`` seconds with no workload."""
        self.begin_window("__idle__")
        self._clock.sleep(duration_s)
        records = self.end_window("__idle__", inferences=1)
        return idle_power_from(records, method=self.method, scope=self.scope)
