"""RAPL (powercap) energy, re-exported from its torch-free home ``prunefront.sensors``.

Kept so that the old import path works; the remote agent reads RAPL with the same classes.
"""

from __future__ import annotations

from prunefront.sensors._rapl import (
    DEFAULT_POWERCAP_ROOT,
    RaplMeter,
    RaplReader,
    RaplZone,
    counter_delta,
)

__all__ = ["DEFAULT_POWERCAP_ROOT", "RaplMeter", "RaplReader", "RaplZone", "counter_delta"]
