"""What a prunefront study stores: every study and trial user attribute, declared in one place.

The search writes attributes, and reports and ``status`` read them back, through the key
constants of :class:`TrialKey` and :class:`StudyKey` (plain strings); each key is declared with
the JSON types its value may have and what it means (:data:`TRIAL_ATTRS`, :data:`STUDY_ATTRS`).
Writers store through :func:`set_trial_attrs`, :func:`set_study_attrs` and :func:`trial_attrs`,
which refuse an undeclared key, so the declaration cannot fall behind what studies hold.

Values are JSON-native (numbers, strings, booleans, ``None``, and dicts and lists of them), never
JSON text inside a string, so Optuna's own tools (the dashboard, ``trials_dataframe``) show them
as they are. Earlier versions stored ``measurements``, ``strategies``, ``device`` and
``versions`` as JSON text (the search format did not change: a study may hold both forms);
:func:`read_trial_attrs` reads both.

Trial values are ``[metric, latency_ms, (energy_mj), (footprint_bytes)]`` in the order of the study
attribute ``objectives``; the study's ``directions`` and ``metric_names`` follow the same order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "STUDY_ATTRS",
    "STUDY_CONFIG",
    "STUDY_DEVICE",
    "STUDY_FINAL_LATENCY",
    "STUDY_FORMAT_VERSION",
    "STUDY_METRIC",
    "STUDY_OBJECTIVES",
    "STUDY_PAIR_LATENCY",
    "STUDY_PREFIXES",
    "STUDY_SEARCH_COST",
    "STUDY_WIDTHS",
    "TRIAL_ATTRS",
    "TRIAL_KEYS",
    "AttrSpec",
    "StudyKey",
    "TrialKey",
    "UndeclaredAttributeError",
    "check_study_key",
    "check_trial_key",
    "read_json_attr",
    "read_trial_attrs",
    "set_study_attrs",
    "set_trial_attrs",
    "trial_attrs",
]

_NUMBER = (int, float)


@dataclass(frozen=True)
class AttrSpec:
    """One user attribute: its key, the JSON types its value may have, and what it means.

    Attributes:
        key: The attribute's name, as Optuna stores it.
        types: The types its value may have (``None`` is always allowed: not measured).
        meaning: What it holds, with its unit.
    """

    key: str
    types: tuple[type, ...]
    meaning: str

    @property
    def structured(self) -> bool:
        """Whether the value is a dict or a list (older studies stored it as JSON text)."""
        return dict in self.types or list in self.types

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has one of the declared types (or is ``None``)."""
        return value is None or isinstance(value, self.types)


TRIAL_ATTRS: dict[str, AttrSpec] = {}
"""Every trial user attribute a search writes, by key."""

STUDY_ATTRS: dict[str, AttrSpec] = {}
"""Every study user attribute prunefront writes, by key (see also :data:`STUDY_PREFIXES`)."""

STUDY_PREFIXES: dict[str, AttrSpec] = {}
"""Study user attributes written once per worker or target: the key starts with the prefix."""


def _trial(key: str, types: type | tuple[type, ...], meaning: str) -> str:
    TRIAL_ATTRS[key] = AttrSpec(key, types if isinstance(types, tuple) else (types,), meaning)
    return key


def _study(key: str, types: type | tuple[type, ...], meaning: str, *, prefix: bool = False) -> str:
    spec = AttrSpec(key, types if isinstance(types, tuple) else (types,), meaning)
    (STUDY_PREFIXES if prefix else STUDY_ATTRS)[key] = spec
    return key


class TrialKey:
    """The keys of a trial's user attributes (plain strings, declared in :data:`TRIAL_ATTRS`)."""

    # the candidate, in the user's terms (the sampler's params are width_index and sparsity_u)
    WIDTH = _trial("width", _NUMBER, "width multiplier in (0, 1]; 1.0 is the full model")
    PATTERN = _trial("pattern", str, "sparsity pattern: unstructured, N:M (2:4) or a block")
    SPARSITY = _trial("sparsity", _NUMBER, "final sparsity of the candidate (= sparsity_target)")
    SPARSITY_TARGET = _trial("sparsity_target", _NUMBER, "final sparsity asked for")
    SPARSITY_ACTUAL = _trial(
        "sparsity_actual", _NUMBER, "zeros / elements of the prunable weights after training"
    )
    PARAMS_TOTAL = _trial("params_total", int, "parameters of the model")
    PARAMS_NONZERO = _trial("params_nonzero", int, "nonzero parameters of the trained model")
    FOOTPRINT_BYTES = _trial(
        "footprint_bytes", int, "exact bytes in the budget's format (what the budget constrains)"
    )
    FOOTPRINT_PREDICTED_BYTES = _trial(
        "footprint_predicted_bytes", int, "analytic footprint known before training"
    )
    FOOTPRINT_FORMAT = _trial("footprint_format", str, "storage format of footprint_bytes")
    MAX_BYTES = _trial(
        "max_bytes", int, "the real bytes training had to fit: the budget, or a pair's level"
    )
    FIT_NOTE = _trial(
        "fit_note",
        str,
        "present when training pruned past sparsity_target so the real bytes fit the budget (or "
        "a seeded pair's level): from, to, and the bytes before and after",
    )
    BUDGET_BYTES = _trial("budget_bytes", int, "the footprint budget of the search")
    # a seeded iso-footprint pair
    SEEDED = _trial("seeded", str, "'small-dense' or 'large-sparse' for a seeded pair's side")
    ISO_LEVEL_BYTES = _trial("iso_level_bytes", int, "the footprint level of a seeded pair")
    PAIR_SEED = _trial(
        "pair_seed", int, "the seed a seeded pair's replicate trained with (init and data)"
    )
    REPLICATE = _trial("replicate", int, "0.. the replicate's index among search.pair_seeds")
    # the task metric
    METRIC_NAME = _trial("metric_name", str, "the task metric's name, e.g. accuracy")
    METRIC_VALUE = _trial("metric_value", _NUMBER, "the task metric (None when not finite)")
    METRIC_DIRECTION = _trial("metric_direction", str, "maximize | minimize")
    METRIC_DTYPE = _trial("metric_dtype", str, "the dtype the metric was evaluated in")
    METRIC_FLOAT32 = _trial(
        "metric_float32", _NUMBER, "the metric in float32 when metric_dtype is another"
    )
    # latency (the chosen execution strategy)
    LATENCY_MS = _trial("latency_ms", _NUMBER, "median latency per inference, ms")
    LATENCY_P90_MS = _trial("latency_p90_ms", _NUMBER, "90th percentile latency, ms")
    LATENCY_IQR_MS = _trial("latency_iqr_ms", _NUMBER, "interquartile range of latency, ms")
    LATENCY_KIND = _trial("latency_kind", str, "measured | estimated | predicted | unavailable")
    LATENCY_METHOD = _trial("latency_method", str, "perf_counter | cuda_events | remote:...")
    LATENCY_STRATEGY = _trial(
        "latency_strategy", str, "masked_dense | csr | bsr | semi_structured_2_4 | ..."
    )
    STRATEGIES = _trial(
        "strategies", list, "every execution strategy tried: {name, latency_ms, ...} dicts"
    )
    # energy
    ENERGY_MJ = _trial(
        "energy_mj", _NUMBER, "energy per inference, mJ (net where an idle baseline exists)"
    )
    ENERGY_KIND = _trial("energy_kind", str, "measured | estimated | predicted | unavailable")
    ENERGY_METHOD = _trial("energy_method", str, "nvml_energy_counter | rapl | ...")
    ENERGY_REASON = _trial("energy_reason", str, "why there is no energy value")
    # memory and files
    PEAK_MEMORY_BYTES = _trial("peak_memory_bytes", _NUMBER, "peak runtime memory, bytes")
    FILE_BYTES = _trial("file_bytes", int, "size of the saved sparse weights, bytes")
    ARTIFACT = _trial("artifact", str, "the saved sparse weights, relative to the run folder")
    # provenance
    MEASUREMENTS = _trial("measurements", list, "every Measurement.to_dict() record")
    DEVICE = _trial("device", dict, "the profiling device's description")
    TRAIN_SECONDS = _trial("train_seconds", _NUMBER, "wall time of training, s")
    PROFILE_SECONDS = _trial("profile_seconds", _NUMBER, "wall time of profiling, s")
    PHASE = _trial(
        "phase", str, "where the trial is (training N%, evaluating, profiling); the last reached"
    )
    GATE_WAIT_SECONDS = _trial(
        "gate_wait_seconds",
        _NUMBER,
        "of train_seconds, time spent waiting while another local worker profiled",
    )
    SEED = _trial("seed", int, "the training seed (initialisation and data order)")
    TRAIN_DEVICE = _trial("train_device", str, "where the candidate trained (search.train_device)")
    DUPLICATE_OF = _trial(
        "duplicate_of", int, "the earlier trial of the same candidate whose results this one took"
    )
    DUPLICATE_FREE = _trial(
        "duplicate_free", bool, "the copy does not count against the trial budget"
    )
    WAITED_FOR_TWIN = _trial(
        "waited_for_twin", int, "the running trial of the same candidate this one waited for"
    )
    HOST = _trial("host", str, "the worker's host name")
    PID = _trial("pid", int, "the worker's process id")
    VERSIONS = _trial("versions", dict, "library name -> version")
    WARM_START = _trial("warm_start", str, "hit | miss | off")
    # outcome
    FAIL_REASON = _trial("fail_reason", str, "why the trial failed (set on FAIL)")
    PRUNED_REASON = _trial("pruned_reason", str, "why early stopping stopped the trial")
    RETRY_OF = _trial("retry_of", int, "the trial this one retries after its worker died")
    RETRY_COUNT = _trial("retry_count", int, "how many times this point has been retried")
    EXPLORES_AFTER = _trial(
        "explores_after",
        int,
        "drawn at random, untrained, after that trial's sampler draw repeated a trained candidate",
    )


class StudyKey:
    """The keys of a study's user attributes (declared in :data:`STUDY_ATTRS`)."""

    FORMAT_VERSION = _study("prunefront_format", int, "the search format (SEARCH_FORMAT)")
    CONFIG = _study("prunefront_config", dict, "RunConfig.to_dict() of the creating run")
    OBJECTIVES = _study(
        "objectives", list, 'objective names in value order, e.g. ["metric", "latency_ms"]'
    )
    WIDTHS = _study("widths", list, "the ascending widths that the param width_index counts")
    METRIC = _study("metric", dict, '{"name": "accuracy", "direction": "maximize"}')
    DEVICE = _study("device", dict, "the target's description (describe_device / agent info)")
    FINAL_LATENCY = _study(
        "final_latency",
        dict,
        "the final front re-measured side by side; trials: {number: {latency_ms, ci95_ms, "
        "strategy, method, samples, first_latency_ms}}",
    )
    PAIR_LATENCY = _study(
        "pair_latency",
        dict,
        "level_bytes -> the pair's latency ratio large-sparse / small-dense measured side by "
        "side: {value, ci95, rounds, a_ms, b_ms, method, settled, ...}",
    )
    SEARCH_COST = _study(
        "search_cost",
        dict,
        "one 'search_cost:<host:pid>:<start>' record of its own cost per worker run",
        prefix=True,
    )
    TARGET = _study(
        "target",
        dict,
        "'target:<name>' and 'target:<name>:trial:<number>': measurements on further targets "
        "(prunefront reprofile, see studies._targets)",
        prefix=True,
    )


# The names earlier versions exported; the same strings as StudyKey's.
STUDY_FORMAT_VERSION = StudyKey.FORMAT_VERSION
STUDY_CONFIG = StudyKey.CONFIG
STUDY_OBJECTIVES = StudyKey.OBJECTIVES
STUDY_WIDTHS = StudyKey.WIDTHS
STUDY_METRIC = StudyKey.METRIC
STUDY_DEVICE = StudyKey.DEVICE
STUDY_FINAL_LATENCY = StudyKey.FINAL_LATENCY
STUDY_PAIR_LATENCY = StudyKey.PAIR_LATENCY
STUDY_SEARCH_COST = StudyKey.SEARCH_COST

TRIAL_KEYS: dict[str, str] = {key: spec.meaning for key, spec in TRIAL_ATTRS.items()}
"""Trial attribute -> its meaning (the declaration without the types)."""


class UndeclaredAttributeError(KeyError):
    """A writer used a user attribute key that this module does not declare (a bug)."""


def check_trial_key(key: str) -> str:
    """``key`` if :data:`TRIAL_ATTRS` declares it.

    Raises:
        UndeclaredAttributeError: It does not.
    """
    if key not in TRIAL_ATTRS:
        raise UndeclaredAttributeError(f"trial attribute {key!r} is not declared in TrialKey")
    return key


def check_study_key(key: str) -> str:
    """``key`` if :data:`STUDY_ATTRS` declares it or it starts with a declared prefix + ``:``.

    Raises:
        UndeclaredAttributeError: It does not.
    """
    if key in STUDY_ATTRS or (":" in key and key.split(":", 1)[0] in STUDY_PREFIXES):
        return key
    raise UndeclaredAttributeError(f"study attribute {key!r} is not declared in StudyKey")


class _AttrWriter(Protocol):
    def set_user_attr(self, key: str, value: Any) -> None: ...


def set_trial_attrs(trial: _AttrWriter, attrs: Mapping[str, Any]) -> None:
    """Store ``attrs`` as user attributes of ``trial`` (an ``optuna.Trial``).

    Raises:
        UndeclaredAttributeError: A key is not declared (checked before anything is stored).
    """
    for key in attrs:
        check_trial_key(key)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def set_study_attrs(study: _AttrWriter, attrs: Mapping[str, Any]) -> None:
    """Store ``attrs`` as user attributes of ``study`` (an ``optuna.Study``).

    Raises:
        UndeclaredAttributeError: A key is not declared (checked before anything is stored).
    """
    for key in attrs:
        check_study_key(key)
    for key, value in attrs.items():
        study.set_user_attr(key, value)


def trial_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` as a dict once every key is declared (for ``enqueue_trial`` and storages).

    Raises:
        UndeclaredAttributeError: A key is not declared.
    """
    return {check_trial_key(key): value for key, value in attrs.items()}


def read_json_attr(value: Any) -> Any:
    """A dict or list attribute as stored now, also from an older study's JSON text."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, dict | list):
            return decoded
    return value


def read_trial_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's user attributes with every dict or list attribute JSON-native (any version)."""
    return {
        key: read_json_attr(value) if key in TRIAL_ATTRS and TRIAL_ATTRS[key].structured else value
        for key, value in attrs.items()
    }
