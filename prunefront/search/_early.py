"""prunefront's own early stopping (Optuna cannot prune multi-objective trials).

When a candidate reaches its final sparsity (the schedule's ``end_step``) it is evaluated once.
If a finished, feasible trial with no larger footprint already has a final metric better by more
than ``margin`` (in the metric's units), the candidate is dominated on (metric, bytes) and can
only lose the rest of its training: the trial stops and is recorded as PRUNED with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from prunefront.studies import TrialKey

__all__ = ["EarlyStop", "dominating_trial", "early_stop_hook"]


class EarlyStop(Exception):
    """Raised from the training hook to stop a hopeless trial; carries the reason."""


@dataclass(frozen=True)
class _Finished:
    number: int
    metric: float
    footprint_bytes: int


def _finished(trials: Sequence[optuna.trial.FrozenTrial]) -> list[_Finished]:
    out = []
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        if any(v > 0 for v in t.constraints.values()):
            continue
        attrs = t.user_attrs
        metric, footprint = attrs.get(TrialKey.METRIC_VALUE), attrs.get(TrialKey.FOOTPRINT_BYTES)
        if metric is None or footprint is None:
            continue
        out.append(_Finished(t.number, float(metric), int(footprint)))
    return out


def dominating_trial(
    trials: Sequence[optuna.trial.FrozenTrial],
    *,
    metric: float,
    footprint_bytes: int,
    maximize: bool,
    margin: float,
) -> tuple[int, float] | None:
    """A finished trial that clearly dominates (metric, footprint), as (number, its metric)."""
    best: tuple[int, float] | None = None
    for f in _finished(trials):
        if f.footprint_bytes > footprint_bytes:
            continue
        better = f.metric - metric if maximize else metric - f.metric
        if better > margin and (best is None or (f.metric > best[1]) == maximize):
            best = (f.number, f.metric)
    return best


def early_stop_hook(
    *,
    check_step: int,
    evaluate: Callable[[object], float],
    load_trials: Callable[[], Sequence[optuna.trial.FrozenTrial]],
    footprint_bytes: int,
    maximize: bool,
    margin: float,
    metric_name: str,
) -> Callable[[int, object], None]:
    """A ``StepHook`` that evaluates once at ``check_step`` and raises ``EarlyStop``."""

    def hook(step: int, model: object) -> None:
        if step != check_step:
            return
        value = evaluate(model)
        found = dominating_trial(
            load_trials(),
            metric=value,
            footprint_bytes=footprint_bytes,
            maximize=maximize,
            margin=margin,
        )
        if found is not None:
            raise EarlyStop(
                f"at step {step} {metric_name} {value:.4f} is dominated by trial {found[0]} "
                f"({found[1]:.4f}, no larger footprint) by more than {margin}"
            )

    return hook
