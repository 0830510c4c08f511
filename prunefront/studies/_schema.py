"""What a prunefront study stores: the keys of study and trial attributes, in one place.

Reports, ``status``, ``select`` and ``export`` read studies through these names only. Every value
is a plain number or string (JSON text for nested records), so a study can be read back without
prunefront's classes and across versions.

Trial values are ``[metric, latency_ms, (energy_mj), (footprint_bytes)]`` in the order of the study
attribute ``objectives``; the study's ``directions`` follow the same order.
"""

from __future__ import annotations

__all__ = [
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
]

# study user attributes
STUDY_FORMAT_VERSION = "prunefront_format"  # int: the search format (search._study.SEARCH_FORMAT)
STUDY_CONFIG = "prunefront_config"  # dict: RunConfig.to_dict() of the run that created the study
STUDY_OBJECTIVES = "objectives"  # list[str]: e.g. ["metric", "latency_ms", "energy_mj"]
STUDY_WIDTHS = "widths"  # list[float]: the ascending widths that ``width_index`` counts
STUDY_METRIC = "metric"  # dict: {"name": "accuracy", "direction": "maximize"}
STUDY_DEVICE = "device"  # dict: the target's description (describe_device / agent info)
STUDY_FINAL_LATENCY = "final_latency"  # dict: the final front re-measured side by side, with
# "trials": {"<number>": {"latency_ms", "ci95_ms": [lo, hi], "strategy", "method", "samples"}}
STUDY_PAIR_LATENCY = "pair_latency"  # dict: "<level_bytes>" -> the pair's latency ratio
# large-sparse / small-dense measured side by side: {"value", "ci95", "rounds", "a_ms", "b_ms",
# "method", "settled", "large_sparse_trial", "small_dense_trial"}
STUDY_SEARCH_COST = (
    "search_cost"  # prefix: one "search_cost:<host:pid>:<start>" dict per worker run
)

TRIAL_KEYS: dict[str, str] = {
    # the candidate
    "width": "float, width multiplier",
    "pattern": "str, sparsity pattern",
    "sparsity_target": "float, final sparsity asked for",
    "sparsity_actual": "float, zeros / elements of the prunable weights",
    "params_total": "int",
    "params_nonzero": "int",
    "footprint_bytes": "int, exact bytes in the budget's format (what the budget constrains)",
    "footprint_predicted_bytes": "int, analytic footprint known before training",
    "footprint_format": "str",
    "max_bytes": "int, the real bytes training had to fit: the budget, or a seeded pair's level",
    "fit_note": "str, present when training pruned past sparsity_target so the real bytes fit "
    "the budget (or a seeded pair's level): from, to, and the bytes before and after",
    "footprint_bytes_by_format": "JSON dict format -> bytes",
    "budget_bytes": "int",
    "seeded": "str, 'small-dense' or 'large-sparse' for the iso-footprint pairs (absent otherwise)",
    "iso_level_bytes": "int, the footprint level of a seeded pair",
    "pair_seed": "int, the seed a seeded pair's replicate trained with (initialisation and data)",
    "replicate": "int, 0.. the replicate's index among search.pair_seeds",
    # the task metric
    "metric_name": "str",
    "metric_value": "float",
    "metric_direction": "str, maximize | minimize",
    # latency (the chosen execution strategy)
    "latency_ms": "float, median",
    "latency_p90_ms": "float",
    "latency_iqr_ms": "float",
    "latency_kind": "str, measured | estimated | predicted | unavailable",
    "latency_method": "str, perf_counter | cuda_events | remote:... ",
    "latency_strategy": "str, masked_dense | csr | bsr | semi_structured_2_4",
    "strategies": "JSON list of {name, latency_ms, matches_reference, applicable, reason}",
    # energy
    "energy_mj": "float per inference (net when an idle baseline exists) or absent",
    "energy_kind": "str",
    "energy_method": "str",
    "energy_reason": "str, why unavailable",
    # memory and files
    "peak_memory_bytes": "int",
    "file_bytes": "int, size of the saved sparse weights",
    "artifact": "str, path of the saved sparse weights, relative to the run folder",
    # provenance
    "measurements": "JSON list of Measurement.to_dict() records",
    "device": "str, short description of the profiling device",
    "train_seconds": "float",
    "profile_seconds": "float",
    "gate_wait_seconds": "float, of train_seconds spent waiting while another local worker "
    "profiled (several workers only)",
    "seed": "int",
    "train_device": "str, where the candidate trained (search.train_device)",
    "duplicate_of": "int, the earlier trial of the same candidate whose results this one took "
    "(it trained nothing)",
    "duplicate_free": "bool, the copy does not count against the trial budget",
    "host": "str",
    "pid": "int",
    "versions": "JSON dict of library versions",
    "warm_start": "str, 'hit' | 'miss' | 'off'",
    # outcome
    "fail_reason": "str, set on FAIL",
    "pruned_reason": "str, set when early stopping stopped the trial",
    "retry_of": "int, trial number this one retries after its worker died",
}
