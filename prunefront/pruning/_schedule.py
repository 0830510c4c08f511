"""The gradual pruning schedule of Zhu & Gupta (2017), in the paper's and tfmot's parametrisation.

The sparsity at step t is ``s_f + (s_i - s_f) * (1 - p) ** power`` with progress
``p = clamp((t - begin_step) / (end_step - begin_step), 0, 1)``. Masks are updated only on pruning
steps: ``begin_step <= t <= end_step`` and ``(t - begin_step) % frequency == 0``. Unlike tfmot,
``end_step`` is always a pruning step, so the final sparsity is reached even when
``end_step - begin_step`` is not a multiple of ``frequency`` (``lands_on_grid`` tells which case
applies, and ``notes`` says it in words).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from prunefront.errors import PrunefrontError

__all__ = ["PolynomialDecay", "SchedulePoint", "default_schedule"]


@dataclass(frozen=True)
class SchedulePoint:
    """The schedule evaluated at one step.

    Attributes:
        step: 0-based index of the optimizer step just taken.
        sparsity: The polynomial's value at ``step`` (tfmot's ``PolynomialDecay``).
        mask_update: Whether the masks are recomputed at this step.
        mask_sparsity: The sparsity the masks hold after this step (the value of the last update).
    """

    step: int
    sparsity: float
    mask_update: bool
    mask_sparsity: float

    def to_dict(self) -> dict[str, float | int | bool]:
        """Plain JSON-able data."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class PolynomialDecay:
    """Polynomial sparsity schedule (tfmot's ``PolynomialDecay``, power 3 = the paper's).

    Attributes:
        final_sparsity: s_f in [0, 1).
        end_step: Last pruning step; the final sparsity holds from here on.
        initial_sparsity: s_i in [0, 1), at most ``final_sparsity``.
        begin_step: First pruning step (t0); the sparsity there is the initial one.
        frequency: Steps between mask updates (dt).
        power: Exponent of the decay (3 in the paper).
    """

    final_sparsity: float
    end_step: int
    initial_sparsity: float = 0.0
    begin_step: int = 0
    frequency: int = 100
    power: float = 3.0

    def __post_init__(self) -> None:
        for key in ("initial_sparsity", "final_sparsity"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise PrunefrontError(f"{key} must be in [0, 1), got {value}")
        if self.initial_sparsity > self.final_sparsity:
            raise PrunefrontError(
                f"initial_sparsity ({self.initial_sparsity}) must not exceed "
                f"final_sparsity ({self.final_sparsity}): masks only grow"
            )
        if self.begin_step < 0:
            raise PrunefrontError(f"begin_step must be >= 0, got {self.begin_step}")
        if self.end_step < self.begin_step:
            raise PrunefrontError(
                f"end_step ({self.end_step}) must be >= begin_step ({self.begin_step})"
            )
        if self.frequency <= 0:
            raise PrunefrontError(f"frequency must be > 0, got {self.frequency}")
        if self.power <= 0:
            raise PrunefrontError(f"power must be > 0, got {self.power}")

    @classmethod
    def from_paper(
        cls, *, s_f: float, t0: int, dt: int, n: int, s_i: float = 0.0
    ) -> PolynomialDecay:
        """The paper's parametrisation: n pruning steps of dt, starting at t0."""
        if n < 1:
            raise PrunefrontError(f"n (number of pruning steps) must be >= 1, got {n}")
        if dt <= 0:
            raise PrunefrontError(f"dt (pruning frequency) must be > 0, got {dt}")
        return cls(
            initial_sparsity=s_i,
            final_sparsity=s_f,
            begin_step=t0,
            end_step=t0 + n * dt,
            frequency=dt,
            power=3.0,
        )

    @property
    def lands_on_grid(self) -> bool:
        """True when ``end_step`` is itself on the ``begin_step + k * frequency`` grid."""
        return (self.end_step - self.begin_step) % self.frequency == 0

    @property
    def notes(self) -> list[str]:
        """Human-readable remarks about this schedule (empty when nothing is unusual)."""
        if self.lands_on_grid:
            return []
        return [
            f"end_step - begin_step = {self.end_step - self.begin_step} is not a multiple of "
            f"frequency = {self.frequency}; tfmot would stop short of the final sparsity, "
            f"prunefront adds a last mask update at end_step {self.end_step}"
        ]

    def sparsity(self, step: int) -> float:
        """The polynomial's value at ``step`` (before begin: initial; after end: final)."""
        span = self.end_step - self.begin_step
        if span == 0:
            progress = 1.0 if step >= self.begin_step else 0.0
        else:
            progress = min(max((step - self.begin_step) / span, 0.0), 1.0)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (
            (1.0 - progress) ** self.power
        )

    def is_update_step(self, step: int) -> bool:
        """Whether the masks are recomputed after optimizer step ``step``."""
        if not self.begin_step <= step <= self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def update_steps(self) -> list[int]:
        """Every pruning step, in order (``end_step`` always included)."""
        steps = list(range(self.begin_step, self.end_step + 1, self.frequency))
        if steps[-1] != self.end_step:
            steps.append(self.end_step)
        return steps

    def points(self, steps: Iterable[int]) -> list[SchedulePoint]:
        """Evaluate the schedule at ``steps`` (any order; negative steps are refused)."""
        updates = self.update_steps()
        out = []
        for step in steps:
            if step < 0:
                raise PrunefrontError(f"steps must be >= 0, got {step}")
            done = [u for u in updates if u <= step]
            held = self.sparsity(done[-1]) if done else self.initial_sparsity
            out.append(
                SchedulePoint(
                    step=step,
                    sparsity=self.sparsity(step),
                    mask_update=self.is_update_step(step),
                    mask_sparsity=held,
                )
            )
        return out


def default_schedule(
    total_steps: int,
    final_sparsity: float,
    *,
    begin_frac: float = 1 / 3,
    end_frac: float = 3 / 4,
    updates: int = 20,
    initial_sparsity: float = 0.0,
) -> PolynomialDecay:
    """A schedule fitted to a training run: dense warm-up, prune, recover at the final sparsity.

    Pruning begins after ``begin_frac`` of training (the paper starts after some epochs) and ends at
    ``end_frac``, while the learning rate is still large, with about ``updates`` mask updates.
    """
    if total_steps < 1:
        raise PrunefrontError(f"total_steps must be >= 1, got {total_steps}")
    if not 0.0 <= begin_frac <= end_frac <= 1.0:
        raise PrunefrontError(
            f"need 0 <= begin_frac <= end_frac <= 1, got begin_frac={begin_frac}, "
            f"end_frac={end_frac}"
        )
    if updates < 1:
        raise PrunefrontError(f"updates must be >= 1, got {updates}")
    last = total_steps - 1
    begin = min(round(begin_frac * total_steps), last)
    end = min(max(round(end_frac * total_steps), begin), last)
    frequency = max(1, (end - begin) // updates)
    return PolynomialDecay(
        initial_sparsity=initial_sparsity,
        final_sparsity=final_sparsity,
        begin_step=begin,
        end_step=end,
        frequency=frequency,
    )
