"""``prunefront search --trials N``: the option's parser, so that any bad N is one line, exit 2."""

from __future__ import annotations

from prunefront.errors import PrunefrontError

__all__ = ["parse_trials"]


def parse_trials(text: str) -> int:
    """``--trials N``: a positive integer, else the one-line error that names it.

    Raises:
        PrunefrontError: ``text`` is not a positive integer (typer's own error would be a box).
    """
    try:
        value = int(text)
    except ValueError:
        raise PrunefrontError(f"--trials must be a positive integer, got {text!r}") from None
    if value < 1:
        raise PrunefrontError(f"--trials must be a positive integer, got {value}")
    return value
