"""Peak runtime memory of a forward pass: the CUDA allocator's peak, or the process RSS peak.

On CUDA the allocator's peak (``torch.cuda.max_memory_allocated``, reset just before) covers
tensors this process allocated on the device: scope ``cuda_allocator``. On the CPU the number is
the process's resident-set high-water mark (``VmHWM``), reset just before the pass by writing
``5`` to ``/proc/self/clear_refs``: scope ``process`` — it includes the interpreter, torch and
the model itself, not the forward pass alone (the increase over the RSS before the pass is in
``details``). Where the mark cannot be reset, ``getrusage``'s lifetime maximum is reported and
flagged as an upper bound.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from prunefront.sensors._measurement import Measurement
from prunefront.sensors._memory import measure_process_peak_memory

__all__ = ["measure_peak_memory"]

_NAME = "peak_memory_bytes"


def _cuda_peak(run_once: Callable[[], object], device: torch.device) -> Measurement:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run_once()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return Measurement(
        name=_NAME,
        value=float(peak),
        kind="measured",
        method="torch_cuda_max_memory_allocated",
        scope="cuda_allocator",
        repeats=1,
        details={"allocated_before_bytes": before, "increase_bytes": peak - before},
    )


def measure_peak_memory(
    run_once: Callable[[], object],
    device: torch.device | str,
    *,
    proc_self: Path | str = Path("/proc/self"),
) -> Measurement:
    """Run one forward pass and return its peak runtime memory, labelled with what it covers.

    Args:
        run_once: One forward pass.
        device: Where it runs; CUDA uses the allocator's peak, anything else the process RSS.
        proc_self: The ``/proc/self`` directory to read (tests point it elsewhere).
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return _cuda_peak(run_once, dev)
    return measure_process_peak_memory(run_once, Path(proc_self))
