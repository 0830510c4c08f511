"""Create a study once, or resume it, refusing a run whose task, space or objectives changed.

The study stores the configuration that created it, the objectives (resolved once: whether
energy is an objective depends on the target, and must not change between workers or restarts),
the metric and the target's description. The iso-footprint pairs are enqueued at creation only,
so each seeded pair runs once however often the search is resumed.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import optuna

from prunefront.config import RunConfig
from prunefront.errors import PrunefrontError
from prunefront.spaces import SearchSpace
from prunefront.studies import StudyKey, TrialKey, mask_url, set_study_attrs, trial_attrs
from prunefront.tasks import Task

__all__ = [
    "PAIR_KEYS",
    "SEARCH_FORMAT",
    "config_differences",
    "create_or_resume",
    "make_sampler",
    "metric_names",
    "seeded_pair_trials",
    "worker_seed",
]

PAIR_KEYS = (TrialKey.SEEDED, TrialKey.ISO_LEVEL_BYTES, TrialKey.PAIR_SEED, TrialKey.REPLICATE)
"""The user attributes that make a trial one seed replicate of one side of a seeded pair (a
retried trial keeps them)."""

SEARCH_FORMAT = 2
"""The study format this version creates and resumes (2: the width is drawn as ``width_index``;
1 drew it as a category). Reports, ``select`` and ``export`` read every format."""


class _BudgetedGridSampler(optuna.samplers.GridSampler):
    """A grid sampler that leaves stopping to the trial budget.

    Optuna's grid sampler calls ``study.stop()`` once the grid is visited, which only works
    inside ``Study.optimize``; prunefront's workers ask and tell, and the budget stops them.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def make_sampler(
    name: str,
    *,
    trials: int,
    seed: int,
    workers: int,
    grid: dict[str, list[Any]] | None = None,
    grid_seed: int = 0,
) -> optuna.samplers.BaseSampler:
    """The configured sampler; ``auto``: GP for budgets up to 100 trials, multivariate TPE above.

    ``grid`` (for ``name == "grid"``) lists the values of every parameter: the exhaustive
    baseline that ``bench/search_efficiency.py`` compares the samplers with. The grid sampler
    shuffles the grid with ``grid_seed`` and gives trial number *n* the *n*-th point, so every
    worker and every restart must shuffle alike: it takes the run's seed, not the worker's
    ``seed`` (with a seed per worker, two workers gave the same point to two trial numbers and
    left others out).
    """
    startup = min(10, max(4, trials // 5))
    if name == "grid":
        if grid is None:
            raise PrunefrontError("search.sampler = 'grid' needs the grid of parameter values")
        return _BudgetedGridSampler(grid, seed=grid_seed)
    if name == "auto":
        name = "gp" if trials <= 100 else "tpe"
    if name == "gp":
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=startup, warn_independent_sampling=False
        )
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=workers > 1
        )
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def worker_seed(run_seed: int, worker: int, trials_so_far: int, *, opening: int = 0) -> int:
    """A sampler seed per worker process and restart: no two replay the same random points.

    ``opening`` numbers the processes that opened the study (``--workers`` helpers, restarts and
    other machines alike), so that processes started together, each worker 0 of its machine
    with 0 trials so far, still draw different candidates; one process alone is reproducible.
    """
    key = f"{run_seed}:{worker}:{trials_so_far}" + (f":{opening}" if opening else "")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "little")


def stored_config(config: RunConfig) -> dict[str, Any]:
    """The configuration as the study stores it: the storage URL's password masked.

    Everyone who can read the study can read its attributes; the password is not part of the
    study's identity (``RunConfig.identity``), so resuming compares the same either way.
    """
    data = config.to_dict()
    if data["search"].get("storage"):
        data["search"]["storage"] = mask_url(data["search"]["storage"])
    return data


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def config_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every leaf that differs."""
    old, new = _flatten(stored), _flatten(current)
    return [
        f"{key}: {old.get(key, '<unset>')!r} -> {new.get(key, '<unset>')!r}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def directions(objectives: tuple[str, ...], task: Task) -> list[optuna.study.StudyDirection]:
    """Optuna directions of ``objectives``."""
    metric = (
        optuna.study.StudyDirection.MAXIMIZE
        if task.direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
    )
    return [
        metric if name == "metric" else optuna.study.StudyDirection.MINIMIZE for name in objectives
    ]


def metric_names(objectives: tuple[str, ...], task: Task) -> list[str]:
    """The objectives in the user's terms, for Optuna's own tools: the task's metric by its name.

    ``metric`` becomes e.g. ``accuracy``; ``latency_ms``, ``energy_mj`` and ``footprint_bytes``
    already say what they are. A task metric named like another objective stays ``metric``.
    """
    named = task.metric if task.metric and task.metric not in objectives else "metric"
    return [named if name == "metric" else name for name in objectives]


def _name_metrics(study: optuna.Study, names: list[str]) -> None:
    with warnings.catch_warnings():  # experimental in Optuna 3.2 to 5.x; stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def seeded_pair_trials(
    config: RunConfig, space: SearchSpace
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The equal-footprint pair trials to enqueue: (params, user attributes) each.

    Every side of every level is trained with ``search.pair_seeds`` seeds; all levels of one
    seed come before the next seed, so an interrupted search has whole replicates first.
    """
    pairs = space.iso_pairs(config.space.iso_levels, config.space.iso_large_width)
    out = []
    for replicate in range(config.search.pair_seeds):
        seed = config.search.seed + replicate
        for pair in pairs:
            for label, width, sparsity in (
                ("small-dense", pair.small_width, 0.0),
                ("large-sparse", pair.large_width, pair.large_sparsity),
            ):
                attrs = {
                    TrialKey.SEEDED: label,
                    TrialKey.ISO_LEVEL_BYTES: pair.level_bytes,
                    TrialKey.PAIR_SEED: seed,
                    TrialKey.REPLICATE: replicate,
                }
                out.append((space.params_for(width, pair.pattern, sparsity), attrs))
    return out


def _pair_seeds_of(stored: dict[str, Any]) -> int:
    search = stored.get("search")
    value = search.get("pair_seeds", 1) if isinstance(search, dict) else 1
    return int(value)


def _record_budget(study: optuna.Study, stored: dict[str, Any], trials: int) -> None:
    """Store the budget a resumed run works to (``--trials`` or an edited search.toml).

    ``status`` reads the budget from the stored configuration; ``search.trials`` is not part
    of the study's identity, so a run may extend the study to more trials.
    """
    search = stored.get("search")
    if isinstance(search, dict) and search.get("trials") != trials:
        set_study_attrs(
            study, {StudyKey.CONFIG: {**stored, "search": {**search, "trials": trials}}}
        )


def create_or_resume(
    *,
    config: RunConfig,
    storage: optuna.storages.BaseStorage,
    sampler: optuna.samplers.BaseSampler,
    task: Task,
    space: SearchSpace,
    objectives: tuple[str, ...],
    device: dict[str, Any],
) -> tuple[optuna.Study, bool]:
    """Load the study named by ``config`` or create it; returns (study, created)."""
    name = config.study_name()
    identity = config.identity()
    if name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        stored = study.user_attrs.get(StudyKey.CONFIG)
        if stored is None:
            raise PrunefrontError(
                f"study {name!r} exists but was not created by prunefront; "
                "choose another search.study_name"
            )
        version = study.user_attrs.get(StudyKey.FORMAT_VERSION)
        if version != SEARCH_FORMAT:
            raise PrunefrontError(
                f"study {name!r} has study format {version} and this prunefront searches format "
                f"{SEARCH_FORMAT}; its results still report, select and export, but continue "
                "the search under a new search.study_name"
            )
        stored_identity = {k: stored[k] for k in identity if k in stored}
        differences = config_differences(stored_identity, identity)
        if differences:
            shown = "; ".join(differences[:4]) + ("; ..." if len(differences) > 4 else "")
            raise PrunefrontError(
                f"study {name!r} was created with another configuration ({shown}); "
                "use the original search.toml or a new search.study_name"
            )
        if _pair_seeds_of(stored) != config.search.pair_seeds:
            raise PrunefrontError(
                f"search.pair_seeds: study {name!r} seeded its pairs with "
                f"{_pair_seeds_of(stored)} seeds, not {config.search.pair_seeds}; use the "
                "original value or a new search.study_name"
            )
        widths = study.user_attrs.get(StudyKey.WIDTHS)
        if widths is not None and tuple(widths) != space.widths:
            raise PrunefrontError(
                f"study {name!r} searched widths {widths} and this budget now fits "
                f"{list(space.widths)} (the footprint model changed?); its width_index would "
                "mean other widths: continue under a new search.study_name"
            )
        stored_objectives = study.user_attrs.get(StudyKey.OBJECTIVES)
        if study.metric_names is None and isinstance(stored_objectives, list):
            # created before prunefront named its objectives for Optuna's own tools
            _name_metrics(study, metric_names(tuple(stored_objectives), task))
        _record_budget(study, stored, config.search.trials)
        return study, False
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        directions=directions(objectives, task),
    )
    set_study_attrs(
        study,
        {
            StudyKey.FORMAT_VERSION: SEARCH_FORMAT,
            StudyKey.CONFIG: stored_config(config),
            StudyKey.OBJECTIVES: list(objectives),
            StudyKey.METRIC: {"name": task.metric, "direction": task.direction},
            StudyKey.DEVICE: device,
            StudyKey.WIDTHS: list(space.widths),
        },
    )
    _name_metrics(study, metric_names(objectives, task))
    for params, attrs in seeded_pair_trials(config, space):
        study.enqueue_trial(params, user_attrs=trial_attrs(attrs), skip_if_exists=False)
    return study, True
