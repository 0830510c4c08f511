"""Strict JSON for report files and ``--json`` output: no NaN, no numpy scalars, no tuples."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "json_ready"]


def json_ready(value: Any) -> Any:
    """``value`` as strict JSON data: non-finite floats become None, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return json_ready(value.item())  # numpy scalars
    return value


def dumps(value: Any) -> str:
    """Indented strict JSON text with a trailing newline."""
    return json.dumps(json_ready(value), indent=2, allow_nan=False, default=str) + "\n"
