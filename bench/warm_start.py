"""Trials per hour with and without the warm-start cache, side by side in one run.

The same fixed list of trials (every width x every sparsity, one seed) runs twice in one process:
  cold   ``train_candidate`` from scratch, as with ``search.warm_start = false``;
  warm   ``train_candidate`` with a fresh ``WarmStartCache``: the first trial of a width trains
         from scratch and saves the dense warm-up (a miss), later ones resume from it (hits).
The two run interleaved trial by trial, alternating which goes first, so machine noise hits both
alike. Timed: build + train + evaluate + size (``train_candidate``). The profile is left out: it
is the same for both (the cache changes nothing after training), so in a search it adds the same
seconds to each side and the ratio there is lower by that much. Every warm trial's metric and
weights are checked bit-identical to its cold twin. Goal: warm >= 1.3x cold trials per hour with
pruning beginning after a third of training (the default schedule). Wall time is what trials per
hour means; process CPU time is shown too, as it is less disturbed by other work on the machine.
One torch thread by default: on a small shared machine a thread pool waiting for a descheduled
worker measures the contention. ``--repeats`` reruns the whole sequence and takes per-trial medians.

    .venv/bin/python bench/warm_start.py [--widths 0.5,1.0] [--sparsities 0,0.3,...,0.97]
        [--threads 1] [--epochs 15] [--repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from prunefront.candidate import Candidate, PruningSettings, TrainResult, train_candidate
from prunefront.search._cache import WarmStartCache
from prunefront.tasks import Mnist1dCnn

Timing = dict[str, float]


def _run(
    task: Mnist1dCnn, candidate: Candidate, cache: WarmStartCache | None
) -> tuple[Timing, TrainResult, dict[str, torch.Tensor]]:
    wall, cpu = time.perf_counter(), time.process_time()
    model, result = train_candidate(
        task, candidate, seed=0, settings=PruningSettings(), warm_start=cache
    )
    timing = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return timing, result, model.state_dict()


def _identical(
    a: tuple[Timing, TrainResult, dict[str, torch.Tensor]],
    b: tuple[Timing, TrainResult, dict[str, torch.Tensor]],
) -> bool:
    return a[1].metric_value == b[1].metric_value and all(
        torch.equal(a[2][k], b[2][k]) for k in a[2]
    )


def _sequence(
    task: Mnist1dCnn, trials: list[Candidate], say: bool
) -> tuple[list[dict[str, Timing]], list[str]]:
    """Run every trial cold and warm (fresh cache), interleaved; per-trial timings and outcomes."""
    timings: list[dict[str, Timing]] = []
    outcomes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = WarmStartCache(Path(tmp), "bench-mnist1d-cnn")
        for index, candidate in enumerate(trials):
            order = ["cold", "warm"] if index % 2 == 0 else ["warm", "cold"]
            done = {v: _run(task, candidate, cache if v == "warm" else None) for v in order}
            if not _identical(done["cold"], done["warm"]):
                raise SystemExit(f"trial {index}: warm result differs from cold ({candidate})")
            timings.append({v: done[v][0] for v in ("cold", "warm")})
            outcomes.append(done["warm"][1].warm_start)
            if say:
                cold, warm = timings[-1]["cold"]["wall"], timings[-1]["warm"]["wall"]
                print(
                    f"  trial {index}: width {candidate.width:<4} sparsity {candidate.sparsity:<5}"
                    f" cold {cold:6.2f} s  warm {warm:6.2f} s ({outcomes[-1]}), identical"
                )
    return timings, outcomes


def _row(
    label: str, trials: int, wall: float, cpu: float, ratio_wall: float, ratio_cpu: float
) -> str:
    rate = trials * 3600.0 / wall
    return (
        f"{label:<26}{trials:>7}{wall:>9.1f}{rate:>10.0f}{ratio_wall:>7.2f}"
        f"{cpu:>9.1f}{ratio_cpu:>7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="0.5,1.0")
    # Eight trials per width, as an overnight search of tens of trials over a few widths runs;
    # with 4 per width the one unavoidable miss of each width caps the ratio at 1.33x.
    parser.add_argument("--sparsities", default="0,0.3,0.5,0.7,0.8,0.9,0.95,0.97")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=1, help="whole sequences; medians per trial")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    widths = [float(w) for w in args.widths.split(",")]
    sparsities = [float(s) for s in args.sparsities.split(",")]
    # Widths alternate, as a search's sampler moves between them.
    trials = [Candidate(width=w, sparsity=s) for s in sparsities for w in widths]
    task = Mnist1dCnn(epochs=args.epochs)
    task.evaluate(task.build(widths[0]), device="cpu")  # generate the data outside the timing
    total = task.total_steps()
    print(
        f"mnist1d-cnn: {total} steps, pruning begins at step "
        f"{round(PruningSettings().begin_frac * total)}; {len(trials)} trials "
        f"(widths {widths} x sparsities {sparsities}, seed 0); {args.threads} thread(s); "
        f"{args.repeats} repeat(s)"
    )
    runs = [_sequence(task, trials, say=True) for _ in range(args.repeats)]
    outcomes = runs[0][1]
    median = {
        (i, v, k): statistics.median(r[0][i][v][k] for r in runs)
        for i in range(len(trials))
        for v in ("cold", "warm")
        for k in ("wall", "cpu")
    }

    def total_of(variant: str, kind: str, only: str | None = None) -> float:
        return sum(
            median[i, variant, kind]
            for i in range(len(trials))
            if only is None or outcomes[i] == only
        )

    hits = outcomes.count("hit")
    kept = 1.0 - round(PruningSettings().begin_frac * total) / total
    ceiling = len(trials) / (len(trials) - hits + hits * kept)
    print(
        "\ntimed: build + train + evaluate per trial (the profile is excluded: it is identical for"
        " both);\nevery warm result bit-identical to its cold twin; ratio = warm / cold trials/h;"
        f"\nceiling if a hit cost exactly {kept:.3f} of a cold trial: {ceiling:.2f} overall, "
        f"{1 / kept:.2f} for hits"
    )
    print(
        f"{'variant':<26}{'trials':>7}{'wall s':>9}{'trials/h':>10}{'ratio':>7}"
        f"{'cpu s':>9}{'ratio':>7}"
    )
    cold_wall, cold_cpu = total_of("cold", "wall"), total_of("cold", "cpu")
    warm_wall, warm_cpu = total_of("warm", "wall"), total_of("warm", "cpu")
    print(_row("cold (no cache)", len(trials), cold_wall, cold_cpu, 1.0, 1.0))
    label = f"warm ({len(trials) - hits} miss, {hits} hit)"
    print(_row(label, len(trials), warm_wall, warm_cpu, cold_wall / warm_wall, cold_cpu / warm_cpu))
    if hits:
        hw, hc = total_of("warm", "wall", "hit"), total_of("warm", "cpu", "hit")
        cw, cc = total_of("cold", "wall", "hit"), total_of("cold", "cpu", "hit")
        print(_row("hits only (steady state)", hits, hw, hc, cw / hw, cc / hc))


if __name__ == "__main__":
    main()
