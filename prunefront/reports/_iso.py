"""The iso-footprint verdict: the paper's Table 6 for the user's own model, with statistics.

A level is the dense footprint of a narrow width. Its small-dense side is that dense model; its
large-sparse side is a wider model pruned to the same bytes (90-100 % of the level). Both are
the search's seeded pair trials, each trained with several seeds (``search.pair_seeds``); no
sampler trial takes part. Per measure the row says who wins, and only where a 95 % interval
excludes no difference:

- metric: the paired difference large-sparse minus small-dense (paired by seed), t-interval;
- latency: the ratio large-sparse / small-dense timed side by side in one process after the
  search (``pair_latency``), interval from per-round ratios; no winner where the machine was
  oversubscribed while it was timed (other work makes rounds depend on each other);
- energy: where a sensor measured it, the ratio from alternating energy windows of the pair
  after the search; else the ratio of the replicates' own energies (Welch interval on the logs);
- footprint: exact bytes; a side wins only when the two differ by more than 1 % of the level.

The earlier "best trial under each level" view stays as ``best_under_level``, labelled as such.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from prunefront.reports._frame import LARGE_SPARSE, SMALL_DENSE, StudyMeta
from prunefront.reports._pareto import candidate_rows
from prunefront.reports._stats import Interval, paired_difference, ratio_of_means

__all__ = [
    "UNDECIDED",
    "IsoCandidate",
    "IsoRow",
    "IsoSide",
    "IsoTable",
    "iso_footprint_table",
]

UNDECIDED = "undecided"
LEVEL_FLOOR = 0.9
"""A pair side's real footprint must lie in [0.9 L, L] of its level L."""
FOOTPRINT_TIE = 0.01
BUSY_LOAD = 1.0
"""Above this load average per core while a pair was timed, its latency names no winner."""
_QUANTILES = (0.25, 0.5, 0.75, 1.0)
_MEASURES = ("metric", "latency_ms", "energy_mj", "footprint_bytes")


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if isinstance(v, int | float) and math.isfinite(v)]


@dataclass(frozen=True, kw_only=True)
class IsoSide:
    """One side of an equal-footprint pair: its seed replicates (units in the names).

    Attributes:
        trials: Trial numbers, one per seed (seed order).
        seeds: The seeds.
        metric_values: The task metric per seed.
        metric_mean, metric_std: Their mean and sample standard deviation (NaN below 2).
        width, sparsity: The candidate (sparsity: mean actual sparsity of the replicates).
        footprint_bytes: The largest real footprint of the replicates.
        footprints_in_level: Whether every replicate's footprint lies in [0.9 L, L].
        latency_ms: Side-by-side median where measured after the search, else the median of
            the replicates' own profiles.
        energy_mj: Mean measured energy per inference of the replicates (NaN if none).
    """

    trials: tuple[int, ...]
    seeds: tuple[int, ...]
    metric_values: tuple[float, ...]
    metric_mean: float
    metric_std: float
    width: float
    sparsity: float
    footprint_bytes: int
    footprints_in_level: bool
    latency_ms: float
    energy_mj: float
    energy_values: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "trials": list(self.trials),
            "seeds": list(self.seeds),
            "metric_values": list(self.metric_values),
            "metric_mean": self.metric_mean,
            "metric_std": self.metric_std,
            "width": self.width,
            "sparsity": self.sparsity,
            "footprint_bytes": self.footprint_bytes,
            "footprints_in_level": self.footprints_in_level,
            "latency_ms": self.latency_ms,
            "energy_mj": self.energy_mj,
            "energy_values": list(self.energy_values),
        }


@dataclass(frozen=True, kw_only=True)
class IsoRow:
    """One level: both sides, the comparisons with their intervals, and the winners.

    Attributes:
        level_bytes: The footprint level L.
        large_sparse, small_dense: The sides (None while a side has no complete replicate).
        comparison: ``metric`` (paired difference large-sparse minus small-dense: ``difference``,
            ``ci95``, ``n``), ``latency_ratio`` (large-sparse / small-dense: ``value``, ``ci95``,
            ``rounds``), ``energy_ratio`` (``value``, ``ci95``, ``n``); each may carry a
            ``reason`` where it could not be computed.
        winners: Per measure (``metric``, ``latency_ms``, ``energy_mj``, ``footprint_bytes``):
            ``large-sparse``, ``small-dense`` or ``undecided``.
    """

    level_bytes: int
    large_sparse: IsoSide | None
    small_dense: IsoSide | None
    comparison: dict[str, dict[str, Any]]
    winners: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "level_bytes": self.level_bytes,
            LARGE_SPARSE: self.large_sparse.to_dict() if self.large_sparse else None,
            SMALL_DENSE: self.small_dense.to_dict() if self.small_dense else None,
            "comparison": self.comparison,
            "winners": dict(self.winners),
        }


@dataclass(frozen=True, kw_only=True)
class IsoCandidate:
    """The best trial of a family under a level (the ``best_under_level`` view)."""

    trial: int
    width: float
    sparsity: float
    metric: float
    latency_ms: float
    footprint_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class IsoTable:
    """The iso-footprint comparison.

    Attributes:
        metric_name: The task metric's name.
        metric_direction: Its direction.
        rows: One row per seeded level, smallest first.
        best_under_level: Not a pair: per level (seeded, else footprint quantiles), the best
            trial of each family whose footprint fits it, sampler trials included.
    """

    metric_name: str
    metric_direction: str
    rows: tuple[IsoRow, ...]
    best_under_level: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "metric": {"name": self.metric_name, "direction": self.metric_direction},
            "rows": [r.to_dict() for r in self.rows],
            "best_under_level": list(self.best_under_level),
        }


def _side(rows: pd.DataFrame, level: int) -> IsoSide | None:
    if rows.empty:
        return None
    # Studies from before seed replicates recorded only ``seed``.
    rows = rows.assign(pair_seed=rows["pair_seed"].fillna(rows["seed"]).fillna(-1))
    rows = rows.sort_values(["pair_seed", "number"], kind="stable")
    rows = rows.drop_duplicates("pair_seed", keep="first")
    metrics = [float(v) for v in rows["metric"]]
    footprints = [int(v) for v in rows["footprint_bytes"]]
    energies = _finite([float(v) for v in rows["energy_mj"]])
    latencies = _finite([float(v) for v in rows["latency_ms"]])
    return IsoSide(
        trials=tuple(int(n) for n in rows["number"]),
        seeds=tuple(int(s) if math.isfinite(s) else -1 for s in rows["pair_seed"].astype(float)),
        metric_values=tuple(metrics),
        metric_mean=statistics.fmean(metrics),
        metric_std=statistics.stdev(metrics) if len(metrics) > 1 else math.nan,
        width=float(rows["width"].iloc[0]),
        sparsity=float(np.nanmean(rows["sparsity_actual"].astype(float)))
        if rows["sparsity_actual"].notna().any()
        else float(rows["sparsity"].iloc[0]),
        footprint_bytes=max(footprints),
        footprints_in_level=all(LEVEL_FLOOR * level <= f <= level for f in footprints),
        latency_ms=float(statistics.median(latencies)) if latencies else math.nan,
        energy_mj=statistics.fmean(energies) if energies else math.nan,
        energy_values=tuple(energies),
    )


def _by_seed(side: IsoSide) -> dict[int, float]:
    return dict(zip(side.seeds, side.metric_values, strict=True))


def _metric(sparse: IsoSide, dense: IsoSide, direction: str) -> tuple[dict[str, Any], str]:
    diff = paired_difference(_by_seed(sparse), _by_seed(dense))
    record: dict[str, Any] = {"difference": diff.value, "ci95": _list(diff), "n": diff.n}
    if diff.n < 2:
        record["reason"] = f"{diff.n} paired seed(s): an interval needs at least 2"
    if not diff.excludes(0.0):
        return record, UNDECIDED
    sparse_better = (diff.value > 0) == (direction == "maximize")
    return record, LARGE_SPARSE if sparse_better else SMALL_DENSE


def _list(interval: Interval) -> list[float] | None:
    return list(interval.ci95) if interval.ci95 else None


def _ratio_winner(interval: Interval) -> str:
    if not interval.excludes(1.0):
        return UNDECIDED
    return LARGE_SPARSE if interval.value < 1.0 else SMALL_DENSE


def _latency(
    level: int, meta: StudyMeta, sparse: IsoSide, dense: IsoSide
) -> tuple[dict[str, Any], str]:
    measured = meta.pair_latency.get(str(level))
    if not isinstance(measured, dict) or "value" not in measured:
        ratio = (
            sparse.latency_ms / dense.latency_ms
            if dense.latency_ms and math.isfinite(dense.latency_ms)
            else math.nan
        )
        return {
            "value": ratio,
            "ci95": None,
            "rounds": 0,
            "reason": "not measured side by side (the search has not finished, or the target "
            "is remote): the ratio of separate profiles names no winner",
        }, UNDECIDED
    ci = measured.get("ci95")
    interval = Interval(
        value=float(measured["value"]),
        ci95=(float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None,
        n=int(measured.get("rounds", 0)),
    )
    record = {
        "value": interval.value,
        "ci95": _list(interval),
        "rounds": interval.n,
        "method": measured.get("method"),
        "trials": [measured.get("large_sparse_trial"), measured.get("small_dense_trial")],
        "load_per_core": measured.get("load_per_core"),
    }
    load = measured.get("load_per_core")
    if isinstance(load, int | float) and load > BUSY_LOAD:
        record["reason"] = (
            f"the machine was oversubscribed while the pair was timed (load {load:.1f} per "
            "core): its rounds were not independent; run the search command again on a quiet "
            "machine to re-measure"
        )
        return record, UNDECIDED
    return record, _ratio_winner(interval)


def _energy(
    level: int, meta: StudyMeta, sparse: IsoSide, dense: IsoSide
) -> tuple[dict[str, Any], str]:
    measured = meta.pair_latency.get(str(level), {})
    side_by_side = measured.get("energy") if isinstance(measured, dict) else None
    if isinstance(side_by_side, dict) and isinstance(side_by_side.get("ci95"), list):
        low, high = side_by_side["ci95"]
        interval = Interval(
            value=float(side_by_side["value"]),
            ci95=(float(low), float(high)),
            n=int(side_by_side.get("rounds", 0)),
        )
        record = {
            "value": interval.value,
            "ci95": _list(interval),
            "n": interval.n,
            "method": side_by_side.get("method"),
            "side_by_side": True,
        }
        return record, _ratio_winner(interval)
    interval = ratio_of_means(list(sparse.energy_values), list(dense.energy_values))
    record = {"value": interval.value, "ci95": _list(interval), "n": interval.n}
    if interval.n == 0:
        record["reason"] = "energy was not measured on this target"
    elif interval.ci95 is None:
        record["reason"] = "fewer than 2 measured replicates per side"
    return record, _ratio_winner(interval)


def _footprint(level: int, sparse: IsoSide, dense: IsoSide) -> str:
    gap = sparse.footprint_bytes - dense.footprint_bytes
    if abs(gap) <= FOOTPRINT_TIE * level:
        return UNDECIDED
    return LARGE_SPARSE if gap < 0 else SMALL_DENSE


def _row(level: int, pairs: pd.DataFrame, meta: StudyMeta) -> IsoRow:
    at = pairs[pairs["iso_level_bytes"] == level]
    sparse = _side(at[at["seeded"] == LARGE_SPARSE], level)
    dense = _side(at[at["seeded"] == SMALL_DENSE], level)
    winners = dict.fromkeys(_MEASURES, UNDECIDED)
    comparison: dict[str, dict[str, Any]] = {}
    if sparse is None or dense is None:
        missing = "large-sparse" if sparse is None else "small-dense"
        reason = f"no complete {missing} replicate yet"
        comparison = {
            "metric": {"difference": math.nan, "ci95": None, "n": 0, "reason": reason},
            "latency_ratio": {"value": math.nan, "ci95": None, "rounds": 0, "reason": reason},
            "energy_ratio": {"value": math.nan, "ci95": None, "n": 0, "reason": reason},
        }
    else:
        sparse, dense = _compare(level, meta, sparse, dense, comparison, winners)
    return IsoRow(
        level_bytes=level,
        large_sparse=sparse,
        small_dense=dense,
        comparison=comparison,
        winners=winners,
    )


def _compare(
    level: int,
    meta: StudyMeta,
    sparse: IsoSide,
    dense: IsoSide,
    comparison: dict[str, dict[str, Any]],
    winners: dict[str, str],
) -> tuple[IsoSide, IsoSide]:
    """Fill ``comparison`` and ``winners``; return the sides with side-by-side latencies."""
    comparison["metric"], winners["metric"] = _metric(sparse, dense, meta.metric_direction)
    comparison["latency_ratio"], winners["latency_ms"] = _latency(level, meta, sparse, dense)
    comparison["energy_ratio"], winners["energy_mj"] = _energy(level, meta, sparse, dense)
    winners["footprint_bytes"] = _footprint(level, sparse, dense)
    side_by_side = comparison["latency_ratio"]
    if side_by_side.get("rounds"):
        # Each side's latency is the side-by-side median, so the two columns agree with the ratio.
        measured = meta.pair_latency[str(level)]
        sparse = _replace_latency(sparse, measured.get("a_ms"))
        dense = _replace_latency(dense, measured.get("b_ms"))
    return sparse, dense


def _replace_latency(side: IsoSide, value: Any) -> IsoSide:
    if not isinstance(value, int | float):
        return side
    return replace(side, latency_ms=float(value))


def _pair_rows(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    done = (frame["state"] == "COMPLETE") & frame["seeded"].isin((LARGE_SPARSE, SMALL_DENSE))
    rows = frame[done & frame["iso_level_bytes"].notna() & frame["metric"].notna()]
    return rows[np.isfinite(rows["metric"].astype(float))]


def _best(rows: pd.DataFrame, direction: str) -> IsoCandidate | None:
    if rows.empty:
        return None
    ordered = rows.assign(_key=rows["metric"] * (-1.0 if direction == "maximize" else 1.0))
    ordered = ordered.sort_values(
        ["_key", "latency_ms", "footprint_bytes", "number"], na_position="last", kind="stable"
    )
    r = ordered.iloc[0]
    return IsoCandidate(
        trial=int(r["number"]),
        width=float(r["width"]),
        sparsity=float(r["sparsity"]),
        metric=float(r["metric"]),
        latency_ms=float(r["latency_ms"]),
        footprint_bytes=int(r["footprint_bytes"]),
    )


def _best_under_level(frame: pd.DataFrame, meta: StudyMeta) -> tuple[dict[str, Any], ...]:
    rows = candidate_rows(frame, ["metric", "footprint_bytes"])
    seeded = pd.to_numeric(frame["iso_level_bytes"], errors="coerce").dropna()
    if len(seeded):
        levels = sorted({int(v) for v in seeded})
    elif rows.empty:
        levels = []
    else:
        footprints = rows["footprint_bytes"].astype(float)
        levels = sorted({math.ceil(float(np.quantile(footprints, q))) for q in _QUANTILES})
    out = []
    for level in levels:
        fits = rows[rows["footprint_bytes"] <= level]
        sparse = _best(fits[fits["family"] == LARGE_SPARSE], meta.metric_direction)
        dense = _best(fits[fits["family"] == SMALL_DENSE], meta.metric_direction)
        out.append(
            {
                "level_bytes": level,
                LARGE_SPARSE: sparse.to_dict() if sparse else None,
                SMALL_DENSE: dense.to_dict() if dense else None,
            }
        )
    return tuple(out)


def iso_footprint_table(frame: pd.DataFrame, meta: StudyMeta) -> IsoTable:
    """The equal-footprint pairs of the study with their statistics and winners.

    Args:
        frame: The trials frame.
        meta: The study's metadata (metric direction, side-by-side pair latencies).

    Returns:
        One row per seeded level (none for a study without seeded pairs), and the labelled
        best-under-level view.
    """
    pairs = _pair_rows(frame)
    levels = sorted({int(v) for v in pairs["iso_level_bytes"]}) if len(pairs) else []
    return IsoTable(
        metric_name=meta.metric_name,
        metric_direction=meta.metric_direction,
        rows=tuple(_row(level, pairs, meta) for level in levels),
        best_under_level=_best_under_level(frame, meta),
    )
