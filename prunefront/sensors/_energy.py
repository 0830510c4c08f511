"""Energy per forward pass over a long-enough window, with an idle baseline (torch-free).

The window repeats the workload until it has lasted ``min_window_s`` *and* spanned
``min_counter_updates`` sensor updates (a counter that updates every 20-100 ms gives a coarse
difference over a short window), or until ``max_window_s``, in which case the record says so.
Gross energy is what the sensor saw; net energy subtracts the idle baseline power over the window.
Which sensor to read is chosen elsewhere (``prunefront.profilers`` for torch devices, the agent
for a device's own sensors); this module only runs the protocol on a given meter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from prunefront.errors import PrunefrontError
from prunefront.sensors._measurement import Measurement
from prunefront.sensors._meter import EnergyMeter, UnavailableMeter

__all__ = ["EnergyResult", "EnergySettings", "measure_energy"]


@dataclass(frozen=True, kw_only=True)
class EnergySettings:
    """How long energy windows run.

    Attributes:
        min_window_s: The workload window lasts at least this long.
        min_counter_updates: ... and spans at least this many sensor updates where countable.
        max_window_s: Stop here even if the two above do not hold (the record is flagged).
        idle_s: Length of the idle baseline taken before the window.
    """

    min_window_s: float = 2.0
    min_counter_updates: int = 50
    max_window_s: float = 30.0
    idle_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.min_window_s > 0:
            raise PrunefrontError(f"energy.min_window_s = {self.min_window_s}: must be > 0")
        if self.min_counter_updates < 1:
            raise PrunefrontError(
                f"energy.min_counter_updates = {self.min_counter_updates}: must be >= 1"
            )
        if self.max_window_s < self.min_window_s:
            raise PrunefrontError(
                f"energy.max_window_s = {self.max_window_s}: must be >= min_window_s "
                f"({self.min_window_s})"
            )
        if self.idle_s < 0:
            raise PrunefrontError(f"energy.idle_s = {self.idle_s}: must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergySettings:
        """Build settings from a dict, naming any unknown key."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise PrunefrontError(
                f"energy: unknown key(s) {unknown}; valid: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class EnergyResult:
    """Energy of one workload.

    Attributes:
        energy_mj: Gross energy per forward pass (what the sensor saw over the window).
        energy_net_mj: Gross minus the idle baseline power over the same window, per pass.
        power_w: Mean power over the window.
        power_idle_w: The idle baseline.
        batch_size: Samples per forward pass.
    """

    energy_mj: Measurement
    energy_net_mj: Measurement
    power_w: Measurement
    power_idle_w: Measurement
    batch_size: int

    def measurements(self) -> list[Measurement]:
        """The four records."""
        return [self.energy_mj, self.energy_net_mj, self.power_w, self.power_idle_w]

    def to_dict(self) -> dict[str, Any]:
        """The summary used in ``ProfileResult.to_dict()['energy_mj']``."""
        gross = self.energy_mj
        return {
            "value": gross.value,
            "kind": gross.kind,
            "method": gross.method,
            "reason": gross.reason,
            "scope": gross.scope,
            "window_s": gross.window_s,
            "repeats": gross.repeats,
            "net_value": self.energy_net_mj.value,
            "per_sample_mj": None if gross.value is None else gross.value / self.batch_size,
            "mean_power_w": self.power_w.value,
            "idle_power_w": self.power_idle_w.value,
            "counter_updates": gross.details.get("counter_updates"),
            "notes": list(gross.notes),
        }


def _find(records: list[Measurement], name: str) -> Measurement | None:
    return next((r for r in records if r.name == name), None)


def _net(gross: Measurement, idle: Measurement, inferences: int) -> Measurement:
    if gross.value is None or idle.value is None or gross.window_s is None:
        reason = gross.reason if gross.value is None else f"no idle baseline: {idle.reason}"
        return Measurement.unavailable(
            "energy_net_mj", method=gross.method, scope=gross.scope, reason=reason or "no reading"
        )
    idle_mj = idle.value * gross.window_s * 1e3 / inferences
    return Measurement(
        name="energy_net_mj",
        value=gross.value - idle_mj,
        kind=gross.kind,
        method=gross.method,
        scope=gross.scope,
        window_s=gross.window_s,
        repeats=inferences,
        details={"idle_power_w": idle.value},
        notes=gross.notes,
    )


def _long_enough_window(
    meter: EnergyMeter,
    run_once: Callable[[], object],
    settings: EnergySettings,
    synchronize: Callable[[], object] | None,
) -> tuple[list[Measurement], int, list[str]]:
    """Repeat the workload in one window until it is long enough (or capped, with a note).

    The passes run back to back as in the latency measurement (pipelined on an asynchronous
    device); the meter decides how often it actually reads its sensor when asked for progress.
    One ``synchronize`` waits for the device before the window is closed.
    """
    key = "prunefront-energy"
    meter.begin_window(key)
    calls, notes = 0, []
    while True:
        run_once()
        calls += 1
        progress = meter.progress(key)
        updates_ok = (
            progress.counter_updates is None
            or progress.counter_updates >= settings.min_counter_updates
        )
        if progress.elapsed_s >= settings.min_window_s and updates_ok:
            break
        if progress.elapsed_s >= settings.max_window_s:
            notes.append(
                f"window stopped at the {settings.max_window_s:g} s cap after "
                f"{progress.counter_updates} sensor updates (wanted "
                f"{settings.min_counter_updates}): energy is coarser than intended"
            )
            break
    if synchronize is not None:
        synchronize()
    return meter.end_window(key, inferences=calls), calls, notes


def measure_energy(
    meter: EnergyMeter,
    run_once: Callable[[], object],
    *,
    batch_size: int,
    settings: EnergySettings,
    synchronize: Callable[[], object] | None = None,
) -> EnergyResult:
    """Measure idle power, then energy per forward pass over a long-enough window.

    Args:
        meter: The sensor (see ``select_energy_meter``).
        run_once: One forward pass; on an asynchronous device it may return before the device
            has finished (then give ``synchronize``), so passes pipeline as when timed.
        batch_size: Samples per forward pass (for the per-sample figure).
        settings: Window lengths.
        synchronize: Waits until the device has finished every pass; called once, before the
            window closes. ``None`` for synchronous workloads.
    """
    if isinstance(meter, UnavailableMeter):
        # Nothing to read: do not spend seconds running the workload for it.
        return EnergyResult(
            energy_mj=meter.record("energy_mj"),
            energy_net_mj=meter.record("energy_net_mj"),
            power_w=meter.record("power_w"),
            power_idle_w=meter.record("power_idle_w"),
            batch_size=batch_size,
        )
    idle = meter.idle_power(settings.idle_s)
    records, calls, notes = _long_enough_window(meter, run_once, settings, synchronize)
    gross = _annotate(records[0], notes=notes, batch_size=batch_size)
    missing = gross.reason or "no power record"
    power = _find(records, "power_w") or Measurement.unavailable(
        "power_w", method=gross.method, scope=gross.scope, reason=missing
    )
    return EnergyResult(
        energy_mj=gross,
        energy_net_mj=_net(gross, idle, calls),
        power_w=power,
        power_idle_w=idle,
        batch_size=batch_size,
    )


def _annotate(record: Measurement, *, notes: list[str], batch_size: int) -> Measurement:
    return replace(
        record,
        notes=(*record.notes, *notes),
        details={**record.details, "batch_size": batch_size},
    )
