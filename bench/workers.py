"""Trials per hour with 2 local workers vs 1, on the same search, side by side in one run.

Runs ``prunefront search`` as a user does (a fresh process, so both sides pay the same start-up)
on a fresh study, with 1 worker (2 training threads) and with ``--workers 2`` (1 thread each),
alternating ``--rounds`` times so that machine noise hits both alike. Both sides train the very
same candidates: the grid sampler over 3 widths x ``--sparsities`` points (a random sampler
would give the second worker its own seed, hence another mix of cheap and costly candidates).
Both read MNIST-1D from one data cache, filled before the first run. Two rates are printed for
each side: *wall*, the trials over the whole command (start-up included), and *steady*, the
trials completed after the first one over the time between the first and the last completion
(what an overnight search runs at). Goal on a 2-core machine: >= 1.6x.

The last column says what the baseline allows: a single worker already spreads training over
both cores with intra-op threads, so 2 workers can gain at most 2 x (training seconds per trial
of 1 worker at 2 threads) / (training seconds per trial of a worker at 1 thread beside another,
without its waits while the other profiles).

    .venv/bin/python bench/workers.py [--sparsities 6] [--rounds 3] [--epochs 15]
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
sampler = "grid"
grid_sparsities = {sparsities}
run_dir = "{run_dir}"
study_name = "workers"
warm_start = false
"""


def steady_rate_and_training(run_dir: Path) -> tuple[float, float, float]:
    """Trials per hour between the first and the last completion; mean training seconds
    (without the waits for the other worker's profiles, a cost of 2 workers) and those waits."""
    storage = JournalStorage(JournalFileBackend(str(run_dir / "study.journal")))
    study = optuna.load_study(study_name="workers", storage=storage)
    done = [
        t  # a copy of an earlier trial's results trained nothing (there should be none)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "duplicate_of" not in t.user_attrs
    ]
    ends = sorted(t.datetime_complete.timestamp() for t in done if t.datetime_complete is not None)
    waits = [float(t.user_attrs.get("gate_wait_seconds", 0.0)) for t in done]
    training = statistics.mean(float(t.user_attrs["train_seconds"]) for t in done)
    wait = statistics.mean(waits)
    return (len(ends) - 1) / (ends[-1] - ends[0]) * 3600, training - wait, wait


def one_run(
    workers: int, args: argparse.Namespace, root: Path, index: int
) -> tuple[float, float, float, float]:
    run_dir = root / f"w{workers}-{index}"
    config = root / f"w{workers}-{index}.toml"
    trials = 3 * args.sparsities
    config.write_text(
        CONFIG.format(
            epochs=args.epochs, trials=trials, sparsities=args.sparsities, run_dir=run_dir
        )
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "prunefront", "search", str(config), "--workers", str(workers)],
        check=True,
        capture_output=True,
    )
    wall = trials / (time.perf_counter() - started) * 3600
    return (wall, *steady_rate_and_training(run_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsities", type=int, default=6, help="grid points per width")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    rates: dict[int, list[tuple[float, float, float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[CACHE_ENV] = str(Path(tmp) / "data-cache")
        mnist1d_arrays()  # fill the data cache once, for both sides alike
        for index in range(args.rounds):
            order = (1, 2) if index % 2 == 0 else (2, 1)
            for workers in order:
                rates[workers].append(one_run(workers, args, Path(tmp), index))
                wall, steady, training, wait = rates[workers][-1]
                print(
                    f"round {index + 1}, {workers} worker(s): {wall:.0f} / {steady:.0f} "
                    f"trials/h, {training:.2f} s training + {wait:.2f} s waiting per trial"
                )
    median = {
        w: [statistics.median(r[i] for r in runs) for i in range(4)] for w, runs in rates.items()
    }
    ceiling = 2 * median[1][2] / median[2][2]
    print(f"\nmnist1d-cnn, {3 * args.sparsities} trials per run, {args.rounds} rounds (median)")
    print(
        f"{'workers':<10}{'wall trials/h':>15}{'steady trials/h':>17}{'train s/trial':>15}"
        f"{'wait s/trial':>14}"
    )
    for workers in (1, 2):
        wall, steady, training, wait = median[workers]
        print(f"{workers:<10}{wall:>15.0f}{steady:>17.0f}{training:>15.2f}{wait:>14.2f}")
    print(
        f"{'ratio 2/1':<10}{median[2][0] / median[1][0]:>14.2f}x"
        f"{median[2][1] / median[1][1]:>16.2f}x{'':>7}ceiling {ceiling:.2f}x"
    )


if __name__ == "__main__":
    main()
