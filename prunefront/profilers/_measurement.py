"""The ``Measurement`` record, re-exported from its torch-free home ``prunefront.sensors``.

The record moved so that the remote agent (which must not import torch) shares the very same
class; this module keeps the old import path working.
"""

from __future__ import annotations

from prunefront.sensors._measurement import KINDS, UNITS, Detail, Kind, Measurement, unit_of

__all__ = ["KINDS", "UNITS", "Detail", "Kind", "Measurement", "unit_of"]
