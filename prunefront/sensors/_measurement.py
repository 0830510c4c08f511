"""The ``Measurement`` record: one number with its unit, its kind and how it was obtained.

Every number a profiler reports is a ``Measurement``. The unit is the suffix of ``name``
(``latency_ms``, ``energy_mj``, ``power_w``, ``peak_memory_bytes``) and is checked when the
record is built, so a number can never lose its unit on the way to a report. A sensor that is
missing gives ``kind="unavailable"`` with ``value=None`` and a ``reason``: never a silent zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from prunefront.errors import PrunefrontError

__all__ = [
    "KINDS",
    "UNITS",
    "Detail",
    "Kind",
    "Measurement",
    "energy_and_power",
    "idle_power_from",
    "unit_of",
]

Kind = Literal["measured", "estimated", "predicted", "unavailable"]
KINDS: tuple[str, ...] = get_args(Kind)

Detail = float | int | str | bool | None
"""A value in ``Measurement.details``; numeric keys carry their unit as a suffix too."""

# Longest suffix first so that "_mj" is not read as "_j" and "_ms" not as "_s".
UNITS: dict[str, str] = {
    "_bytes": "bytes",
    "_ms": "ms",
    "_mj": "mJ",
    "_mw": "mW",
    "_s": "s",
    "_j": "J",
    "_w": "W",
}


def unit_of(name: str) -> str:
    """Return the unit named by the suffix of ``name`` (``"latency_ms"`` -> ``"ms"``).

    Raises:
        PrunefrontError: ``name`` has no known unit suffix.
    """
    for suffix in sorted(UNITS, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return UNITS[suffix]
    raise PrunefrontError(
        f"measurement name {name!r} must end in a unit suffix, one of {sorted(UNITS)}"
    )


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One reported number and its provenance.

    Attributes:
        name: What was measured, with the unit as suffix: ``latency_ms``, ``energy_mj``,
            ``power_w``, ``peak_memory_bytes``. ``unit`` is derived from it.
        value: The number in that unit, or ``None`` exactly when ``kind == "unavailable"``.
        kind: ``measured`` (read from a sensor or clock), ``estimated`` (a model such as
            codecarbon's TDP model), ``predicted`` (an analytic formula) or ``unavailable``.
        method: How: ``perf_counter``, ``cuda_events``, ``nvml_energy_counter``,
            ``nvml_power_integration``, ``rapl``, ``codecarbon_tdp_model``, ``vmhwm``, ...
        scope: What the number covers: ``forward_pass``, ``gpu_device``, ``cpu_package``,
            ``process``, ``cuda_allocator``.
        window_s: Length of the measurement window in seconds, where there was one.
        repeats: How many forward passes the number summarises (0 when not applicable).
        spread: Dispersion in the same unit as ``value`` (the IQR for latencies), if known.
        reason: Why the number is unavailable (required then), or a caveat otherwise.
        details: Further numbers, each key with its own unit suffix (``p90_ms``, ``net_mj``).
        notes: Flags a reader should see, e.g. a window that stayed shorter than required.
    """

    name: str
    value: float | None
    kind: Kind
    method: str
    scope: str
    window_s: float | None = None
    repeats: int = 0
    spread: float | None = None
    reason: str | None = None
    details: Mapping[str, Detail] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unit_of(self.name)
        if self.kind not in KINDS:
            raise PrunefrontError(f"measurement kind {self.kind!r} must be one of {list(KINDS)}")
        if not self.method:
            raise PrunefrontError(f"measurement {self.name}: method must be a non-empty string")
        if self.kind == "unavailable":
            if self.value is not None:
                raise PrunefrontError(
                    f"measurement {self.name}: an unavailable value must be None, got {self.value}"
                )
            if not self.reason:
                raise PrunefrontError(f"measurement {self.name}: unavailable needs a reason")
        elif self.value is None or not math.isfinite(self.value):
            raise PrunefrontError(
                f"measurement {self.name}: a {self.kind} value must be a finite number, "
                f"got {self.value!r} (use kind='unavailable' with a reason instead)"
            )
        if self.repeats < 0:
            raise PrunefrontError(f"measurement {self.name}: repeats must be >= 0")
        # A private copy, so that the caller's dict cannot change a frozen record afterwards.
        object.__setattr__(self, "details", dict(self.details))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def unit(self) -> str:
        """The unit named by the suffix of ``name``."""
        return unit_of(self.name)

    @property
    def available(self) -> bool:
        """Whether there is a number (measured, estimated or predicted)."""
        return self.value is not None

    @classmethod
    def unavailable(cls, name: str, *, method: str, scope: str, reason: str) -> Measurement:
        """Build the record of a number that could not be obtained, and why."""
        return cls(
            name=name, value=None, kind="unavailable", method=method, scope=scope, reason=reason
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the unit is included for readers; it is derived)."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "kind": self.kind,
            "method": self.method,
            "scope": self.scope,
            "window_s": self.window_s,
            "repeats": self.repeats,
            "spread": self.spread,
            "reason": self.reason,
            "details": dict(self.details),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Rebuild a record from ``to_dict`` output.

        Raises:
            PrunefrontError: a field is missing or unknown, or the stored unit disagrees
                with the name.
        """
        known = {
            "name",
            "value",
            "unit",
            "kind",
            "method",
            "scope",
            "window_s",
            "repeats",
            "spread",
            "reason",
            "details",
            "notes",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise PrunefrontError(
                f"measurement: unknown field(s) {unknown}; valid: {sorted(known)}"
            )
        missing = sorted({"name", "value", "kind", "method", "scope"} - set(data))
        if missing:
            raise PrunefrontError(f"measurement: missing field(s) {missing}")
        name = str(data["name"])
        if "unit" in data and data["unit"] != unit_of(name):
            raise PrunefrontError(
                f"measurement {name}: stored unit {data['unit']!r} disagrees with the name's unit"
            )
        value = data["value"]
        return cls(
            name=name,
            value=None if value is None else float(value),
            kind=data["kind"],
            method=str(data["method"]),
            scope=str(data["scope"]),
            window_s=None if data.get("window_s") is None else float(data["window_s"]),
            repeats=int(data.get("repeats", 0)),
            spread=None if data.get("spread") is None else float(data["spread"]),
            reason=data.get("reason"),
            details=dict(data.get("details") or {}),
            notes=tuple(data.get("notes") or ()),
        )


def energy_and_power(
    total_mj: float,
    *,
    window_s: float,
    inferences: int,
    method: str,
    scope: str,
    kind: Kind = "measured",
    details: Mapping[str, Detail] | None = None,
    reason: str | None = None,
    details_on_power: bool = False,
) -> list[Measurement]:
    """The records of an energy window: ``energy_mj`` per forward pass and mean ``power_w``.

    Args:
        total_mj: Energy over the whole window.
        window_s: The window's length.
        inferences: Forward passes run in the window.
        method, scope, kind: Provenance shared by both records.
        details: Extra numbers for the energy record.
        reason: A caveat attached to both records (e.g. why it is only an estimate).
        details_on_power: Attach ``details`` to the power record too (sampled sensors record
            their sampling rate with every value).
    """
    common: dict[str, Any] = {
        "kind": kind,
        "method": method,
        "scope": scope,
        "window_s": window_s,
        "repeats": inferences,
        "reason": reason,
    }
    return [
        Measurement(name="energy_mj", value=total_mj / inferences, details=details or {}, **common),
        Measurement(
            name="power_w",
            value=total_mj / window_s / 1e3,
            details=(details or {}) if details_on_power else {},
            **common,
        ),
    ]


def idle_power_from(
    records: list[Measurement], *, method: str, scope: str, keep_details: bool = False
) -> Measurement:
    """``power_idle_w`` from the records of a window run with no workload (or unavailable)."""
    power = next((r for r in records if r.name == "power_w"), None)
    if power is None or power.value is None:
        reason = records[0].reason if records and records[0].reason else "no reading"
        return Measurement.unavailable("power_idle_w", method=method, scope=scope, reason=reason)
    return Measurement(
        name="power_idle_w",
        value=power.value,
        kind="measured",
        method=method,
        scope=scope,
        window_s=power.window_s,
        details=dict(power.details) if keep_details else {},
    )
