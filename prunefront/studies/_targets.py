"""Measurements of a study's trials on further targets (``prunefront reprofile``), as data.

A search measures its trials on one target. ``reprofile`` measures the saved weights of its
COMPLETE trials on others and stores, in the same study, one study attribute per target
(``target:<name>``: the settings it was measured with, a :class:`TargetRecord`) and one per
measured trial (``target:<name>:trial:<number>``: a :class:`TargetProfile`). Each trial's record
is written in one step once its profile is done, so a run killed at any moment leaves whole
records only, and a rerun skips them. ``report --target`` and ``select --target`` read them back
through :func:`target_records` and :func:`target_profiles`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from prunefront.errors import PrunefrontError

__all__ = [
    "SEARCH_TARGET",
    "TargetProfile",
    "TargetRecord",
    "check_target_name",
    "profile_key",
    "target_key",
    "target_profiles",
    "target_records",
]

SEARCH_TARGET = "search"
"""The name of the target the search itself measured on (not a stored record)."""

_PREFIX = "target:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_target_name(name: str) -> str:
    """``name`` if it can name a target (letters, digits, ``_.-``; not ``search``).

    Raises:
        PrunefrontError: It cannot.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise PrunefrontError(
            f"--name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    if name == SEARCH_TARGET:
        raise PrunefrontError(
            f"--name {SEARCH_TARGET!r} is the search's own target; choose another name"
        )
    return name


def target_key(name: str) -> str:
    """The study attribute holding target ``name``'s :class:`TargetRecord`."""
    return f"{_PREFIX}{name}"


def profile_key(name: str, number: int) -> str:
    """The study attribute holding trial ``number``'s :class:`TargetProfile` on ``name``."""
    return f"{_PREFIX}{name}:trial:{number:05d}"


@dataclass(frozen=True, kw_only=True)
class TargetRecord:
    """A target the study's trials were measured on again.

    Attributes:
        name: Its name (``--name``).
        settings: How it was profiled: ``device``, ``threads``, ``batch_size``, ``energy``
            and the timing settings. A name stands for these settings, always.
        device: The description of the device the first profile reported.
    """

    name: str
    settings: dict[str, Any]
    device: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what the study stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetRecord:
        """Read back :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            settings=dict(data.get("settings", {})),
            device=dict(data.get("device", {})),
        )

    def label(self) -> str:
        """One line: the name and its settings."""
        s = self.settings
        return (
            f"{self.name} ({s.get('device')}, threads {s.get('threads')}, "
            f"batch {s.get('batch_size')})"
        )


@dataclass(frozen=True, kw_only=True)
class TargetProfile:
    """One trial measured on one target (units in the names; kinds and methods as everywhere).

    Attributes:
        trial: Trial number.
        latency_ms: Median latency, or None when unavailable.
        latency_p90_ms: 90th percentile.
        latency_iqr_ms: Interquartile range.
        latency_kind: ``measured`` | ``estimated`` | ``predicted`` | ``unavailable``.
        latency_method: How it was timed (``perf_counter``, ``cuda_events``, ``remote:...``).
        latency_strategy: The execution strategy whose latency this is.
        energy_mj: Energy per inference, or None.
        energy_kind: The energy record's kind.
        energy_method: The energy record's method.
        energy_reason: Why there is no energy value (None when there is one).
        peak_memory_bytes: Peak runtime memory, or None.
        strategies: Every execution strategy tried.
        measurements: Every ``Measurement`` record.
        device: The device description of this profile.
        profile_seconds: Wall time of the profile.
    """

    trial: int
    latency_ms: float | None
    latency_p90_ms: float | None = None
    latency_iqr_ms: float | None = None
    latency_kind: str = "unavailable"
    latency_method: str = ""
    latency_strategy: str | None = None
    energy_mj: float | None = None
    energy_kind: str = "unavailable"
    energy_method: str = ""
    energy_reason: str | None = None
    peak_memory_bytes: float | None = None
    strategies: list[Any] = field(default_factory=list)
    measurements: list[Any] = field(default_factory=list)
    device: dict[str, Any] = field(default_factory=dict)
    profile_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what the study stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetProfile:
        """Read back :meth:`to_dict` (unknown keys are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def target_records(attrs: dict[str, Any]) -> dict[str, TargetRecord]:
    """Every stored target of a study (its user attributes), by name, in name order."""
    found: dict[str, TargetRecord] = {}
    for key in sorted(attrs):
        rest = key.removeprefix(_PREFIX)
        if key.startswith(_PREFIX) and ":" not in rest and isinstance(attrs[key], dict):
            found[rest] = TargetRecord.from_dict(attrs[key])
    return found


def target_profiles(attrs: dict[str, Any], name: str) -> dict[int, TargetProfile]:
    """Every trial measured on target ``name``, by trial number."""
    prefix = f"{_PREFIX}{name}:trial:"
    found: dict[int, TargetProfile] = {}
    for key, value in attrs.items():
        if key.startswith(prefix) and isinstance(value, dict):
            record = TargetProfile.from_dict(value)
            found[record.trial] = record
    return dict(sorted(found.items()))
