"""Peak runtime memory on the CPU: the process RSS high-water mark, labelled as such."""

from __future__ import annotations

from pathlib import Path

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
