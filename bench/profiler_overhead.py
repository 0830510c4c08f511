"""Profiling cost per candidate vs that candidate's training, with the default settings.

For each built-in task, candidates at two widths and two sparsities are trained with gradual
pruning (``train_candidate``) and then profiled (``profile_candidate``: every execution
strategy, energy, peak memory) on this CPU with the default ``ProfileSettings``. Both times come
from the same process, one candidate after the other. Goal: profiling <= 20 % of a trial.

    .venv/bin/python bench/profiler_overhead.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from prunefront.candidate import Candidate, train_candidate
from prunefront.profilers import profile_candidate
from prunefront.tasks import resolve_task

CANDIDATES = [(0.5, 0.0), (0.5, 0.9), (1.0, 0.0), (1.0, 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks", default="mnist1d-cnn,charlm-lstm")
    args = parser.parse_args()
    rows = []
    for ref in args.tasks.split(","):
        task = resolve_task(ref)
        for width, sparsity in CANDIDATES:
            torch.set_num_threads(args.threads)
            model, result = train_candidate(task, Candidate(width=width, sparsity=sparsity))
            started = time.perf_counter()
            profile = profile_candidate(model.eval(), task.example_inputs(1), threads=1)
            profile_s = time.perf_counter() - started
            rows.append((ref, width, sparsity, result.train_seconds, profile_s, profile.strategy))
    print(f"\ntraining ({args.threads} threads) vs profiling (default settings, 1 thread)")
    header = f"{'task':<13}{'width':>6}{'sparsity':>9}{'train s':>9}{'profile s':>10}"
    print(f"{header}{'share':>7}  strategy")
    for ref, width, sparsity, train_s, profile_s, strategy in rows:
        share = profile_s / (train_s + profile_s)
        cells = f"{ref:<13}{width:>6}{sparsity:>9}{train_s:>9.1f}{profile_s:>10.2f}"
        print(f"{cells}{share:>7.1%}  {strategy}")
    total_train = sum(r[3] for r in rows)
    total_profile = sum(r[4] for r in rows)
    print(
        f"overall: profiling is {total_profile / (total_train + total_profile):.1%} of trial time"
    )


if __name__ == "__main__":
    main()
