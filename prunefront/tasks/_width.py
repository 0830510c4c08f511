"""Width multipliers: validate them and turn them into channel counts that hardware likes.

Rounding follows MobileNet's ``_make_divisible``: round ``channels * width`` to the nearest
multiple, never below the multiple itself and never more than 10% below the exact value. Channel
counts that are multiples of 8 map onto vector units and tensor cores without padding.
"""

from __future__ import annotations

import math

from prunefront.errors import PrunefrontError

__all__ = ["check_width", "scale_channels"]


def check_width(width: float) -> float:
    """Return ``width`` as a float if it is a usable width multiplier.

    Raises:
        PrunefrontError: If ``width`` is not a finite number in (0, 1].
    """
    if isinstance(width, bool) or not isinstance(width, int | float):
        raise PrunefrontError(f"width must be a number in (0, 1], got {width!r}")
    value = float(width)
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise PrunefrontError(f"width must be in (0, 1], got {width!r}")
    return value


def scale_channels(channels: int, width: float, multiple: int = 8) -> int:
    """Scale a layer's channel count by a width multiplier, rounded to a hardware-friendly size.

    Args:
        channels: Channel (or unit) count of the full model, at width 1.0.
        width: Width multiplier in (0, 1].
        multiple: Round to a multiple of this; 1 rounds to the nearest integer (no padding).

    Returns:
        A multiple of ``multiple`` that is at least ``multiple`` and at least 90% of
        ``channels * width``.

    Raises:
        PrunefrontError: If ``width`` is outside (0, 1], or ``channels`` or ``multiple`` is
            not a positive integer.

    Example:
        >>> scale_channels(32, 0.25), scale_channels(64, 0.3), scale_channels(100, 0.5, multiple=1)
        (8, 24, 50)
    """
    value = check_width(width)
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise PrunefrontError(f"channels must be an integer >= 1, got {channels!r}")
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise PrunefrontError(f"channel_multiple must be an integer >= 1, got {multiple!r}")
    exact = channels * value
    rounded = max(multiple, int(exact + multiple / 2) // multiple * multiple)
    # Rounding to the nearest multiple may drop more than 10% at small sizes; MobileNet bumps
    # those up a step so that a thin model never loses more capacity than the user asked for.
    if rounded < 0.9 * exact:
        rounded += multiple
    return rounded
