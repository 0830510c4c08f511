"""NVIDIA Jetson power rails from the on-board TI INA3221 monitors, in every JetPack layout.

The rails appear in sysfs in three layouts, all found under one root (normally ``/sys``):

- JetPack 3.x (L4T 28, TX1/TX2): ``devices/*/i2c-*/*-004*/iio_device/`` with ``rail_name_N``
  and ``in_power{N}_input`` (mW), ``in_current{N}_input`` (mA), ``in_voltage{N}_input`` (mV).
- JetPack 4.x (L4T 32, Nano/TX2/Xavier): ``bus/i2c/drivers/ina3221x/*/iio:device*/`` with the
  same file names.
- JetPack 5.x and 6.x (L4T 35/36, Xavier/Orin): the mainline hwmon driver,
  ``bus/i2c/drivers/ina3221/*/hwmon/hwmon*/`` with ``in{N}_label``, ``in{N}_input`` (bus mV)
  and ``curr{N}_input`` (mA); power is their product.

By default the module's input rail is read (``VDD_IN``, ``POM_5V_IN`` on the Nano, ``5V_IN``;
plus ``VDD_MUX``, the TX1/TX2 carrier board, which is fed in parallel); a board without one
(AGX Xavier) sums every rail and says so. The rails are sampled (``SampledPowerMeter``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prunefront.sensors._sampled import SensorError

__all__ = ["INPUT_RAILS", "Ina3221Rail", "Ina3221Reader", "RailChoice"]

INPUT_RAILS: tuple[str, ...] = ("VDD_IN", "POM_5V_IN", "5V_IN")
_PARALLEL_RAILS: tuple[str, ...] = ("VDD_MUX",)

_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("jetpack5+", "bus/i2c/drivers/ina3221/*/hwmon/hwmon*"),
    ("jetpack4", "bus/i2c/drivers/ina3221x/*/iio:device*"),
    ("jetpack3", "devices/*/i2c-*/*-004*/iio_device"),
)


def _read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True, kw_only=True)
class Ina3221Rail:
    """One monitored rail.

    Attributes:
        label: Its name (``VDD_IN``, ``VDD_GPU_SOC``, ...).
        layout: ``jetpack3``, ``jetpack4`` or ``jetpack5+``.
        power_file: A file holding milliwatts (JetPack 3/4), if there is one.
        voltage_file: Millivolts (used with ``current_file`` when there is no power file).
        current_file: Milliamperes.
    """

    label: str
    layout: str
    power_file: Path | None = None
    voltage_file: Path | None = None
    current_file: Path | None = None


@dataclass(frozen=True, kw_only=True)
class RailChoice:
    """The rails a meter sums, and what they cover.

    Attributes:
        rails: The rails.
        scope: ``board_input`` for an input rail, else ``rails:A+B+...``.
        note: A caveat for the reader, if any.
    """

    rails: tuple[Ina3221Rail, ...]
    scope: str
    note: str | None = None


class Ina3221Reader:
    """Finds and reads Jetson INA3221 rails under a sysfs root.

    Args:
        root: The sysfs root (default ``/sys``); tests pass a tmp tree.
        read_text: How a file is read; tests substitute one that raises.
    """

    def __init__(
        self, root: Path | str = Path("/sys"), *, read_text: Callable[[Path], str] = _read_text
    ) -> None:
        self.root = Path(root)
        self._read = read_text

    def _old_rails(self, directory: Path, layout: str) -> list[Ina3221Rail]:
        rails = []
        for name_file in sorted(directory.glob("rail_name_*")):
            index = name_file.name.rsplit("_", 1)[1]
            power = directory / f"in_power{index}_input"
            rails.append(
                Ina3221Rail(
                    label=self._read(name_file).strip(),
                    layout=layout,
                    power_file=power if power.exists() else None,
                    voltage_file=directory / f"in_voltage{index}_input",
                    current_file=directory / f"in_current{index}_input",
                )
            )
        return rails

    def _hwmon_rails(self, directory: Path) -> list[Ina3221Rail]:
        rails = []
        for label_file in sorted(directory.glob("in*_label")):
            index = label_file.name[2:].split("_", 1)[0]
            current = directory / f"curr{index}_input"
            if not current.exists():
                continue  # channel 7 is the "sum of shunt voltages", not a rail
            rails.append(
                Ina3221Rail(
                    label=self._read(label_file).strip(),
                    layout="jetpack5+",
                    voltage_file=directory / f"in{index}_input",
                    current_file=current,
                )
            )
        return rails

    def rails(self) -> list[Ina3221Rail]:
        """Every rail found, in the first layout that has any; may raise ``OSError``."""
        for layout, pattern in _LAYOUTS:
            found: list[Ina3221Rail] = []
            for directory in sorted(self.root.glob(pattern)):
                if layout == "jetpack5+":
                    found += self._hwmon_rails(directory)
                else:
                    found += self._old_rails(directory, layout)
            if found:
                return found
        return []

    def choose(self, wanted: Sequence[str] | None = None) -> RailChoice:
        """Pick the rails to sum: ``wanted`` by label, else the input rail, else all.

        Raises:
            SensorError: no rails, or a wanted rail that is not there (the message lists them).
        """
        rails = self.rails()
        if not rails:
            raise SensorError(f"no INA3221 rails under {self.root} (not a Jetson, or no driver)")
        by_label = {r.label: r for r in rails}
        if wanted:
            missing = [w for w in wanted if w not in by_label]
            if missing:
                raise SensorError(
                    f"INA3221 rail(s) {missing} not found; available: {sorted(by_label)}"
                )
            chosen = tuple(by_label[w] for w in wanted)
            return RailChoice(rails=chosen, scope="rails:" + "+".join(wanted))
        inputs = [by_label[name] for name in INPUT_RAILS if name in by_label]
        if inputs:
            extra = [by_label[name] for name in _PARALLEL_RAILS if name in by_label]
            return RailChoice(rails=(inputs[0], *extra), scope="board_input")
        return RailChoice(
            rails=tuple(rails),
            scope="rails:" + "+".join(r.label for r in rails),
            note="no module input rail on this board: the sum of every rail (may miss or "
            "double count some consumers)",
        )

    def rail_power_w(self, rail: Ina3221Rail) -> float:
        """The rail's present power in watts; may raise ``OSError`` / ``ValueError``."""
        if rail.power_file is not None:
            return int(self._read(rail.power_file).strip()) / 1e3
        if rail.voltage_file is None or rail.current_file is None:
            raise SensorError(f"rail {rail.label} has neither a power nor a voltage/current file")
        millivolts = int(self._read(rail.voltage_file).strip())
        milliamps = int(self._read(rail.current_file).strip())
        return millivolts * milliamps / 1e6

    def power_source(self, choice: RailChoice) -> Callable[[], float]:
        """A ``PowerSource`` returning the summed power of the chosen rails."""

        def read() -> float:
            return sum(self.rail_power_w(rail) for rail in choice.rails)

        return read
