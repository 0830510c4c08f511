"""Studies as data: what a prunefront study stores, and opening one for reading.

This package is light (no torch): ``status``, ``report`` and ``select`` read studies through it,
and the search writes them with the keys of ``_schema``.
"""

from __future__ import annotations

from prunefront.studies._journal import RepairingJournalBackend
from prunefront.studies._load import (
    JOURNAL_NAME,
    mask_url,
    open_storage,
    open_study,
    root_message,
)
from prunefront.studies._schema import (
    STUDY_CONFIG,
    STUDY_DEVICE,
    STUDY_FINAL_LATENCY,
    STUDY_FORMAT_VERSION,
    STUDY_METRIC,
    STUDY_OBJECTIVES,
    STUDY_PAIR_LATENCY,
    STUDY_SEARCH_COST,
    STUDY_WIDTHS,
    TRIAL_KEYS,
)
from prunefront.studies._targets import (
    SEARCH_TARGET,
    TargetProfile,
    TargetRecord,
    check_target_name,
    profile_key,
    target_key,
    target_profiles,
    target_records,
)

__all__ = [
    "JOURNAL_NAME",
    "SEARCH_TARGET",
    "STUDY_CONFIG",
    "STUDY_DEVICE",
    "STUDY_FINAL_LATENCY",
    "STUDY_FORMAT_VERSION",
    "STUDY_METRIC",
    "STUDY_OBJECTIVES",
    "STUDY_PAIR_LATENCY",
    "STUDY_SEARCH_COST",
    "STUDY_WIDTHS",
    "TRIAL_KEYS",
    "RepairingJournalBackend",
    "TargetProfile",
    "TargetRecord",
    "check_target_name",
    "mask_url",
    "open_storage",
    "open_study",
    "profile_key",
    "root_message",
    "target_key",
    "target_profiles",
    "target_records",
]
