"""Trials per hour with 2 local workers vs 1, on the same search, side by side in one run.

Runs ``prunefront search`` as a user does (a fresh process, so both sides pay the same start-up)
on a fresh study, with 1 worker (2 training threads) and with ``--workers 2`` (1 thread each),
alternating ``--rounds`` times so that machine noise hits both alike. Both sides read MNIST-1D
from one data cache, filled before the first run. Two rates are printed for each side: *wall*,
the trials over the whole command (start-up included), and *steady*, the trials completed after
the first one over the time between the first and the last completion (what an overnight search
runs at). Goal on a 2-core machine: >= 1.6x.

    .venv/bin/python bench/workers.py [--trials 16] [--rounds 2] [--epochs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from prunefront.tasks._datacache import CACHE_ENV
from prunefront.tasks._mnist1d import mnist1d_arrays

CONFIG = """
[task]
ref = "mnist1d-cnn"
options = {{ epochs = {epochs} }}

[space]
widths = [0.5, 0.75, 1.0]
iso_levels = 0

[budget]
bytes = 200000

[target]
latency_min_time_s = 0.2
latency_max_time_s = 1.0

[search]
trials = {trials}
sampler = "random"
run_dir = "{run_dir}"
study_name = "workers"
warm_start = false
"""


def steady_rate(run_dir: Path) -> float:
    """Trials per hour between the first and the last completion of the run's study."""
    storage = JournalStorage(JournalFileBackend(str(run_dir / "study.journal")))
    study = optuna.load_study(study_name="workers", storage=storage)
    ends = sorted(
        t.datetime_complete.timestamp()
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.datetime_complete is not None
    )
    return (len(ends) - 1) / (ends[-1] - ends[0]) * 3600


def one_run(workers: int, args: argparse.Namespace, root: Path, index: int) -> tuple[float, float]:
    run_dir = root / f"w{workers}-{index}"
    config = root / f"w{workers}-{index}.toml"
    config.write_text(CONFIG.format(epochs=args.epochs, trials=args.trials, run_dir=run_dir))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "prunefront", "search", str(config), "--workers", str(workers)],
        check=True,
        capture_output=True,
    )
    wall = args.trials / (time.perf_counter() - started) * 3600
    return wall, steady_rate(run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    rates: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[CACHE_ENV] = str(Path(tmp) / "data-cache")
        mnist1d_arrays()  # fill the data cache once, for both sides alike
        for index in range(args.rounds):
            order = (1, 2) if index % 2 == 0 else (2, 1)
            for workers in order:
                rates[workers].append(one_run(workers, args, Path(tmp), index))
                wall, steady = rates[workers][-1]
                print(f"round {index + 1}, {workers} worker(s): {wall:.0f} / {steady:.0f} trials/h")
    wall = {w: statistics.median(r[0] for r in runs) for w, runs in rates.items()}
    steady = {w: statistics.median(r[1] for r in runs) for w, runs in rates.items()}
    print(f"\nmnist1d-cnn, {args.trials} trials per run, {args.rounds} rounds (median)")
    print(f"{'workers':<10}{'wall trials/h':>15}{'steady trials/h':>17}")
    for workers in (1, 2):
        print(f"{workers:<10}{wall[workers]:>15.0f}{steady[workers]:>17.0f}")
    print(f"{'ratio 2/1':<10}{wall[2] / wall[1]:>14.2f}x{steady[2] / steady[1]:>16.2f}x")


if __name__ == "__main__":
    main()
