"""The one exception type users see: the CLI turns it into a one-line message and exit code 2."""

from __future__ import annotations

__all__ = ["PrunefrontError"]


class PrunefrontError(Exception):
    """An error the user can cause and fix (bad input, bad config, missing file).

    The message is one line that names the offending key or value and, where there is one, the
    valid range. Programming errors are never wrapped in this type.
    """
