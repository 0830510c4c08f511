"""What a user asks of the trial to ship (``Requirements``) and what they get (``Selection``).

Plain records: ``_select`` fills them and ``_explain`` words them, so neither imports the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from prunefront.errors import PrunefrontError

__all__ = ["PREFERENCES", "Binding", "Requirements", "Selection"]

PREFERENCES = ("metric", "latency", "energy", "knee")


def _check_bound(key: str, value: float | None, *, positive: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or (positive and value <= 0):
        valid = "a positive number" if positive else "a finite number"
        raise PrunefrontError(f"{key} must be {valid}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Requirements:
    """Deployment requirements (every bound inclusive) and the preference among what is left.

    Attributes:
        min_metric: The task metric must be >= this (whatever its direction).
        max_metric: The task metric must be <= this (e.g. a perplexity ceiling).
        max_latency_ms: Latency (median) must be <= this.
        max_energy_mj: Energy per inference must be <= this.
        max_bytes: Footprint must be <= this many bytes.
        prefer: One of ``PREFERENCES``.
    """

    min_metric: float | None = None
    max_metric: float | None = None
    max_latency_ms: float | None = None
    max_energy_mj: float | None = None
    max_bytes: int | None = None
    prefer: str = "metric"

    def __post_init__(self) -> None:
        if self.prefer not in PREFERENCES:
            raise PrunefrontError(
                f"--prefer must be one of {', '.join(PREFERENCES)}, got {self.prefer!r}"
            )
        _check_bound("--min-metric", self.min_metric, positive=False)
        _check_bound("--max-metric", self.max_metric, positive=False)
        _check_bound("--max-latency-ms", self.max_latency_ms, positive=True)
        _check_bound("--max-energy-mj", self.max_energy_mj, positive=True)
        _check_bound("--max-bytes", self.max_bytes, positive=True)
        if (
            self.min_metric is not None
            and self.max_metric is not None
            and self.min_metric > self.max_metric
        ):
            raise PrunefrontError(
                f"--min-metric {self.min_metric} is above --max-metric {self.max_metric}"
            )

    def bounds(self, metric_name: str) -> list[tuple[str, str, str, float]]:
        """``(label, column, op, value)`` per given bound; op is ``>=`` or ``<=``."""
        spec = [
            (self.min_metric, "metric", ">=", metric_name),
            (self.max_metric, "metric", "<=", metric_name),
            (self.max_latency_ms, "latency_ms", "<=", "latency_ms"),
            (self.max_energy_mj, "energy_mj", "<=", "energy_mj"),
            (self.max_bytes, "footprint_bytes", "<=", "footprint_bytes"),
        ]
        return [
            (f"{name} {op} {value:g}", col, op, float(value))
            for value, col, op, name in spec
            if value is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Binding:
    """Why nothing was chosen.

    Attributes:
        requirement: The binding requirement (excludes the most trials).
        excluded: Per requirement, how many feasible complete trials it excludes.
        closest_trial: The trial nearest to meeting them all: fewest unmeasured values, then
            the smallest sum of shortfalls relative to each bound.
        shortfall: Per requirement that trial misses, by how much in the measure's unit
            (None where the value was not measured).
    """

    requirement: str
    excluded: dict[str, int]
    closest_trial: int | None
    shortfall: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """The outcome of ``select_trial``.

    Attributes:
        requirements: What was asked.
        considered: Feasible COMPLETE trials with every objective value.
        eligible: Those meeting every requirement.
        front: The Pareto-optimal trials among ``eligible`` (the choice set).
        chosen: The chosen trial, or None when no trial meets the requirements.
        runner_up: The next best by the same preference, or None.
        explanation: One paragraph saying why.
        binding: Set when nothing was chosen.
        scores: For ``knee``, each front trial's distance to the utopia point.
    """

    requirements: Requirements
    considered: tuple[int, ...]
    eligible: tuple[int, ...]
    front: tuple[int, ...]
    chosen: int | None
    runner_up: int | None
    explanation: str
    binding: Binding | None = None
    scores: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "requirements": self.requirements.to_dict(),
            "considered": list(self.considered),
            "eligible": list(self.eligible),
            "front": list(self.front),
            "chosen": self.chosen,
            "runner_up": self.runner_up,
            "explanation": self.explanation,
            "binding": self.binding.to_dict() if self.binding else None,
            "scores": {str(k): v for k, v in self.scores.items()},
        }
