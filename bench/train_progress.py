"""Cost of ``prunefront train``'s progress display: training time with and without it, side by side.

The same candidate of a built-in task is trained with ``train_candidate`` in four variants,
interleaved round by round in rotating order (machine noise hits all alike), each writing its
output to /dev/null as it would to stderr:
  off        no ``on_progress`` (what ``train`` did before);
  lines      plain lines every 5 s (``train`` off a terminal; the default interval);
  every-step a plain line after every step (the worst case, ``PRUNEFRONT_PROGRESS_S=0``);
  bar        the rich bar (``train`` on a terminal).
Prints the median and fastest training seconds (``TrainResult.train_seconds``) with their
ratios to ``off``; then the cost of one call of each display (a tick built and shown, timed
over many calls; ``off`` builds the tick only) next to one training step, and the cost of one
redraw of the bar (every ``BAR_REFRESH_S`` from the training thread). On a shared machine the
end-to-end ratios carry its noise; the per-call costs do not. Goal: ``lines`` and ``bar``
within 1.02x of ``off``.

    .venv/bin/python bench/train_progress.py [--task mnist1d-cnn] [--epochs 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from rich.console import Console

from prunefront.candidate import Candidate, OnProgress, TrainTick, train_candidate
from prunefront.commands._train_progress import (
    BAR_REFRESH_S,
    LineProgress,
    _BarProgress,
    train_progress,
)
from prunefront.config import RunConfig, TaskConfig
from prunefront.search import make_task


def _variants(sink: Any) -> dict[str, Callable[[], AbstractContextManager[OnProgress | None]]]:
    def lines(interval_s: float) -> Callable[[], AbstractContextManager[OnProgress | None]]:
        def write(line: str) -> None:
            print(line, file=sink)

        return lambda: nullcontext(LineProgress(write, interval_s=interval_s))

    terminal = Console(file=sink, force_terminal=True, width=120)
    return {
        "off": lambda: nullcontext(None),
        "lines": lines(5.0),
        "every-step": lines(0.0),
        "bar": lambda: train_progress(terminal),
    }


def _call_cost_us(make: Callable[[], AbstractContextManager[OnProgress | None]]) -> float:
    """Microseconds per call of a display: a ``TrainTick`` built and handed to it."""
    calls = 20_000
    with make() as on_progress:
        started = time.perf_counter()
        for step in range(calls):
            tick = TrainTick(step, calls, 0.5, 0.25)
            if on_progress is not None:
                on_progress(tick)
        return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = make_task(RunConfig(task=TaskConfig(ref=args.task, options={"epochs": args.epochs})))
    candidate = Candidate(width=1.0, sparsity=args.sparsity)
    train_candidate(task, candidate, seed=0)  # warm-up: the dataset, first-call costs
    seconds: dict[str, list[float]] = {}
    with open(os.devnull, "w") as sink:
        variants = _variants(sink)
        names = list(variants)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                with variants[name]() as on_progress:
                    _, result = train_candidate(task, candidate, seed=0, on_progress=on_progress)
                seconds.setdefault(name, []).append(result.train_seconds)
    off = statistics.median(seconds["off"])
    print(
        f"\n{args.task}, {task.total_steps()} steps, sparsity {args.sparsity}, "
        f"{args.threads} thread(s), {args.rounds} interleaved rounds"
    )
    columns = ("median s", "min s", "x off (median)", "x off (min)")
    print(f"{'variant':12s} {columns[0]:>9s} {columns[1]:>7s} {columns[2]:>15s} {columns[3]:>12s}")
    best = min(seconds["off"])
    for name in names:
        values = seconds[name]
        median = statistics.median(values)
        print(
            f"{name:12s} {median:9.3f} {min(values):7.3f} {median / off:15.3f} "
            f"{min(values) / best:12.3f}"
        )
    step_us = best / task.total_steps() * 1e6
    print(f"\none training step: {step_us:.0f} us (fastest off run / steps)")
    print(f"{'variant':12s} {'us/call':>8s} {'% of a step':>12s}")
    with open(os.devnull, "w") as sink:
        for name, make in _variants(sink).items():
            cost = _call_cost_us(make)
            print(f"{name:12s} {cost:8.2f} {100 * cost / step_us:12.4f}")
        with _BarProgress(Console(file=sink, force_terminal=True, width=120)) as bar:
            bar(TrainTick(40, 100, 0.5, 0.25))
            started = time.perf_counter()
            for _ in range(200):
                bar.redraw()
            redraw_us = (time.perf_counter() - started) / 200 * 1e6
    share = redraw_us / (BAR_REFRESH_S * 1e6)
    print(f"bar redraw: {redraw_us:.0f} us, one every {BAR_REFRESH_S} s = {100 * share:.3f} %")


if __name__ == "__main__":
    main()
