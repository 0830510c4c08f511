"""Peak resident memory of a process around one forward pass (torch-free).

The number is the process's resident-set high-water mark (``VmHWM``), reset just before the pass
by writing ``5`` to ``/proc/self/clear_refs``: scope ``process`` — it includes the interpreter,
the runtime and the model itself, not the forward pass alone (the increase over the RSS before
the pass is in ``details``). Where the mark cannot be reset, ``getrusage``'s lifetime maximum is
reported and flagged as an upper bound. Used for CPU profiles and by the remote agent.
"""

from __future__ import annotations

import re
import resource
import sys
from collections.abc import Callable
from pathlib import Path

from prunefront.sensors._measurement import Measurement

__all__ = ["measure_process_peak_memory"]

_NAME = "peak_memory_bytes"


def _status_kib(proc_self: Path, field: str) -> int | None:
    try:
        text = (proc_self / "status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", text, flags=re.MULTILINE)
    return int(match[1]) * 1024 if match else None


def _reset_hwm(proc_self: Path) -> bool:
    try:
        (proc_self / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_process_peak_memory(
    run_once: Callable[[], object], proc_self: Path | str = Path("/proc/self")
) -> Measurement:
    """Run ``run_once`` and return the process's resident-set high-water mark during it.

    Args:
        run_once: One forward pass.
        proc_self: The ``/proc/self`` directory to read (tests point it elsewhere).
    """
    proc_self = Path(proc_self)
    before = _status_kib(proc_self, "VmRSS")
    if before is not None and _reset_hwm(proc_self):
        run_once()
        peak = _status_kib(proc_self, "VmHWM")
        if peak is not None:
            return Measurement(
                name=_NAME,
                value=float(peak),
                kind="measured",
                method="vmhwm",
                scope="process",
                repeats=1,
                details={"rss_before_bytes": before, "increase_bytes": peak - before},
            )
    run_once()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    peak_bytes = maxrss if sys.platform == "darwin" else maxrss * 1024
    return Measurement(
        name=_NAME,
        value=float(peak_bytes),
        kind="measured",
        method="getrusage_maxrss",
        scope="process",
        repeats=1,
        notes=("high-water mark since the process started (could not be reset): an upper bound",),
    )
