"""Trials per hour with 2 local workers vs 1, on the same search, side by side in one run.

Runs ``prunefront search`` as a user does (a fresh process, so both sides pay the same start-up:
imports and generating MNIST-1D) on a fresh study, with 1 worker (2 training threads) and with
``--workers 2`` (1 thread each), alternating ``--rounds`` times so that machine noise hits both
alike, and prints trials per hour and the ratio. Goal on a 2-core machine: >= 1.6x.

    .venv/bin/python bench/workers.py [--trials 12] [--rounds 2] [--epochs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def one_run(workers: int, args: argparse.Namespace, root: Path, index: int) -> float:
    run_dir = root / f"w{workers}-{index}"
    config = root / f"w{workers}-{index}.toml"
    config.write_text(CONFIG.format(epochs=args.epochs, trials=args.trials, run_dir=run_dir))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "prunefront", "search", str(config), "--workers", str(workers)],
        check=True,
        capture_output=True,
    )
    return args.trials / (time.perf_counter() - started) * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.rounds):
            order = (1, 2) if index % 2 == 0 else (2, 1)
            for workers in order:
                rates[workers].append(one_run(workers, args, Path(tmp), index))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"\nmnist1d-cnn, {args.trials} trials per run, {args.rounds} rounds (median)")
    print(f"{'workers':<10}{'trials/hour':>12}")
    print(f"{'1':<10}{one:>12.0f}")
    print(f"{'2':<10}{two:>12.0f}")
    print(f"ratio 2/1: {two / one:.2f}x")


if __name__ == "__main__":
    main()
