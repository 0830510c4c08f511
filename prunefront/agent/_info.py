"""What the device is: CPU, board, OS, ONNX Runtime and its execution providers (torch-free).

Read from the device's own files (``/proc/cpuinfo``, ``/proc/device-tree/model`` on Jetsons and
Raspberry Pis, ``/etc/nv_tegra_release`` for the L4T release) and, under Termux, Android's
``getprop``. Every lookup that fails is simply left out: describing a device never fails.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["describe_agent_device", "onnxruntime_providers"]


def _first_line(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None
    return text.splitlines()[0].strip() if text else None


def _cpu_model(root: Path) -> str:
    try:
        lines = (root / "proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in lines:
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _android_model() -> str | None:
    if shutil.which("getprop") is None:
        return None
    try:
        done = subprocess.run(
            ["getprop", "ro.product.model"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _memory_bytes(root: Path) -> int | None:
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def onnxruntime_providers() -> list[str]:
    """The execution providers this ONNX Runtime build offers."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def describe_agent_device(root: Path | str = Path("/")) -> dict[str, Any]:
    """The agent's device, JSON-ready.

    Args:
        root: Filesystem root for ``/proc`` and ``/etc`` files (tests point it elsewhere).
    """
    import numpy as np
    import onnxruntime as ort

    base = Path(root)
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(base),
        "logical_cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(base),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "onnxruntime_version": ort.__version__,
        "onnxruntime_device": ort.get_device(),
        "providers": onnxruntime_providers(),
    }
    board = _first_line(base / "proc/device-tree/model") or _android_model()
    if board:
        info["board"] = board
    l4t = _first_line(base / "etc/nv_tegra_release")
    if l4t:
        info["l4t_release"] = l4t
    return info
