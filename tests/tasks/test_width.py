"""scale_channels and check_width: MobileNet-style rounding and width validation."""

from __future__ import annotations

import math

import pytest

from prunefront.errors import PrunefrontError
from prunefront.tasks import check_width, scale_channels


@pytest.mark.parametrize(
    ("channels", "width", "expected"),
    [
        (32, 1.0, 32),
        (32, 0.25, 8),
        (32, 0.5, 16),
        (64, 0.3, 24),  # 19.2 -> nearest multiple of 8 is 16, which is >10% below, so 24
        (96, 0.75, 72),
        (256, 0.35, 88),  # 89.6 -> 88
        (16, 0.1, 8),  # never below the multiple
        (1280, 0.35, 448),
    ],
)
def test_scale_channels_matches_mobilenet_make_divisible(
    channels: int, width: float, expected: int
) -> None:
    assert scale_channels(channels, width) == expected


@pytest.mark.parametrize("multiple", [1, 4, 8, 16])
def test_scaled_channels_are_multiples_never_tiny_and_never_10_percent_short(multiple: int) -> None:
    for channels in (1, 3, 8, 17, 64, 100, 257, 1024):
        for step in range(1, 101):
            width = step / 100
            scaled = scale_channels(channels, width, multiple)
            assert scaled % multiple == 0
            assert scaled >= multiple
            assert scaled >= 0.9 * channels * width


def test_multiple_of_one_rounds_to_the_nearest_integer() -> None:
    assert scale_channels(100, 0.333, multiple=1) == 33
    assert scale_channels(10, 0.26, multiple=1) == 3
    assert scale_channels(3, 0.01, multiple=1) == 1


@pytest.mark.parametrize("width", [0, 0.0, -0.5, 1.01, 2, math.nan, math.inf, "0.5", True, None])
def test_width_outside_zero_one_is_rejected_naming_the_value(width: object) -> None:
    with pytest.raises(PrunefrontError, match=r"width .*\(0, 1\]") as info:
        scale_channels(32, width)  # type: ignore[arg-type]
    assert repr(width) in str(info.value)
    with pytest.raises(PrunefrontError):
        check_width(width)  # type: ignore[arg-type]


def test_check_width_accepts_the_full_interval_end() -> None:
    assert check_width(1) == 1.0
    assert check_width(1e-6) == 1e-6


@pytest.mark.parametrize(("channels", "multiple"), [(0, 8), (-4, 8), (32, 0), (32, -8), (3.5, 8)])
def test_non_positive_channels_or_multiple_are_rejected(channels: object, multiple: object) -> None:
    with pytest.raises(PrunefrontError, match=r">= 1"):
        scale_channels(channels, 0.5, multiple)  # type: ignore[arg-type]
