"""Peak runtime memory on the CPU: the process RSS high-water mark, labelled as such."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunefront.profilers import measure_peak_memory


def test_cpu_peak_memory_sees_an_allocation_inside_the_pass() -> None:
    held: list[torch.Tensor] = []

    def run_once() -> None:
        block = torch.ones(16 * 2**20 // 4)  # 16 MiB, touched
        held.append(block)

    record = measure_peak_memory(run_once, "cpu")
    assert record.kind == "measured"
    assert record.scope == "process"
    assert record.unit == "bytes"
    assert record.value is not None
    if record.method == "vmhwm":
        assert record.details["increase_bytes"] >= 15 * 2**20  # type: ignore[operator]
        assert record.value >= record.details["rss_before_bytes"]  # type: ignore[operator]
    held.clear()


def test_without_a_resettable_mark_the_lifetime_maximum_is_flagged(tmp_path: Path) -> None:
    record = measure_peak_memory(lambda: None, "cpu", proc_self=tmp_path)
    assert record.method == "getrusage_maxrss"
    assert record.value is not None and record.value > 0
    assert record.notes and "upper bound" in record.notes[0]


def test_model_memory_is_its_weights_plus_the_peak_of_one_pass() -> None:
    from torch import nn

    model = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 10)).eval()
    x = torch.randn(64, 256)
    weights = sum(p.numel() * 4 for p in model.parameters())

    def run_once() -> object:
        with torch.inference_mode():
            return model(x)

    record = measure_peak_memory(run_once, "cpu", model=model)
    assert record.kind == "measured" and record.scope == "model_inference"
    assert record.method == "torch_profiler_allocations"
    assert record.details["weights_bytes"] == weights
    # Two 64x1024 float32 activations are alive at once (Linear's output, then ReLU's).
    assert record.details["forward_peak_bytes"] == pytest.approx(2 * 64 * 1024 * 4, rel=0.05)
    assert record.value == weights + record.details["forward_peak_bytes"]
    assert record.details["process_peak_bytes"] > 50 * record.value  # the process, kept apart


def test_a_sparse_weight_counts_its_values_and_indices_not_its_dense_shape() -> None:
    from prunefront.profilers._memory import tensor_bytes

    dense = torch.zeros(100, 100)
    dense[0, :10] = 1.0
    csr = dense.to_sparse_csr()
    assert tensor_bytes(dense) == 40_000
    assert tensor_bytes(csr) == 10 * 4 + 101 * 8 + 10 * 8
