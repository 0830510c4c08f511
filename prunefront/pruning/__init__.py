"""Gradual magnitude pruning (Zhu & Gupta 2017): schedule, masks, pruner and strip."""

from __future__ import annotations

from prunefront.pruning._masks import global_unstructured_masks, magnitude_mask, zeros_for
from prunefront.pruning._patterns import (
    BlockPattern,
    NMPattern,
    Pattern,
    UnstructuredPattern,
    parse_pattern,
)
from prunefront.pruning._pruner import (
    GradualPruner,
    LayerSparsity,
    magnitude_prune,
    sparsity_summary,
    strip,
)
from prunefront.pruning._schedule import PolynomialDecay, SchedulePoint, default_schedule
from prunefront.pruning._targets import (
    PrunableTarget,
    find_prunable,
    matrix_shape,
    nm_matrix_shape,
)

__all__ = [
    "BlockPattern",
    "GradualPruner",
    "LayerSparsity",
    "NMPattern",
    "Pattern",
    "PolynomialDecay",
    "PrunableTarget",
    "SchedulePoint",
    "UnstructuredPattern",
    "default_schedule",
    "find_prunable",
    "global_unstructured_masks",
    "magnitude_mask",
    "magnitude_prune",
    "matrix_shape",
    "nm_matrix_shape",
    "parse_pattern",
    "sparsity_summary",
    "strip",
    "zeros_for",
]
