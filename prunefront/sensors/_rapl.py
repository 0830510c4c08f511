"""CPU package energy through Linux powercap RAPL (``/sys/class/powercap/intel-rapl:*``).

Each top-level zone has ``name`` (``package-0``, ``psys``, ...), ``energy_uj`` (a microjoule
counter that wraps at ``max_energy_range_uj``) and subzones (``intel-rapl:0:0``) for core/dram.
The meter sums the package zones (or, if there are none, every top-level zone). The reader takes
the root directory and a file-reading function, so tests point it at a tmp tree of sysfs-like
files and at readers that raise ``PermissionError`` (``energy_uj`` is root-only since Linux 5.10,
and ``chmod`` cannot take access away from root, who runs many CI containers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prunefront.sensors._measurement import Detail, Measurement, energy_and_power, idle_power_from
from prunefront.sensors._meter import (
    Clock,
    SystemClock,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = ["DEFAULT_POWERCAP_ROOT", "RaplMeter", "RaplReader", "RaplZone", "counter_delta"]

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")


def _read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True, kw_only=True)
class RaplZone:
    """One top-level RAPL zone.

    Attributes:
        path: Its directory, e.g. ``/sys/class/powercap/intel-rapl:0``.
        name: The zone's own name, e.g. ``package-0``.
        max_energy_range_uj: Where ``energy_uj`` wraps back to zero.
    """

    path: Path
    name: str
    max_energy_range_uj: int


class RaplReader:
    """Reads RAPL zones under a powercap root.

    Args:
        root: The powercap directory (default ``/sys/class/powercap``).
        read_text: How a file is read; tests substitute one that raises.
    """

    def __init__(
        self,
        root: Path | str = DEFAULT_POWERCAP_ROOT,
        *,
        read_text: Callable[[Path], str] = _read_text,
    ) -> None:
        self.root = Path(root)
        self._read = read_text

    def zones(self) -> list[RaplZone]:
        """The package zones (else all top-level zones); may raise ``OSError``."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("intel-rapl:*")):
            if path.name.count(":") != 1 or not (path / "energy_uj").exists():
                continue  # subzones (intel-rapl:0:1) are counted inside their package
            found.append(
                RaplZone(
                    path=path,
                    name=self._read(path / "name").strip(),
                    max_energy_range_uj=int(self._read(path / "max_energy_range_uj")),
                )
            )
        packages = [z for z in found if z.name.startswith("package")]
        return packages or found

    def energy_uj(self, zones: list[RaplZone]) -> list[int]:
        """Read each zone's counter; may raise ``PermissionError`` / ``OSError``."""
        return [int(self._read(zone.path / "energy_uj")) for zone in zones]

    def unavailable_reason(self) -> str | None:
        """Why RAPL cannot be read here, or ``None`` when it can."""
        try:
            zones = self.zones()
            if not zones:
                return (
                    f"no RAPL zones under {self.root} (no powercap RAPL driver: virtual machine, "
                    "unsupported CPU, or the intel_rapl module is not loaded)"
                )
            self.energy_uj(zones)
        except PermissionError as error:
            return (
                f"permission denied reading {error.filename or self.root}: energy_uj is "
                "root-only since Linux 5.10 (run as root or grant read access)"
            )
        except (OSError, ValueError) as error:
            return f"cannot read RAPL under {self.root}: {error}"
        return None


def counter_delta(start: int, end: int, max_range: int) -> int:
    """Counter difference allowing one wrap-around at ``max_range`` (microjoules)."""
    return end - start if end >= start else max_range - start + end


@dataclass
class _RaplWindow:
    start_s: float
    start_uj: list[int]


class RaplMeter:
    """Energy of the CPU packages from RAPL counter differences (method ``rapl``).

    The scope is the whole package(s), not the process: other work on the machine is counted
    too, which is why an idle baseline is taken and subtracted for the net figure.

    Args:
        reader: Where the zones are read.
        clock: Time source.
    """

    method = "rapl"

    def __init__(self, reader: RaplReader | None = None, *, clock: Clock | None = None) -> None:
        self._reader = reader or RaplReader()
        self._clock = clock or SystemClock()
        self._book: WindowBook[_RaplWindow] = WindowBook()
        self._zones: list[RaplZone] | None = None

    @property
    def scope(self) -> str:
        """``cpu_package`` for package zones, else the zone names joined."""
        zones = self._zones or []
        if zones and all(z.name.startswith("package") for z in zones):
            return "cpu_package"
        return "+".join(z.name for z in zones) or "cpu"

    def _unavailable(self, name: str, reason: str) -> Measurement:
        return Measurement.unavailable(name, method=self.method, scope="cpu_package", reason=reason)

    def begin_window(self, key: str) -> None:
        """Read every zone's counter at the start of window ``key`` (failures kept for the end)."""
        try:
            self._zones = self._reader.zones()
            start = self._reader.energy_uj(self._zones)
        except OSError:
            start = []
        self._book.open(key, _RaplWindow(start_s=self._clock.now(), start_uj=start))

    def progress(self, key: str) -> WindowProgress:
        """Elapsed seconds; RAPL updates about every millisecond, so updates are not counted."""
        return WindowProgress(
            elapsed_s=self._clock.now() - self._book.peek(key).start_s, counter_updates=None
        )

    def end_window(self, key: str, *, inferences: int) -> list[Measurement]:
        """Return gross ``energy_mj`` per forward pass and mean ``power_w``, or unavailable."""
        check_inferences(inferences)
        window = self._book.close(key)
        try:
            if not window.start_uj or not self._zones:
                raise OSError("RAPL could not be read at the start of the window")
            end = self._reader.energy_uj(self._zones)
        except OSError as error:
            reason = self._reader.unavailable_reason() or str(error)
            return [self._unavailable("energy_mj", reason)]
        window_s = self._clock.now() - window.start_s
        total_uj = sum(
            counter_delta(s, e, z.max_energy_range_uj)
            for s, e, z in zip(window.start_uj, end, self._zones, strict=True)
        )
        if window_s <= 0 or total_uj <= 0:
            return [
                self._unavailable(
                    "energy_mj", f"RAPL counters did not advance over {window_s:.3f} s"
                )
            ]
        total_mj = total_uj / 1e3
        details: dict[str, Detail] = {
            "total_mj": total_mj,
            "zones": ",".join(z.name for z in self._zones),
            "inferences": inferences,
        }
        return energy_and_power(
            total_mj,
            window_s=window_s,
            inferences=inferences,
            method=self.method,
            scope=self.scope,
            details=details,
        )

    def idle_power(self, duration_s: float) -> Measurement:
        """Package power over ``duration_s`` seconds with no workload."""
        self.begin_window("__idle__")
        self._clock.sleep(duration_s)
        records = self.end_window("__idle__", inferences=1)
        return idle_power_from(records, method=self.method, scope=self.scope)
