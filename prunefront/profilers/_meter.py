"""The window contract of every meter, re-exported from its torch-free home ``prunefront.sensors``.

Kept so that the old import path works; the remote agent uses the same classes without torch.
"""

from __future__ import annotations

from prunefront.sensors._meter import (
    Clock,
    EnergyMeter,
    Meter,
    SystemClock,
    UnavailableMeter,
    WindowBook,
    WindowProgress,
    check_inferences,
)

__all__ = [
    "Clock",
    "EnergyMeter",
    "Meter",
    "SystemClock",
    "UnavailableMeter",
    "WindowBook",
    "WindowProgress",
    "check_inferences",
]
