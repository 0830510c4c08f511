"""Validation of the built-in tasks' numeric options: one-line errors naming the option."""

from __future__ import annotations

import math

from prunefront.errors import PrunefrontError

__all__ = ["positive_float", "positive_int"]


def positive_int(key: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum`` (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PrunefrontError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def positive_float(key: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PrunefrontError(f"{key} must be a number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise PrunefrontError(f"{key} must be > 0, got {value!r}")
    return float(value)
