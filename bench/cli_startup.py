"""How fast the CLI starts: `prunefront --help` beside `python -c pass` and `optuna --version`.

Each command runs in a fresh process, the commands interleaved round by round (so load on the
machine hits all alike); the table gives each one's median wall time and its ratio to
``optuna --version``. Goal: ``prunefront --help`` within 1.5x of ``optuna --version``.

    .venv/bin/python bench/cli_startup.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 1.5
"""``prunefront --help`` may take at most this many times ``optuna --version``."""


def _optuna() -> list[str]:
    beside = Path(sys.executable).with_name("optuna")
    found = str(beside) if beside.exists() else shutil.which("optuna")
    if found is None:
        raise SystemExit("optuna's console script is not installed next to this Python")
    return [found]


def _commands() -> dict[str, list[str]]:
    python = [sys.executable]
    return {
        "python -c pass": [*python, "-c", "pass"],
        "optuna --version": [*_optuna(), "--version"],
        "prunefront --help": [*python, "-m", "prunefront", "--help"],
        "prunefront --version": [*python, "-m", "prunefront", "--version"],
    }


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="Interleaved rounds (odd: a median).")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    commands = _commands()
    for command in commands.values():  # warm the file cache; not timed
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            times[name].append(_seconds(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    reference = medians["optuna --version"]
    print(f"{args.rounds} interleaved rounds, median wall time per fresh process")
    print(f"{'command':<22} {'median s':>9} {'min s':>7} {'x optuna --version':>19}")
    for name, median in medians.items():
        ratio = median / reference
        print(f"{name:<22} {median:>9.3f} {min(times[name]):>7.3f} {ratio:>19.2f}")
    ratio = medians["prunefront --help"] / reference
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"prunefront --help is {ratio:.2f}x optuna --version: {verdict} the goal of {GOAL}x")


if __name__ == "__main__":
    main()
