"""A trials frame seen from one named target: its latency and energy in place of the search's.

``prunefront reprofile`` stores each trial's measurements on further targets in the study
(``studies._targets``). ``swap_target`` replaces every measured column of the trials frame —
latency, energy, memory, strategies, measurement records, device and the objective values
``values_latency_ms`` / ``values_energy_mj`` — by the target's own; trials the target has not
measured get no values there, so fronts, the iso-footprint table and ``select`` computed from the
swapped frame use that target's numbers only.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from prunefront.errors import PrunefrontError
from prunefront.studies import (
    SEARCH_TARGET,
    TargetProfile,
    TargetRecord,
    target_profiles,
    target_records,
)

__all__ = ["MEASURED_OBJECTIVES", "swap_target", "target_inputs"]

MEASURED_OBJECTIVES = ("latency_ms", "energy_mj")
"""Objectives whose values depend on the target (the metric and the bytes do not)."""

_NUMBERS = ("latency_ms", "latency_p90_ms", "latency_iqr_ms", "energy_mj", "peak_memory_bytes")
_TEXTS = (
    "latency_kind",
    "latency_method",
    "latency_strategy",
    "energy_kind",
    "energy_method",
    "energy_reason",
)


def target_inputs(
    attrs: dict[str, Any], name: str
) -> tuple[TargetRecord, dict[int, TargetProfile]]:
    """Target ``name``'s record and profiles from a study's user attributes.

    Raises:
        PrunefrontError: The study holds no target of that name (the message lists them).
    """
    records = target_records(attrs)
    if name not in records:
        held = ", ".join([SEARCH_TARGET, *records])
        raise PrunefrontError(f"--target {name!r}: the study has measurements for {held}")
    return records[name], target_profiles(attrs, name)


def _value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def swap_target(frame: pd.DataFrame, name: str, profiles: dict[int, TargetProfile]) -> pd.DataFrame:
    """A copy of ``frame`` with target ``name``'s measurements (see the module docstring)."""
    swapped = frame.copy()
    by_row = [profiles.get(int(n)) for n in swapped["number"]] if len(swapped) else []
    for column in _NUMBERS:
        swapped[column] = [_value(getattr(p, column)) if p else math.nan for p in by_row]
    for column in _TEXTS:
        swapped[column] = [getattr(p, column) if p else None for p in by_row]
    swapped["strategies"] = [p.strategies if p else None for p in by_row]
    swapped["measurements"] = [p.measurements if p else None for p in by_row]
    swapped["device"] = [p.device if p else None for p in by_row]
    swapped["profile_seconds"] = [p.profile_seconds if p else math.nan for p in by_row]
    if "latency_first_ms" in swapped:  # the search's own re-measurement does not apply here
        swapped["latency_first_ms"] = swapped["latency_ms"]
        swapped["latency_remeasured"] = False
    for objective in MEASURED_OBJECTIVES:
        if f"values_{objective}" in swapped:
            swapped[f"values_{objective}"] = swapped[objective]
    swapped["target"] = name
    return swapped
