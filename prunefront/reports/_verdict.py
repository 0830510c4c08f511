"""The answer first: per level, who wins on accuracy, latency and energy, in words.

Built from the iso-footprint table (data), used by ``report.html``'s opening paragraph, by
``report``'s standard output and as ``summary.json["verdict"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from prunefront.reports._iso import UNDECIDED, IsoRow, IsoTable

__all__ = ["Verdict", "verdict"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The verdict: one sentence per level, and the per-level winners as data.

    Attributes:
        lines: One sentence per level (or one saying why there is no verdict yet).
        levels: Per level: ``level_bytes``, ``winners`` and ``seeds`` (paired seeds).
    """

    lines: tuple[str, ...]
    levels: tuple[dict[str, Any], ...]

    @property
    def text(self) -> str:
        """All lines as one paragraph."""
        return " ".join(self.lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {"text": self.text, "lines": list(self.lines), "levels": list(self.levels)}


def _num(value: Any, digits: int = 4) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _interval(ci: Any, digits: int = 3) -> str:
    if not isinstance(ci, list) or len(ci) != 2:
        return "no interval"
    return f"95 % CI [{_num(ci[0], digits)}, {_num(ci[1], digits)}]"


def _metric_words(row: IsoRow, metric: str) -> str:
    m = row.comparison["metric"]
    n = m.get("n", 0)
    winner = row.winners["metric"]
    diff = f"difference {_num(m.get('difference'))} ({_interval(m.get('ci95'))}, {n} seeds)"
    if winner == UNDECIDED:
        why = m.get("reason") or "the interval includes 0"
        return f"{metric}: undecided — raise search.pair_seeds ({diff}; {why})"
    return f"{metric}: {winner} wins ({diff})"


def _ratio_words(record: dict[str, Any], winner: str, what: str, count: str) -> str:
    if winner == UNDECIDED:
        why = record.get("reason") or "the interval includes 1"
        value = record.get("value")
        shown = (
            ""
            if not isinstance(value, int | float) or math.isnan(value)
            else (f"ratio {_num(value, 3)}, {_interval(record.get('ci95'))}; ")
        )
        return f"{what}: undecided ({shown}{why})"
    rounds = record.get(count, 0)
    return (
        f"{what}: {winner} wins (large-sparse / small-dense = {_num(record.get('value'), 3)}, "
        f"{_interval(record.get('ci95'))}, {rounds} {'rounds' if count == 'rounds' else 'seeds'})"
    )


def _sentence(row: IsoRow, metric: str) -> str:
    s, d = row.large_sparse, row.small_dense
    if s is None or d is None:
        reason = row.comparison["metric"].get("reason", "a side is missing")
        return f"At {row.level_bytes:,} B: no verdict yet ({reason})."
    head = (
        f"At {row.level_bytes:,} B (width {d.width:g} dense, {d.footprint_bytes:,} B, vs width "
        f"{s.width:g} at {s.sparsity:.1%} sparsity, {s.footprint_bytes:,} B)"
    )
    parts = [
        _metric_words(row, metric),
        _ratio_words(
            row.comparison["latency_ratio"], row.winners["latency_ms"], "latency", "rounds"
        ),
        _ratio_words(row.comparison["energy_ratio"], row.winners["energy_mj"], "energy", "n"),
    ]
    return f"{head}: " + "; ".join(parts) + "."


def verdict(iso: IsoTable) -> Verdict:
    """The verdict of an iso-footprint table."""
    if not iso.rows:
        return Verdict(
            lines=(
                "No verdict: the study has no complete equal-footprint pair (space.iso_levels "
                "= 0, fewer than two widths fit the budget, or the pairs have not run yet).",
            ),
            levels=(),
        )
    lines = tuple(_sentence(row, iso.metric_name) for row in iso.rows)
    levels = tuple(
        {
            "level_bytes": row.level_bytes,
            "winners": dict(row.winners),
            "seeds": row.comparison["metric"].get("n", 0),
        }
        for row in iso.rows
    )
    return Verdict(lines=lines, levels=levels)
