"""``search.toml`` -> a frozen, validated ``RunConfig``; every error names the key and the range.

A run configuration has six sections: ``[task]``, ``[space]`` (with ``[space.schedule]``),
``[budget]``, ``[target]``, ``[objectives]`` and ``[search]``. Unknown keys are refused (a typo
must not silently fall back to a default), and every record round-trips through ``to_dict``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from prunefront.errors import PrunefrontError
from prunefront.pruning import parse_pattern
from prunefront.spaces import parse_dtype, parse_format

__all__ = [
    "OBJECTIVES",
    "SAMPLERS",
    "BudgetConfig",
    "ObjectivesConfig",
    "RunConfig",
    "ScheduleConfig",
    "SearchConfig",
    "SpaceConfig",
    "TargetConfig",
    "TaskConfig",
    "load_config",
]

OBJECTIVES = ("metric", "latency_ms", "energy_mj", "footprint_bytes")
SAMPLERS = ("auto", "tpe", "gp", "random", "nsga2", "grid")
ENERGY_POLICIES = ("auto", "off", "estimate")
DEFAULT_WIDTHS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)


def _fail(key: str, message: str) -> PrunefrontError:
    return PrunefrontError(f"{key}: {message}")


def _number(
    key: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    kind = "an integer" if integer else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and not isinstance(value, int))
    ):
        raise _fail(key, f"must be {kind}, got {value!r}")
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise _fail(key, f"must be in {interval}, got {value}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise _fail(key, f"must be in {interval}, got {value}")
    return value


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"must be a non-empty string, got {value!r}")
    return value


def _check_keys(section: str, data: Mapping[str, Any], record: type) -> None:
    valid = {f.name for f in fields(record)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise _fail(
            f"{section}.{unknown[0]}", f"unknown key; valid keys: {', '.join(sorted(valid))}"
        )


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _fail(name, f"must be a table, got {value!r}")
    return dict(value)


@dataclass(frozen=True, kw_only=True)
class TaskConfig:
    """``[task]``: which model family; ``options`` go to a built-in task's constructor."""

    ref: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _string("task.ref", self.ref)
        if not isinstance(self.options, dict):
            raise _fail("task.options", f"must be a table, got {self.options!r}")


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """``[space.schedule]``: when pruning runs within each candidate's training."""

    begin_frac: float = 1 / 3
    end_frac: float = 3 / 4
    updates: int = 20
    scope: str = "layer"
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _number("space.schedule.begin_frac", self.begin_frac, lo=0.0, hi=1.0)
        _number("space.schedule.end_frac", self.end_frac, lo=self.begin_frac, hi=1.0)
        _number("space.schedule.updates", self.updates, lo=1, integer=True)
        _choice("space.schedule.scope", self.scope, ("layer", "global"))
        object.__setattr__(self, "exclude", tuple(self.exclude))


@dataclass(frozen=True, kw_only=True)
class SpaceConfig:
    """``[space]``: width multipliers, the sparsity range and the sparsity patterns.

    ``iso_levels`` equal-footprint pairs are seeded: each level is the dense footprint of a
    narrower width, compared with ``iso_large_width`` (default: the widest width) pruned to the
    same bytes.
    """

    widths: tuple[float, ...] = DEFAULT_WIDTHS
    sparsity_min: float = 0.0
    sparsity_max: float = 0.98
    patterns: tuple[str, ...] = ("unstructured",)
    iso_levels: int = 3
    iso_large_width: float | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def __post_init__(self) -> None:
        if not self.widths:
            raise _fail("space.widths", "must list at least one width in (0, 1]")
        for w in self.widths:
            _number("space.widths", w, lo=0.0, hi=1.0, lo_open=True)
        object.__setattr__(self, "widths", tuple(sorted(set(float(w) for w in self.widths))))
        _number("space.sparsity_min", self.sparsity_min, lo=0.0, hi=1.0, hi_open=True)
        _number("space.sparsity_max", self.sparsity_max, lo=self.sparsity_min, hi=0.999)
        if not self.patterns:
            raise _fail("space.patterns", "must list at least one pattern")
        try:
            parsed = tuple(str(parse_pattern(p)) for p in self.patterns)
        except PrunefrontError as error:
            raise _fail("space.patterns", str(error)) from None
        object.__setattr__(self, "patterns", parsed)
        _number("space.iso_levels", self.iso_levels, lo=0, hi=10, integer=True)
        if self.iso_large_width is not None:
            _number("space.iso_large_width", self.iso_large_width, lo=0.0, hi=1.0, lo_open=True)
            if float(self.iso_large_width) not in self.widths:
                raise _fail(
                    "space.iso_large_width",
                    f"must be one of space.widths {list(self.widths)}, got {self.iso_large_width}",
                )
            if self.iso_levels > 0 and float(self.iso_large_width) <= self.widths[0]:
                raise _fail(
                    "space.iso_large_width",
                    f"{self.iso_large_width} is not wider than any level's width (the levels are "
                    f"the dense footprints of narrower widths of {list(self.widths)})",
                )


@dataclass(frozen=True, kw_only=True)
class BudgetConfig:
    """``[budget]``: the hard memory-footprint constraint."""

    bytes: int | None = None
    format: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.bytes is not None:
            _number("budget.bytes", self.bytes, lo=1, integer=True)
        try:
            parse_format(self.format)
        except PrunefrontError as error:
            raise _fail("budget.format", str(error)) from None
        if self.format.startswith("paper"):
            raise _fail("budget.format", "'paper' is an accounting, not a storable format")
        try:
            parse_dtype(self.dtype)
        except PrunefrontError as error:
            raise _fail("budget.dtype", str(error)) from None


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """``[target]``: where and how candidates are profiled.

    ``token_file`` is the agent's token for ``remote://`` targets; ``adb_binary`` the on-device
    benchmark binary (``onnxruntime_perf_test`` or ``benchmark_model``) for ``adb://`` targets.
    ``latency_min_time_s`` keeps timing at least that long even once the spread has settled
    (robust medians on a busy machine); ``latency_max_time_s`` caps one strategy's timing.
    """

    device: str = "cpu"
    batch_size: int = 1
    threads: int = 1
    energy: str = "auto"
    token_file: str | None = None
    adb_binary: str | None = None
    latency_min_time_s: float = 1.0
    latency_max_time_s: float = 10.0

    def __post_init__(self) -> None:
        _number("target.latency_min_time_s", self.latency_min_time_s, lo=0.0)
        _number(
            "target.latency_max_time_s",
            self.latency_max_time_s,
            lo=self.latency_min_time_s,
            lo_open=True,
        )
        dev = _string("target.device", self.device)
        if not (
            dev == "cpu"
            or dev == "cuda"
            or (dev.startswith("cuda:") and dev[5:].isdigit())
            or dev.startswith(("remote://", "adb://"))
        ):
            raise _fail(
                "target.device",
                f"must be cpu, cuda[:N], remote://host:port or adb://SERIAL, got {dev!r}",
            )
        _number("target.batch_size", self.batch_size, lo=1, integer=True)
        _number("target.threads", self.threads, lo=1, integer=True)
        _choice("target.energy", self.energy, ENERGY_POLICIES)
        if dev.startswith("adb://") and not self.adb_binary:
            raise _fail("target.adb_binary", "an adb:// target needs the benchmark binary's path")


@dataclass(frozen=True, kw_only=True)
class ObjectivesConfig:
    """``[objectives]``: what the front trades off; ``energy_mj`` joins when measured."""

    names: tuple[str, ...] = ("metric", "latency_ms")
    energy: str = "auto"

    def __post_init__(self) -> None:
        if not self.names or self.names[0] != "metric":
            raise _fail("objectives.names", "must start with 'metric' (the task metric)")
        for name in self.names:
            _choice("objectives.names", name, OBJECTIVES)
        if len(set(self.names)) != len(self.names):
            raise _fail("objectives.names", f"must not repeat a name, got {list(self.names)}")
        object.__setattr__(self, "names", tuple(self.names))
        _choice("objectives.energy", self.energy, ("auto", "always", "never"))


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """``[search]``: budget of trials, sampler, storage and workers.

    ``pair_seeds`` trains each side of every seeded iso-footprint pair with that many seeds
    (``seed``, ``seed + 1``, ...; a seed changes the initialisation and the data order). Those
    trials count against ``trials``; the sampler has the rest.
    """

    trials: int = 30
    timeout_s: float | None = None
    sampler: str = "auto"
    grid_sparsities: int = 8
    seed: int = 0
    storage: str | None = None
    study_name: str | None = None
    run_dir: str | None = None
    workers: int = 1
    train_device: str = "cpu"
    early_stopping: bool = False
    early_stopping_margin: float = 0.02
    warm_start: bool = True
    pair_seeds: int = 3

    def __post_init__(self) -> None:
        _number("search.trials", self.trials, lo=1, integer=True)
        if self.timeout_s is not None:
            _number("search.timeout_s", self.timeout_s, lo=0.0, lo_open=True)
        _choice("search.sampler", self.sampler, SAMPLERS)
        _number("search.grid_sparsities", self.grid_sparsities, lo=2, hi=100, integer=True)
        _number("search.seed", self.seed, lo=0, integer=True)
        if self.storage is not None:
            url = _string("search.storage", self.storage)
            if not url.startswith(("sqlite:///", "postgresql://", "postgresql+", "journal:")):
                raise _fail(
                    "search.storage",
                    "must be sqlite:///PATH, postgresql://..., or journal:PATH "
                    "(default: a journal file in the run folder)",
                )
        if self.study_name is not None:
            _string("search.study_name", self.study_name)
        _number("search.workers", self.workers, lo=1, hi=64, integer=True)
        _number("search.early_stopping_margin", self.early_stopping_margin, lo=0.0)
        _number("search.pair_seeds", self.pair_seeds, lo=1, hi=100, integer=True)
        if self.train_device != "cpu" and not self.train_device.startswith("cuda"):
            raise _fail(
                "search.train_device", f"must be cpu or cuda[:N], got {self.train_device!r}"
            )
        for key in ("early_stopping", "warm_start"):
            if not isinstance(getattr(self, key), bool):
                raise _fail(f"search.{key}", f"must be true or false, got {getattr(self, key)!r}")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole ``search.toml``, validated."""

    task: TaskConfig
    space: SpaceConfig = field(default_factory=SpaceConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    objectives: ObjectivesConfig = field(default_factory=ObjectivesConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), the inverse of ``from_dict``."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Validate ``data`` (a parsed ``search.toml``)."""
        _check_keys("config", data, cls)
        if "task" not in data:
            raise _fail("task", "missing section [task] (with ref = '<task name or module:attr>')")
        task = _section(data, "task")
        _check_keys("task", task, TaskConfig)
        if "ref" not in task:
            raise _fail("task.ref", "missing (a built-in task name or package.module:attr)")
        space = _section(data, "space")
        _check_keys("space", space, SpaceConfig)
        schedule = _section(space, "schedule")
        _check_keys("space.schedule", schedule, ScheduleConfig)
        space["schedule"] = ScheduleConfig(**_tuples(schedule, "exclude"))
        sections: dict[str, Any] = {}
        for name, record in (
            ("budget", BudgetConfig),
            ("target", TargetConfig),
            ("objectives", ObjectivesConfig),
            ("search", SearchConfig),
        ):
            values = _section(data, name)
            _check_keys(name, values, record)
            sections[name] = record(**_tuples(values, "names"))
        return cls(
            task=TaskConfig(**task),
            space=SpaceConfig(**_tuples(space, "widths", "patterns")),
            **sections,
        )

    def study_name(self) -> str:
        """The configured study name, or one derived from the task reference."""
        if self.search.study_name:
            return self.search.study_name
        return "prunefront-" + "".join(c if c.isalnum() else "-" for c in self.task.ref)

    def identity(self) -> dict[str, Any]:
        """What a resumed run must share with the run it resumes (task, space, budget, ...)."""
        data = self.to_dict()
        return {k: data[k] for k in ("task", "space", "budget", "target", "objectives")}


def _tuples(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = dict(values)
    for key in keys:
        if key in out:
            if not isinstance(out[key], list | tuple):
                raise _fail(key, f"must be a list, got {out[key]!r}")
            out[key] = tuple(out[key])
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a ``search.toml``.

    Raises:
        PrunefrontError: the file is missing, is not TOML, or a value is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PrunefrontError(f"config file {path} does not exist") from None
    except OSError as error:
        raise PrunefrontError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PrunefrontError(f"{path} is not valid TOML: {error}") from None
    try:
        return RunConfig.from_dict(data)
    except TypeError as error:  # a wrongly typed section slipped through
        raise PrunefrontError(f"{path}: {error}") from None
