"""Compressed ONNX vs the footprint vs dense ONNX, each file checked with ONNX Runtime.

For each built-in task at full width, the model is magnitude-pruned (one shot, per layer) to each
sparsity, written as dense ONNX and as compressed ONNX (``compress_onnx``), and both files are run
with ONNX Runtime (CPU): outputs against torch, then latency of the two sessions timed
interleaved (the compressed file's weights are rebuilt once at session creation, so the two
should run alike). Goal: compressed bytes <= 1.05 x footprint + 8 kB.

    .venv/bin/python bench/export_sizes.py [--tasks mnist1d-cnn,charlm-lstm] [--dtype float32]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import onnx
import torch

from prunefront.export import compare_onnx, compress_onnx, export_onnx
from prunefront.profilers import (
    LatencySettings,
    perf_counter_timer,
    pinned_threads,
    time_interleaved,
)
from prunefront.pruning import magnitude_prune
from prunefront.spaces import model_footprint, round_to_dtype
from prunefront.tasks import resolve_task


def _session(path: Path, inputs: tuple[torch.Tensor, ...]):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {a.name: t.numpy() for a, t in zip(session.get_inputs(), inputs, strict=True)}
    return lambda: session.run(None, feeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="mnist1d-cnn,charlm-lstm")
    parser.add_argument("--sparsities", default="0,0.5,0.8,0.95")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = (
        f"{'task':12s} {'sparsity':>8s} {'footprint B':>12s} {'compressed B':>13s} {'x fp':>6s}"
        f" {'dense ONNX B':>13s} {'ORT ok':>6s} {'max err':>9s} {'ms compr':>9s} {'ms dense':>9s}"
    )
    print(f"\ndtype {args.dtype}; one thread; latency medians timed interleaved\n{header}")
    for ref in args.tasks.split(","):
        task = resolve_task(ref)
        for sparsity in (float(s) for s in args.sparsities.split(",")):
            torch.manual_seed(0)
            model = task.build(1.0).eval()
            if sparsity > 0:
                magnitude_prune(model, sparsity)
            round_to_dtype(model, args.dtype)
            inputs = tuple(task.example_inputs(1))
            footprint = model_footprint(model, dtype=args.dtype).footprint_bytes
            with tempfile.TemporaryDirectory() as folder:
                dense = export_onnx(model, inputs, Path(folder) / "dense.onnx")
                small = Path(folder) / "small.onnx"
                onnx.save(
                    compress_onnx(onnx.load(str(dense.path)), dtype=args.dtype).model, str(small)
                )
                check = compare_onnx(small, model, inputs)
                with pinned_threads(1):
                    stats = time_interleaved(
                        {"small": _session(small, inputs), "dense": _session(dense.path, inputs)},
                        settings=LatencySettings(min_time_s=1.0, max_time_s=4.0),
                        timer=perf_counter_timer(),
                    )
                size = small.stat().st_size
                ratio = size / footprint
                print(
                    f"{ref:12s} {sparsity:8.2f} {footprint:12,d} {size:13,d} {ratio:6.3f}"
                    f" {dense.size_bytes:13,d} {check.matches!s:>6s} {check.max_abs_error:9.2g}"
                    f" {stats['small'].p50_ms:9.4f} {stats['dense'].p50_ms:9.4f}"
                )


if __name__ == "__main__":
    main()
