"""When do sparse kernels beat masked-dense on this CPU, and does the profiler pick them there?

For a square ``nn.Linear`` of 1024 and 4096 features, at batch 1 and 64, pruned by magnitude to
each sparsity, this measures masked-dense and the sparse strategies (CSR, BSR where it applies)
side by side: one round times every variant once, in rotating order, so that load from other
processes on a shared machine hits all of them alike. It prints the measured speed-up
``dense / best sparse`` next to the ideal ``1 / (1 - s)`` and, from an independent run of
``profile_candidate``, which strategy the profiler picks and whether that agrees with the
side-by-side measurement (a ``~`` marks a near-tie, within 5 %, where either pick is fine).

    .venv/bin/python bench/sparse_speedup.py            # the full grid, ~3 minutes
    .venv/bin/python bench/sparse_speedup.py --quick    # 4096 features, batch 64 only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from prunefront.profilers import (
    LatencySettings,
    ProfileSettings,
    StrategySettings,
    compare_outputs,
    pinned_threads,
    prepare_strategy,
    profile_candidate,
)
from prunefront.pruning import magnitude_prune

SPARSE = ("csr", "bsr")
TIE = 0.05


def _side_by_side(fns: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Median ms per call of each variant, timed in interleaved rounds for ``seconds``."""
    calls = {}
    for name, fn in fns.items():
        fn()
        start = time.perf_counter()
        fn()
        calls[name] = max(1, int(0.5e-3 / max(time.perf_counter() - start, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    end = time.perf_counter() + seconds
    rounds = 0
    while rounds < 15 or time.perf_counter() < end:
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            for _ in range(calls[name]):
                fns[name]()
            samples[name].append((time.perf_counter() - start) * 1e3 / calls[name])
        rounds += 1
    return {name: statistics.median(values) for name, values in samples.items()}


def _runs_and_matches(model: nn.Module, x: torch.Tensor, reference: torch.Tensor) -> bool:
    try:
        return compare_outputs(model(x), reference).matches
    except RuntimeError:
        return False


def _row(features: int, batch: int, sparsity: float, threads: int, seconds: float) -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(features, features)).eval()
    magnitude_prune(model, sparsity)
    x = torch.randn(batch, features)
    settings = StrategySettings(min_sparsity=0.0)
    variants: dict[str, nn.Module] = {"masked_dense": model}
    with pinned_threads(threads), torch.inference_mode():
        reference = model(x)
        for name in SPARSE:
            prepared = prepare_strategy(name, model, torch.device("cpu"), settings)
            if prepared.model is not None and _runs_and_matches(prepared.model, x, reference):
                variants[name] = prepared.model.eval()
        fns = {name: (lambda m=m: m(x)) for name, m in variants.items()}
        medians = _side_by_side(fns, seconds)
    best = min((n for n in medians if n != "masked_dense"), key=medians.__getitem__)
    profile = profile_candidate(
        model,
        (x,),
        threads=threads,
        energy="off",
        strategies=("masked_dense", *SPARSE),
        settings=ProfileSettings(
            latency=LatencySettings(min_time_s=seconds, max_time_s=4 * seconds),
            strategies=settings,
        ),
    )
    speedup = medians["masked_dense"] / medians[best]
    sparse_wins = speedup > 1.0
    picked_sparse = profile.strategy != "masked_dense"
    agrees = "yes" if picked_sparse == sparse_wins else "NO"
    if abs(speedup - 1.0) <= TIE:
        agrees = "~"
    return {
        "features": features,
        "batch": batch,
        "sparsity": sparsity,
        "dense_ms": medians["masked_dense"],
        "best": best,
        "best_ms": medians[best],
        "speedup": speedup,
        "ideal": 1.0 / (1.0 - sparsity),
        "picked": profile.strategy,
        "agrees": agrees,
    }


def _print_table(rows: list[dict], threads: int) -> None:
    print(
        f"\nsparse speed-up over masked-dense, nn.Linear, CPU, {threads} thread(s), "
        f"torch {torch.__version__}"
    )
    head = (
        f"{'feat':>5} {'batch':>5} {'sparsity':>8} {'dense ms':>9} {'sparse ms':>10} "
        f"{'speed-up':>8} {'ideal':>6}  {'profiler picks':<14} {'agrees':<6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['features']:>5} {r['batch']:>5} {r['sparsity']:>8.2f} {r['dense_ms']:>9.3f} "
            f"{r['best_ms']:>10.3f} {r['speedup']:>7.2f}x {r['ideal']:>5.0f}x  "
            f"{r['picked']:<14} {r['agrees']:<6}"
        )
    key = [r for r in rows if (r["features"], r["batch"], r["sparsity"]) == (4096, 64, 0.95)]
    if key:
        verdict = "meets" if key[0]["speedup"] >= 2.0 else "MISSES"
        print(f"4096x4096, 95 %, batch 64: {key[0]['speedup']:.2f}x ({verdict} the 2x goal)")
    disagreements = sum(r["agrees"] == "NO" for r in rows)
    print(f"profiler picks disagreeing with the side-by-side winner: {disagreements}/{len(rows)}")


def main() -> None:
    """Run the grid and print the table last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # One thread by default: on a shared 2-core box a second OpenMP thread that loses its core
    # stalls every barrier, which swamps the kernels being compared.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per configuration")
    parser.add_argument("--quick", action="store_true", help="4096 features, batch 64 only")
    args = parser.parse_args()
    sizes, batches = ((4096,), (64,)) if args.quick else ((1024, 4096), (1, 64))
    sparsities = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    rows = []
    for features in sizes:
        for batch in batches:
            for sparsity in sparsities:
                rows.append(_row(features, batch, sparsity, args.threads, args.seconds))
                r = rows[-1]
                print(
                    f"{features} x{batch} s={sparsity}: {r['speedup']:.2f}x, picks {r['picked']}",
                    file=sys.stderr,
                    flush=True,
                )
    _print_table(rows, args.threads)


if __name__ == "__main__":
    main()
