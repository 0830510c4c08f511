"""Trials per hour with 2 local workers vs 1, on the same search, side by side in one run.

Runs the same short ``mnist1d-cnn`` search (fresh study each time) with 1 worker (2 training
threads) and with 2 workers (1 thread each), alternating ``--rounds`` times so that machine noise
hits both alike, and prints trials per hour and the ratio. Goal on a 2-core machine: >= 1.6x.

    .venv/bin/python bench/workers.py [--trials 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from prunefront.config import RunConfig
from prunefront.search import plan_search, run_search


def one_run(workers: int, trials: int, root: Path, index: int) -> float:
    config = RunConfig.from_dict(
        {
            "task": {"ref": "mnist1d-cnn", "options": {"epochs": 6}},
            "space": {"widths": [0.5, 0.75, 1.0], "iso_levels": 0},
            "budget": {"bytes": 200_000},
            "target": {"latency_min_time_s": 0.2, "latency_max_time_s": 1.0},
            "search": {
                "trials": trials,
                "sampler": "random",
                "run_dir": str(root / f"w{workers}-{index}"),
                "study_name": "workers",
                "warm_start": False,
            },
        }
    )
    plan = plan_search(config, workers=workers)
    started = time.perf_counter()
    run_search(plan, say=lambda line: None)
    return trials / (time.perf_counter() - started) * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.rounds):
            order = (1, 2) if index % 2 == 0 else (2, 1)
            for workers in order:
                rates[workers].append(one_run(workers, args.trials, Path(tmp), index))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"\nmnist1d-cnn, {args.trials} trials per run, {args.rounds} rounds (median)")
    print(f"{'workers':<10}{'trials/hour':>12}")
    print(f"{'1':<10}{one:>12.0f}")
    print(f"{'2':<10}{two:>12.0f}")
    print(f"ratio 2/1: {two / one:.2f}x")


if __name__ == "__main__":
    main()
