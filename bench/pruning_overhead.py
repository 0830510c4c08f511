"""Cost of the pruner in the training loop: time per step, pruned over plain dense, side by side.

For each built-in task, three variants of the same training step run interleaved in one process
(blocks of steps in rotating order, so machine noise hits all three alike):
  dense        plain optimizer steps;
  prunefront   the same steps with ``GradualPruner.on_step`` (mask updates at the schedule's rate);
  torch.prune  ``torch.nn.utils.prune`` re-parametrisation (forward pre-hook + weight_orig), masks
               recomputed with ``l1_unstructured`` at the same steps.
Prints the median seconds per step and the ratios to dense. Goal: prunefront <= 1.10x dense.

    .venv/bin/python bench/pruning_overhead.py [--steps 300] [--block 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from prunefront.pruning import GradualPruner, PolynomialDecay, find_prunable
from prunefront.tasks import resolve_task

Step = Callable[[int], None]


def _loss(output: object) -> torch.Tensor:
    if isinstance(output, tuple):
        output = output[0]
    assert isinstance(output, torch.Tensor)
    return output.float().pow(2).mean()


def make_step(model: nn.Module, inputs: tuple[torch.Tensor, ...], after: Step | None) -> Step:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(index: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        _loss(model(*inputs)).backward()
        optimizer.step()
        if after is not None:
            after(index)

    return step


def torch_prune_hook(model: nn.Module, schedule: PolynomialDecay) -> Step:
    targets = [(t.module, t.param_name) for t in find_prunable(model)]
    for module, name in targets:
        torch_prune.identity(module, name)

    def after(index: int) -> None:
        if schedule.is_update_step(index):
            amount = schedule.sparsity(index)
            for module, name in targets:
                torch_prune.l1_unstructured(module, name, amount=amount)

    return after


def bench_task(task_ref: str, steps: int, block: int, batch: int) -> dict[str, float]:
    task = resolve_task(task_ref)
    torch.manual_seed(0)
    base = task.build(1.0)
    inputs = task.example_inputs(batch)
    schedule = PolynomialDecay(
        final_sparsity=0.9, end_step=steps - 1, frequency=max(1, steps // 20)
    )
    dense_model, pf_model, tp_model = (copy.deepcopy(base) for _ in range(3))
    pruner = GradualPruner(pf_model, schedule)
    variants = {
        "dense": make_step(dense_model, inputs, None),
        "prunefront": make_step(pf_model, inputs, pruner.on_step),
        "torch.prune": make_step(tp_model, inputs, torch_prune_hook(tp_model, schedule)),
    }
    for step in variants.values():  # warm-up (allocator, kernels)
        for i in range(3):
            step(i)
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for start in range(0, steps, block):
        order = order[1:] + order[:1]
        for name in order:
            t0 = time.perf_counter()
            for i in range(start, min(start + block, steps)):
                variants[name](i)
            times[name].append((time.perf_counter() - t0) / (min(start + block, steps) - start))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks", default="mnist1d-cnn,charlm-lstm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for task_ref in args.tasks.split(","):
        batch = 64
        result = bench_task(task_ref, args.steps, args.block, batch)
        rows.append((task_ref, result))
    print(f"\nper-step time, median of blocks of {args.block} steps, {args.threads} threads")
    header = (
        f"{'task':<14}{'dense ms':>10}{'prunefront ms':>15}{'ratio':>8}"
        f"{'torch.prune ms':>16}{'ratio':>8}"
    )
    print(header)
    for task_ref, r in rows:
        print(
            f"{task_ref:<14}{r['dense'] * 1e3:>10.2f}{r['prunefront'] * 1e3:>15.2f}"
            f"{r['prunefront'] / r['dense']:>8.3f}{r['torch.prune'] * 1e3:>16.2f}"
            f"{r['torch.prune'] / r['dense']:>8.3f}"
        )


if __name__ == "__main__":
    main()
