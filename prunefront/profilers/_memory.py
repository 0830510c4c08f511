"""Peak runtime memory of a forward pass: what inference of this model needs.

With the model at hand (``model=``) on the CPU, the number is the model's own: the bytes of its
weights and buffers as they are held in memory (dense, or the sparse tensors a strategy made)
plus the peak of the tensors the forward pass allocates, read from PyTorch's allocator records
(the profiler's memory events, replayed in time order): method ``torch_profiler_allocations``,
scope ``model_inference``. The process's resident-set high-water mark, which includes the
interpreter and the libraries (hundreds of MB for a 100 kB model), is kept in the details as
``process_peak_bytes`` and never reported as the model's memory.

On CUDA the allocator's peak (``torch.cuda.max_memory_allocated``, reset just before) covers
tensors this process allocated on the device: scope ``cuda_allocator``. On the CPU the number is
the process's resident-set high-water mark (``VmHWM``), reset just before the pass by writing
``5`` to ``/proc/self/clear_refs``: scope ``process`` — it includes the interpreter, torch and
the model itself, not the forward pass alone (the increase over the RSS before the pass is in
``details``). Where the mark cannot be reset, ``getrusage``'s lifetime maximum is reported and
flagged as an upper bound.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from prunefront.sensors import Measurement, measure_process_peak_memory

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


def tensor_bytes(tensor: torch.Tensor) -> int:
    """Bytes a tensor holds: its storage, or a sparse tensor's values and index arrays."""
    layout = tensor.layout
    if layout in (torch.sparse_csr, torch.sparse_bsr):
        parts = [tensor.values(), tensor.crow_indices(), tensor.col_indices()]
    elif layout in (torch.sparse_csc, torch.sparse_bsc):
        parts = [tensor.values(), tensor.ccol_indices(), tensor.row_indices()]
    elif layout == torch.sparse_coo:
        parts = [tensor._values(), tensor._indices()]
    elif hasattr(tensor, "packed") and getattr(tensor, "packed", None) is not None:
        parts = [t for t in (tensor.packed, getattr(tensor, "meta", None)) if t is not None]
    else:
        return int(tensor.numel() * tensor.element_size())
    return sum(int(t.numel() * t.element_size()) for t in parts)


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's parameters and buffers as held in memory (shared tensors once)."""
    seen: set[int] = set()
    total = 0
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor_bytes(tensor.data if isinstance(tensor, torch.nn.Parameter) else tensor)
    return total


@contextlib.contextmanager
def _native_stderr_filtered() -> Iterator[None]:
    """Drop the profiler's native ``USDT: ... profiler_start/stop`` lines from fd 2.

    They are written by C++ code straight to the file descriptor; anything else written there
    meanwhile is passed on.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(True) if b"USDT:" not in line]
            if kept:
                os.write(2, b"".join(kept))


def _events(run_once: Callable[[], object]) -> list[Any]:
    with _native_stderr_filtered():
        try:  # the legacy profiler starts in ms; Kineto's first start takes seconds
            with torch.autograd.profiler.profile(profile_memory=True, use_kineto=False) as prof:
                run_once()
            return list(prof.function_events)
        except (RuntimeError, TypeError, AssertionError):
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as kineto:
                run_once()
            return list(kineto.events())


def forward_peak_allocation_bytes(run_once: Callable[[], object]) -> int:
    """Peak of the bytes one pass allocates beyond what was live before it (allocator records).

    PyTorch's profiler records every allocation with its operator and every free as a memory
    event; replayed in time order, their running sum peaks at the pass's working set
    (activations, temporaries and outputs).
    """
    events = sorted(
        (e for e in _events(run_once) if e.self_cpu_memory_usage),
        key=lambda e: e.time_range.start,
    )
    live = peak = 0
    for event in events:
        live += int(event.self_cpu_memory_usage)
        peak = max(peak, live)
    return peak


def _model_peak(
    run_once: Callable[[], object], model: torch.nn.Module, proc_self: Path
) -> Measurement:
    weights = model_bytes(model)
    process = measure_process_peak_memory(run_once, proc_self)
    try:
        activations = forward_peak_allocation_bytes(run_once)
    except RuntimeError as error:  # a profiler already running (nested), or none available
        return Measurement.unavailable(
            _NAME,
            method="torch_profiler_allocations",
            scope="model_inference",
            reason=f"the allocator records could not be read: {error}",
        )
    return Measurement(
        name=_NAME,
        value=float(weights + activations),
        kind="measured",
        method="torch_profiler_allocations",
        scope="model_inference",
        repeats=1,
        details={
            "weights_bytes": weights,
            "forward_peak_bytes": activations,
            "process_peak_bytes": process.value,
            "process_peak_method": process.method,
        },
    )


def measure_peak_memory(
    run_once: Callable[[], object],
    device: torch.device | str,
    *,
    model: torch.nn.Module | None = None,
    proc_self: Path | str = Path("/proc/self"),
) -> Measurement:
    """Run one forward pass and return its peak runtime memory, labelled with what it covers.

    Args:
        run_once: One forward pass.
        device: Where it runs; CUDA uses the allocator's peak.
        model: The model ``run_once`` runs: on the CPU its weights plus the pass's peak
            allocations (scope ``model_inference``); without it, the process RSS peak (scope
            ``process``).
        proc_self: The ``/proc/self`` directory to read (tests point it elsewhere).
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return _cuda_peak(run_once, dev)
    if model is not None:
        return _model_peak(run_once, model, Path(proc_self))
    return measure_process_peak_memory(run_once, Path(proc_self))
