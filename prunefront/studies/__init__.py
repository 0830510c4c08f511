"""Studies as data: what a prunefront study stores, and opening one for reading.

This package is light (no torch): ``status``, ``report`` and ``select`` read studies through it,
and the search writes them with the keys of ``_schema``.
"""

from __future__ import annotations

from prunefront.studies._load import JOURNAL_NAME, mask_url, open_storage, open_study
from prunefront.studies._schema import (
    STUDY_CONFIG,
    STUDY_DEVICE,
    STUDY_FINAL_LATENCY,
    STUDY_FORMAT_VERSION,
    STUDY_METRIC,
    STUDY_OBJECTIVES,
    STUDY_PAIR_LATENCY,
    STUDY_SEARCH_COST,
    TRIAL_KEYS,
)

__all__ = [
    "JOURNAL_NAME",
    "STUDY_CONFIG",
    "STUDY_DEVICE",
    "STUDY_FINAL_LATENCY",
    "STUDY_FORMAT_VERSION",
    "STUDY_METRIC",
    "STUDY_OBJECTIVES",
    "STUDY_PAIR_LATENCY",
    "STUDY_SEARCH_COST",
    "TRIAL_KEYS",
    "mask_url",
    "open_storage",
    "open_study",
]
