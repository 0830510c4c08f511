"""How much of the front does the default sampler find, for how many trials?

On ``mnist1d-cnn``, the same space (widths x feasible sparsity, unstructured) is searched in one
run: once by the exhaustive grid (every width x ``--levels`` sparsities of its feasible
interval), then ``--seeds`` times each by the default sampler and by random sampling, with
``--fraction`` of the grid's trials. The hypervolume of each front is computed with one common
normalisation and reference point (the worst value of each objective over all studies, +10 % of
its range), and given as a share of the grid's. One seed is one draw of luck; the mean and the
worst over seeds say which sampler to trust.

Objectives are the task metric and the exact footprint in bytes: a latency objective would make
the comparison measure timing noise rather than the sampler. The seeded iso-footprint pairs are
off, so that both samplers start from nothing.

    .venv/bin/python bench/search_efficiency.py [--levels 8] [--fraction 0.3] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume
from optuna.trial import TrialState

from prunefront.config import RunConfig
from prunefront.search import plan_search, run_search

WIDTHS = [0.25, 0.375, 0.5, 0.625, 0.75, 1.0]


def run(
    sampler: str, trials: int, args: argparse.Namespace, root: Path, seed: int = 1
) -> tuple[optuna.Study, float]:
    config = RunConfig.from_dict(
        {
            "task": {"ref": "mnist1d-cnn", "options": {"epochs": args.epochs}},
            "space": {"widths": WIDTHS, "sparsity_max": 0.97, "iso_levels": 0},
            "budget": {"bytes": args.budget},
            "target": {"latency_min_time_s": 0.05, "latency_max_time_s": 0.5},
            "objectives": {"names": ["metric", "footprint_bytes"], "energy": "never"},
            "search": {
                "trials": trials,
                "sampler": sampler,
                "grid_sparsities": args.levels,
                "seed": seed,
                "run_dir": str(root / f"{sampler}-{seed}"),
                "study_name": sampler,
                "warm_start": True,
            },
        }
    )
    started = time.perf_counter()
    study = run_search(plan_search(config), say=lambda line: None)
    return study, time.perf_counter() - started


def points(study: optuna.Study) -> np.ndarray:
    rows = [
        (-t.values[0], t.values[1])  # maximise accuracy -> minimise its negative
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if all(v <= 0 for v in t.constraints.values())
    ]
    return np.array(rows, dtype=float)


def copies(study: optuna.Study) -> int:
    """Trials whose sampler draw repeated a trained candidate (they took its results)."""
    return sum("duplicate_of" in t.user_attrs for t in study.get_trials(deepcopy=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--budget", type=int, default=150_000)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid_trials = len(WIDTHS) * args.levels
    few = max(1, int(grid_trials * args.fraction))
    samplers = {"grid": ("grid", grid_trials, [1])}
    seeds = list(range(1, args.seeds + 1))
    samplers |= {"default (auto)": ("auto", few, seeds), "random": ("random", few, seeds)}
    clouds: dict[str, list[np.ndarray]] = {}
    minutes: dict[str, float] = {}
    repeats: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (sampler, trials, its_seeds) in samplers.items():
            runs = [run(sampler, trials, args, Path(tmp), seed) for seed in its_seeds]
            clouds[name] = [points(study) for study, _ in runs]
            minutes[name] = sum(seconds for _, seconds in runs) / 60 / len(runs)
            repeats[name] = statistics.mean(copies(study) for study, _ in runs)
    everything = np.vstack([cloud for name in clouds for cloud in clouds[name]])
    low, high = everything.min(axis=0), everything.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    reference = np.full(2, 1.1)

    def hv(cloud: np.ndarray) -> float:
        return float(compute_hypervolume((cloud - low) / span, reference))

    grid_hv = hv(clouds["grid"][0])
    print(f"\nmnist1d-cnn, budget {args.budget} B, {len(WIDTHS)} widths x {args.levels} sparsities")
    print(
        f"{'sampler':<16}{'trials':>7}{'seeds':>6}{'mean of grid':>14}{'worst':>8}{'best':>8}"
        f"{'min/run':>9}{'copies/run':>11}"
    )
    for name, (_, trials, its_seeds) in samplers.items():
        shares = [hv(cloud) / grid_hv for cloud in clouds[name]]
        print(
            f"{name:<16}{trials:>7}{len(its_seeds):>6}{statistics.mean(shares):>14.1%}"
            f"{min(shares):>8.1%}{max(shares):>8.1%}{minutes[name]:>9.1f}{repeats[name]:>11.1f}"
        )


if __name__ == "__main__":
    main()
