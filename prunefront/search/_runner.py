"""``prunefront search``: validate, create or resume the study, run the workers, report progress.

Everything that can be wrong with the configuration is checked before anything is written.
Worker 0 runs in this process, which has already imported everything and built the task;
``--workers K`` spawns workers 1..K-1 (threads divided between all K) and a watcher thread here
reports every trial that ends, whichever worker ran it. Ctrl-C or SIGTERM stops cleanly and
says how to resume; running the same command again resumes the study.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from prunefront.config import RunConfig
from prunefront.errors import PrunefrontError
from prunefront.profilers import UnavailableMeter, describe_device, select_energy_meter
from prunefront.remote import check_agent
from prunefront.search._cost import SearchCostTracker
from prunefront.search._final import finalize_study
from prunefront.search._progress import TICK_S, Progress, StudyWatcher, progress
from prunefront.search._storage import BudgetLock, StorageSpec, open_storage, resolve_storage
from prunefront.search._study import (
    create_or_resume,
    make_sampler,
    seeded_pair_trials,
    worker_seed,
)
from prunefront.search._trials import budget_used
from prunefront.search._worker import (
    TrialEvent,
    build_context,
    build_space,
    install_stop_handlers,
    make_task,
    restore_handlers,
    worker_loop,
)
from prunefront.studies import STUDY_OBJECTIVES
from prunefront.tasks import Task, check_task

__all__ = [
    "SearchPlan",
    "plan_search",
    "resolve_objectives",
    "run_search",
    "run_worker",
    "with_trials",
]


@dataclass(frozen=True, kw_only=True)
class SearchPlan:
    """A validated search, before anything is written.

    ``task`` is a Task object given from Python (``prunefront.search.run``); ``None`` resolves
    ``config.task`` in every worker.
    """

    config: RunConfig
    run_dir: Path
    storage: StorageSpec
    workers: int
    objectives: tuple[str, ...]
    device: dict[str, Any]
    dropped_widths: tuple[float, ...]
    budget_bytes: int
    pair_trials: int = 0
    task: Task | None = None


def _energy_measurable(config: RunConfig) -> tuple[bool, str]:
    target = config.target
    if target.energy == "off":
        return False, "target.energy = 'off'"
    if target.energy == "estimate":
        return True, "estimate allowed"
    if target.device.startswith(("remote://", "adb://")):
        # The device's sensors are known only to the agent: energy joins the objectives when
        # asked for (objectives.energy = "always"); it is stored with every trial either way.
        return config.objectives.energy == "always", "the device's sensors are unknown here"

    meter = select_energy_meter(target.device, "auto")
    if isinstance(meter, UnavailableMeter):
        return False, meter.reason
    return True, "measured"


def resolve_objectives(config: RunConfig) -> tuple[str, ...]:
    """The objectives of a new study: energy joins when it is measurable (or asked for)."""
    names = list(config.objectives.names)
    measurable, why = _energy_measurable(config)
    if "energy_mj" in names and not measurable:
        raise PrunefrontError(
            f"objectives.names includes energy_mj but energy cannot be measured here ({why}); "
            "set target.energy = 'estimate' to use a labelled estimate"
        )
    wanted = config.objectives.energy
    if "energy_mj" not in names and (wanted == "always" or (wanted == "auto" and measurable)):
        if wanted == "always" and not measurable:
            raise PrunefrontError(
                f"objectives.energy = 'always' but energy cannot be measured ({why})"
            )
        names.append("energy_mj")
    return tuple(names)


def plan_search(
    config: RunConfig,
    *,
    workers: int | None = None,
    task: Task | None = None,
    trials: int | None = None,
) -> SearchPlan:
    """Validate the whole run (task, budget, target, storage) without writing anything.

    Args:
        config: The run configuration.
        workers: Worker processes (default ``config.search.workers``).
        task: A Task object to search instead of resolving ``config.task.ref`` (one worker:
            other worker processes could not receive it).
        trials: The study's trial budget instead of ``config.search.trials``: resuming a study
            with a larger one runs the additional trials.

    Raises:
        PrunefrontError: ``trials`` is not a positive integer, or anything wrong with the run.
    """
    config = with_trials(config, trials)
    n_workers = workers if workers is not None else config.search.workers
    if n_workers < 1:
        raise PrunefrontError(f"--workers must be >= 1, got {n_workers}")
    run_dir = Path(config.search.run_dir or Path("runs") / config.study_name())
    spec = resolve_storage(config.search.storage, run_dir)
    if spec.kind == "sqlite" and n_workers > 1:
        raise PrunefrontError(
            "search.storage: SQLite supports one worker; use the default journal file or "
            "PostgreSQL for --workers > 1"
        )
    if task is not None:
        task = check_task(task, config.task.ref)
        if n_workers > 1:
            raise PrunefrontError(
                f"workers = {n_workers}: a Task object runs in this process only; name the task "
                "as 'package.module:attr' to run several workers"
            )
    space = build_space(config, task if task is not None else make_task(config))
    pair_trials = len(seeded_pair_trials(config, space))
    objectives = resolve_objectives(config)
    device = config.target.device
    if device.startswith("remote://"):  # the token and the agent, before any trial
        check_agent(device, token_file=config.target.token_file)
    description = (
        {"device": device}
        if device.startswith(("remote://", "adb://"))
        else dict(describe_device(device, threads=config.target.threads))
    )
    return SearchPlan(
        config=config,
        run_dir=run_dir,
        storage=spec,
        workers=n_workers,
        objectives=objectives,
        device=description,
        dropped_widths=space.dropped_widths,
        budget_bytes=space.budget_bytes,
        pair_trials=pair_trials,
        task=task,
    )


def with_trials(config: RunConfig, trials: int | None) -> RunConfig:
    """``config`` with the trial budget ``trials`` (None: unchanged), as ``--trials`` gives it.

    Raises:
        PrunefrontError: ``trials`` is not a positive integer.
    """
    if trials is None:
        return config
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise PrunefrontError(f"--trials must be a positive integer, got {trials!r}")
    return replace(config, search=replace(config.search, trials=trials))


def _open(plan: SearchPlan, worker: int) -> tuple[optuna.Study, BudgetLock, bool]:
    storage = open_storage(plan.storage)
    lock = BudgetLock(plan.storage, storage, plan.config.study_name())
    search = plan.config.search
    with lock.hold():
        name = plan.config.study_name()
        exists = name in optuna.get_all_study_names(storage)
        existing = len(optuna.load_study(study_name=name, storage=storage).trials) if exists else 0
        opening = _openings(storage, name) if exists else 0
        task = plan.task if plan.task is not None else make_task(plan.config)
        space = build_space(plan.config, task)
        sampler = make_sampler(
            search.sampler,
            trials=search.trials,
            seed=worker_seed(search.seed, worker, existing, opening=opening),
            workers=plan.workers,
            grid=space.grid(search.grid_sparsities),
            grid_seed=search.seed,
        )
        study, created = create_or_resume(
            config=plan.config,
            storage=storage,
            sampler=sampler,
            task=task,
            space=space,
            objectives=plan.objectives,
            device=plan.device,
        )
        # Every process that opens the study gets its own number, hence its own sampler seed:
        # processes started at once on other machines are all "worker 0" with 0 trials.
        storage.set_study_system_attr(study._study_id, OPENINGS_KEY, opening + 1)
    return study, lock, created


OPENINGS_KEY = "prunefront:openings"
"""How many worker processes have opened the study (a counter kept under the budget lock)."""


def _openings(storage: optuna.storages.BaseStorage, name: str) -> int:
    attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(name))
    return int(attrs.get(OPENINGS_KEY, 0))


def run_worker(
    plan: SearchPlan, worker: int, on_event: Callable[[TrialEvent], None] | None = None
) -> int:
    """One worker: open the (existing) study and run trials; returns how many it ran."""
    study, lock, _ = _open(plan, worker)
    objectives = tuple(study.user_attrs.get(STUDY_OBJECTIVES, plan.objectives))
    ctx = build_context(
        plan.config, plan.run_dir, workers=plan.workers, objectives=objectives, task=plan.task
    )
    timeout = plan.config.search.timeout_s
    deadline = None if timeout is None else time.time() + timeout
    with SearchCostTracker(study, worker=f"{socket.gethostname()}:{os.getpid()}"):
        return worker_loop(
            ctx,
            study,
            lock,
            budget=plan.config.search.trials,
            deadline=deadline,
            on_event=on_event,
        )


def _worker_process(plan: SearchPlan, worker: int) -> None:
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_worker(plan, worker)
    except PrunefrontError as error:  # one line, as the CLI prints its own errors
        print(f"prunefront worker {worker}: {error}", file=sys.stderr)
        sys.exit(2)


def run_search(
    plan: SearchPlan,
    *,
    say: Callable[[str], None],
    on_event: Callable[[TrialEvent, Progress], None] | None = None,
    on_tick: Callable[[Progress], None] | None = None,
    tick_s: float = TICK_S,
) -> optuna.Study:
    """Create or resume the study and run ``plan.workers`` workers until done.

    Args:
        plan: The validated search.
        say: Receives log lines (start, skipped widths, progress of worker processes).
        on_event: Receives each trial that ends, with the progress after it (with several
            workers, whichever worker ran it); without it, progress lines go to ``say``.
        on_tick: Receives the progress, with each running trial's phase (``trial 7 training
            40%``), after ``tick_s`` seconds without a progress line while trials run.
        tick_s: Seconds of silence before ``on_tick``.
    """
    started = time.time()
    study, _, created = _open(plan, worker=0)  # an unreachable storage leaves no run folder
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    budget = plan.config.search.trials
    used = budget_used(study.get_trials(deepcopy=False))
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    say(
        f"{'created' if created else 'resuming'} study {study.study_name!r} in "
        f"{plan.storage.display} (run folder {plan.run_dir}); {used}/{budget} trials used, "
        f"{waiting} queued; objectives {', '.join(plan.objectives)}; budget {plan.budget_bytes} B"
    )
    if plan.pair_trials > budget:
        say(
            f"the {plan.pair_trials} seeded pair trials (2 sides x {plan.config.search.pair_seeds}"
            f" seeds per level) exceed search.trials = {budget}: only the first {budget} run, "
            "and the verdict lacks the rest (raise search.trials)"
        )
    if plan.dropped_widths:
        say(f"widths {list(plan.dropped_widths)} fit the budget at no sparsity and are skipped")
    if plan.workers == 1:
        ticker = None
        if on_tick is not None:  # its events are this worker's own; the ticker only ticks
            # and need not look at the storage more often than it may tick
            ticker = _watcher(
                plan, started, used, None, on_tick=on_tick, tick_s=tick_s, every=tick_s
            )

        def forward(event: TrialEvent) -> None:
            if on_event is not None:
                on_event(event, progress(study, budget, started, used))
            if ticker is not None:
                ticker.reported()

        with ticker or contextlib.nullcontext():
            run_worker(plan, 0, forward)
    else:
        report = on_event or (lambda event, now: say(now.line()))
        watcher = _watcher(
            plan, started, used, report, on_tick=on_tick, tick_s=tick_s, every=min(2.0, tick_s)
        )
        _run_pool(plan, say=say, watcher=watcher)
    _finalize_when_done(study, plan, say)
    return study


def _finalize_when_done(study: optuna.Study, plan: SearchPlan, say: Callable[[str], None]) -> None:
    """Once the budget is used and no trial runs, re-measure the pairs and the front."""
    trials = study.get_trials(deepcopy=False)
    if budget_used(trials) < plan.config.search.trials or any(
        t.state == TrialState.RUNNING for t in trials
    ):
        return
    finalize_study(study, plan.config, plan.run_dir, say=say, task=plan.task)


def _watcher(
    plan: SearchPlan,
    started: float,
    used: int,
    on_event: Callable[[TrialEvent, Progress], None] | None,
    *,
    on_tick: Callable[[Progress], None] | None,
    tick_s: float,
    every: float,
) -> StudyWatcher:
    return StudyWatcher(
        plan.storage,
        plan.config.study_name(),
        budget=plan.config.search.trials,
        started=started,
        done_at_start=used,
        on_event=on_event,
        interval_s=every,
        on_tick=on_tick,
        tick_s=tick_s,
    )


def _run_pool(plan: SearchPlan, *, say: Callable[[str], None], watcher: StudyWatcher) -> None:
    """Worker 0 in this process, workers 1..K-1 spawned; ``watcher`` reports every trial."""
    context = multiprocessing.get_context("spawn")
    helpers = [
        context.Process(target=_worker_process, args=(plan, i), name=f"prunefront-worker-{i}")
        for i in range(1, plan.workers)
    ]
    previous = install_stop_handlers()
    try:
        for process in helpers:
            process.start()
        with watcher:
            run_worker(plan, 0)
            for process in helpers:  # their last trials are still running
                process.join()
    finally:
        restore_handlers(previous)
        _stop([process for process in helpers if process.pid is not None])
    for process in helpers:
        if process.exitcode:  # its own one-line error is on stderr already
            say(f"worker {process.name} exited with code {process.exitcode}")


def _stop(helpers: list[Any]) -> None:
    """Let the helpers end their own way (Ctrl-C reached them too), else stop them cleanly.

    A SIGTERM sent to this process alone reaches no helper: after a short wait each gets one,
    which fails its running trial as interrupted and re-enqueues its point.
    """
    for process in helpers:
        process.join(timeout=5)
    for process in helpers:
        if process.is_alive():
            process.terminate()
    for process in helpers:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
