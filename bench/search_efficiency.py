"""How much of the front does the default sampler find, for how many trials?

On ``mnist1d-cnn``, the same space (widths x feasible sparsity, unstructured) is searched three
times in one run: the exhaustive grid (every width x ``--levels`` sparsities of its feasible
interval), the default sampler with ``--fraction`` of the grid's trials, and random sampling with
as many. The hypervolume of each front is computed with one common normalisation and reference
point (the worst value of each objective over all three studies, +10 % of its range).

Objectives are the task metric and the exact footprint in bytes, both deterministic: a latency
objective would make the comparison measure timing noise rather than the sampler.

    .venv/bin/python bench/search_efficiency.py [--levels 8] [--fraction 0.3] [--epochs 8]
"""

from __future__ import annotations

import argparse
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
    sampler: str, trials: int, args: argparse.Namespace, root: Path
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
                "seed": 1,
                "run_dir": str(root / sampler),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--budget", type=int, default=150_000)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid_trials = len(WIDTHS) * args.levels
    few = max(1, int(grid_trials * args.fraction))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studies = {
            "grid": run("grid", grid_trials, args, root),
            "default (auto)": run("auto", few, args, root),
            "random": run("random", few, args, root),
        }
        clouds = {name: points(study) for name, (study, _) in studies.items()}
        completed = {
            name: len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            for name, (study, _) in studies.items()
        }
    everything = np.vstack(list(clouds.values()))
    low, high = everything.min(axis=0), everything.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    reference = np.full(2, 1.1)

    def hv(cloud: np.ndarray) -> float:
        return float(compute_hypervolume((cloud - low) / span, reference))

    grid_hv = hv(clouds["grid"])
    print(f"\nmnist1d-cnn, budget {args.budget} B, {len(WIDTHS)} widths x {args.levels} sparsities")
    print(f"{'sampler':<16}{'trials':>8}{'hypervolume':>14}{'of grid':>9}{'minutes':>9}")
    for name, (_, seconds) in studies.items():
        n = completed[name]
        value = hv(clouds[name])
        print(f"{name:<16}{n:>8}{value:>14.4f}{value / grid_hv:>9.1%}{seconds / 60:>9.1f}")


if __name__ == "__main__":
    main()
