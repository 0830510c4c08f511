"""Do latencies agree across trials? Two checks on ``mnist1d-cnn`` width 0.25 at batch 1.

1. *Repeat profiles*: one model profiled as a search profiles a trial (``profile_candidate``,
   the demo's timing settings), ``--profiles`` times in one process. Goal: max / min of the
   medians <= 1.10. Before the process warm-up and the median-interval stopping rule, the first
   profile of a process read up to 1.5x slow and two profiles of one model disagreed by 40 %.
2. *Side by side*: two models of the same compute (the same width, other initial weights) timed
   by ``latency_ratio`` as the verdict times a pair. Goal: the ratio within [0.95, 1.05].

    .venv/bin/python bench/latency_agreement.py [--profiles 5] [--threads 1]
"""

from __future__ import annotations

import argparse

import torch

from prunefront.profilers import LatencySettings, ProfileSettings, latency_ratio, profile_candidate
from prunefront.tasks import Mnist1dCnn


def main() -> None:
    """Run both checks and print their table last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--width", type=float, default=0.25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = Mnist1dCnn()
    torch.manual_seed(0)
    model = task.build(args.width).eval()
    torch.manual_seed(1)
    twin = task.build(args.width).eval()
    inputs = (torch.randn(1, 40),)
    settings = ProfileSettings(latency=LatencySettings(min_time_s=0.3, max_time_s=2.0))
    medians = []
    for i in range(args.profiles):
        result = profile_candidate(
            model,
            inputs,
            threads=args.threads,
            energy="off",
            strategies=("masked_dense",),
            settings=settings,
        )
        value = float(result.latency_ms.value or 0.0)
        medians.append(value)
        print(f"profile {i + 1}: median {value * 1e3:.1f} us ({result.latency_ms.repeats} passes)")
    spread = max(medians) / min(medians)
    ratio = latency_ratio((model, None), (twin, None), inputs, threads=args.threads)
    low, high = ratio.ci95
    print()
    print(f"{'check':<42} {'value':>8} {'goal':>14} {'ok':>4}")
    print(
        f"{f'max/min of {args.profiles} profiles of one model':<42} {spread:>8.3f} "
        f"{'<= 1.10':>14} {'yes' if spread <= 1.10 else 'no':>4}"
    )
    print(
        f"{'same-compute pair, side by side':<42} {ratio.value:>8.3f} {'[0.95, 1.05]':>14} "
        f"{'yes' if 0.95 <= ratio.value <= 1.05 else 'no':>4}"
    )
    print(f"{'  its 95 % interval':<42} [{low:.3f}, {high:.3f}] over {ratio.rounds} rounds")
    print(f"{'  load average per core while timed':<42} {ratio.load_per_core or 0.0:.2f}")


if __name__ == "__main__":
    main()
