"""The iso-footprint table: the paper's Table 6 for the user's own model.

At each footprint level, the best large-sparse candidate and the best small-dense candidate whose
footprint fits the level, side by side, with the winner on each measure. Levels are the seeded
pairs' ``iso_level_bytes`` when the study has them, else quantiles of the measured footprints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prunefront.reports._frame import LARGE_SPARSE, SMALL_DENSE, StudyMeta
from prunefront.reports._pareto import candidate_rows

__all__ = ["IsoCandidate", "IsoRow", "IsoTable", "iso_footprint_table"]

_QUANTILES = (0.25, 0.5, 0.75, 1.0)
# Each measure, whether larger is better for it (metric: from the study).
_MEASURES = ("metric", "latency_ms", "energy_mj", "footprint_bytes")


@dataclass(frozen=True, kw_only=True)
class IsoCandidate:
    """One side of an iso-footprint row (units in the names; NaN where not measured)."""

    trial: int
    width: float
    sparsity: float
    pattern: str
    metric: float
    latency_ms: float
    energy_mj: float
    footprint_bytes: int
    params_nonzero: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class IsoRow:
    """The best of each family within ``level_bytes``, and who wins on each measure.

    Attributes:
        level_bytes: The footprint level (candidates have ``footprint_bytes <= level_bytes``).
        large_sparse: The best large-sparse candidate (best metric), or None.
        small_dense: The best small-dense candidate, or None.
        winners: Per measure (``metric``, ``latency_ms``, ``energy_mj``, ``footprint_bytes``):
            ``"large-sparse"``, ``"small-dense"``, ``"tie"``, or None when a side or the value
            is missing.
    """

    level_bytes: int
    large_sparse: IsoCandidate | None
    small_dense: IsoCandidate | None
    winners: dict[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "level_bytes": self.level_bytes,
            LARGE_SPARSE: self.large_sparse.to_dict() if self.large_sparse else None,
            SMALL_DENSE: self.small_dense.to_dict() if self.small_dense else None,
            "winners": dict(self.winners),
        }


@dataclass(frozen=True, kw_only=True)
class IsoTable:
    """The iso-footprint comparison.

    Attributes:
        levels_from: ``"seeded"`` (the seeded pairs' levels) or ``"quantiles"`` of footprint.
        metric_name: The task metric's name.
        metric_direction: Its direction (the metric winner is the better one in it).
        rows: One row per level, smallest level first.
    """

    levels_from: str
    metric_name: str
    metric_direction: str
    rows: tuple[IsoRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "levels_from": self.levels_from,
            "metric": {"name": self.metric_name, "direction": self.metric_direction},
            "rows": [r.to_dict() for r in self.rows],
        }


def _levels(frame: pd.DataFrame, rows: pd.DataFrame) -> tuple[str, list[int]]:
    seeded = pd.to_numeric(frame["iso_level_bytes"], errors="coerce").dropna()
    if len(seeded):
        return "seeded", sorted({int(v) for v in seeded})
    if rows.empty:
        return "quantiles", []
    footprints = rows["footprint_bytes"].astype(float)
    levels = {math.ceil(float(np.quantile(footprints, q))) for q in _QUANTILES}
    return "quantiles", sorted(levels)


def _best(rows: pd.DataFrame, direction: str) -> IsoCandidate | None:
    if rows.empty:
        return None
    # Best metric; ties go to the faster, then the smaller, then the earlier trial.
    ordered = rows.assign(_key=rows["metric"] * (-1.0 if direction == "maximize" else 1.0))
    ordered = ordered.sort_values(
        ["_key", "latency_ms", "footprint_bytes", "number"], na_position="last", kind="stable"
    )
    r = ordered.iloc[0]
    return IsoCandidate(
        trial=int(r["number"]),
        width=float(r["width"]),
        sparsity=float(r["sparsity"]),
        pattern=str(r["pattern"]) if isinstance(r["pattern"], str) else "",
        metric=float(r["metric"]),
        latency_ms=float(r["latency_ms"]),
        energy_mj=float(r["energy_mj"]),
        footprint_bytes=int(r["footprint_bytes"]),
        params_nonzero=float(r["params_nonzero"]),
    )


def _winner(sparse: float, dense: float, larger_is_better: bool) -> str | None:
    if not (math.isfinite(sparse) and math.isfinite(dense)):
        return None
    if sparse == dense:
        return "tie"
    sparse_better = sparse > dense if larger_is_better else sparse < dense
    return LARGE_SPARSE if sparse_better else SMALL_DENSE


def _winners(
    sparse: IsoCandidate | None, dense: IsoCandidate | None, direction: str
) -> dict[str, str | None]:
    if sparse is None or dense is None:
        return dict.fromkeys(_MEASURES)
    return {
        m: _winner(
            float(getattr(sparse, m)),
            float(getattr(dense, m)),
            m == "metric" and direction == "maximize",
        )
        for m in _MEASURES
    }


def iso_footprint_table(frame: pd.DataFrame, meta: StudyMeta) -> IsoTable:
    """Build the iso-footprint table from feasible COMPLETE trials with a metric and bytes.

    Args:
        frame: The trials frame.
        meta: The study's metadata.

    Returns:
        The table (no rows when no trial has a metric and a footprint).
    """
    rows = candidate_rows(frame, ["metric", "footprint_bytes"])
    levels_from, levels = _levels(frame, rows)
    table: list[IsoRow] = []
    for level in levels:
        fits = rows[rows["footprint_bytes"] <= level]
        sparse = _best(fits[fits["family"] == LARGE_SPARSE], meta.metric_direction)
        dense = _best(fits[fits["family"] == SMALL_DENSE], meta.metric_direction)
        table.append(
            IsoRow(
                level_bytes=level,
                large_sparse=sparse,
                small_dense=dense,
                winners=_winners(sparse, dense, meta.metric_direction),
            )
        )
    return IsoTable(
        levels_from=levels_from,
        metric_name=meta.metric_name,
        metric_direction=meta.metric_direction,
        rows=tuple(table),
    )
