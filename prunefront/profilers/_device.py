"""What the target device is, and what this machine can measure and how (``prunefront doctor``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from prunefront.errors import PrunefrontError
from prunefront.profilers._codecarbon import codecarbon_version
from prunefront.profilers._nvml import (
    NvmlUnavailable,
    counter_supported,
    shared_reader,
    start_nvml,
)
from prunefront.profilers._strategies import semi_structured_support
from prunefront.sensors import DEFAULT_POWERCAP_ROOT, Ina3221Reader, RaplReader

__all__ = ["describe_device", "doctor_report", "parse_device"]


def parse_device(device: torch.device | str) -> torch.device:
    """Validate a device string against this machine.

    Raises:
        PrunefrontError: unknown device, or a CUDA device that is not there.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise PrunefrontError(f"device = {device!r}: not a device ('cpu', 'cuda', 'cuda:1')") from (
            error
        )
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise PrunefrontError(
                f"device = {device!r}: no CUDA device on this machine (use 'cpu')"
            )
        if (dev.index or 0) >= count:
            raise PrunefrontError(f"device = {device!r}: CUDA index must be in 0..{count - 1}")
        dev = torch.device("cuda", dev.index or 0)
    elif dev.type != "cpu":
        raise PrunefrontError(f"device = {device!r}: prunefront profiles on 'cpu' or 'cuda[:N]'")
    return dev


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_device(device: torch.device | str, *, threads: int | None = None) -> dict[str, Any]:
    """Describe the device a profile ran on: CPU model and threads, or GPU name and capability.

    Args:
        device: ``cpu`` or ``cuda[:N]``.
        threads: The intra-op thread count used (default: torch's current count).
    """
    dev = parse_device(device)
    info: dict[str, Any] = {
        "device": str(dev),
        "type": dev.type,
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(
            gpu_name=props.name,
            compute_capability=f"{props.major}.{props.minor}",
            gpu_memory_bytes=int(props.total_memory),
            cuda_version=torch.version.cuda,
        )
    return info


def _two_four_kernels(capability: tuple[int, int]) -> dict[str, str]:
    """The 2:4 kernel per dtype on this capability with this torch, or ``unavailable: why``."""
    cusparselt = torch.backends.cusparselt.is_available()
    kernels = {}
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        support = semi_structured_support(capability, dtype, cusparselt=cusparselt)
        name = str(dtype).removeprefix("torch.")
        kernels[name] = support.backend or f"unavailable: {support.reason}"
    return kernels


def _cuda_section() -> dict[str, Any]:
    if not torch.cuda.is_available():
        reason = (
            "torch was built without CUDA"
            if torch.version.cuda is None
            else "no CUDA device visible (driver missing or CUDA_VISIBLE_DEVICES empty)"
        )
        return {"available": False, "reason": reason, "devices": []}
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append(
            {
                "index": index,
                "name": props.name,
                "compute_capability": f"{props.major}.{props.minor}",
                "semi_structured_2_4": _two_four_kernels((props.major, props.minor)),
            }
        )
    return {"available": True, "reason": None, "torch_cuda": torch.version.cuda, "devices": devices}


def _nvml_section(cuda_devices: int) -> dict[str, Any]:
    try:
        start_nvml()
    except NvmlUnavailable as error:
        return {"available": False, "reason": str(error), "devices": []}
    if cuda_devices == 0:
        none_visible = "NVML works but no CUDA device is visible to torch"
        return {"available": False, "reason": none_visible, "devices": []}
    devices: list[dict[str, Any]] = []
    for index in range(cuda_devices):
        try:
            reader = shared_reader(index)
        except NvmlUnavailable as error:
            devices.append(
                {"cuda_device": f"cuda:{index}", "energy_method": None, "reason": str(error)}
            )
            continue
        has_counter = counter_supported(reader)
        devices.append(
            {
                **reader.device_info(),
                "energy_counter": has_counter,
                "energy_method": "nvml_energy_counter" if has_counter else "nvml_power_integration",
                "power_reading": reader.power_reading,
                "reason": None,
            }
        )
    matched = [d for d in devices if d["energy_method"]]
    reason = None if matched else "; ".join(str(d["reason"]) for d in devices)
    return {"available": bool(matched), "reason": reason, "devices": devices}


def _gpu_energy(cuda: dict[str, Any], nvml: dict[str, Any], sensors_root: Path | str) -> str:
    """How ``energy='auto'`` measures ``cuda:0``, or ``unavailable: why``."""
    first = nvml["devices"][0] if nvml["devices"] else None
    if first is not None and first["energy_method"]:
        return str(first["energy_method"])
    if not cuda["available"]:
        return f"unavailable: {cuda['reason']} (NVML: {nvml['reason']})"
    if first is None or first["reason"] is None:
        try:
            if Ina3221Reader(Path(sensors_root) / "sys").rails():
                return "ina3221"  # a Jetson: CUDA without NVML
        except OSError:
            pass
    return f"unavailable: {(first or {}).get('reason') or nvml['reason']}"


def _matched(nvml: dict[str, Any]) -> str | None:
    """Which GPU NVML reads for ``cuda:0`` and how it was matched, for the reader to check."""
    first = nvml["devices"][0] if nvml["devices"] else None
    if first is None or not first["energy_method"]:
        return None
    device, name, uuid = first["cuda_device"], first["name"], first["uuid"]
    return f"{device} = {name} ({uuid}), matched by {first['matched_by']}"


def _rapl_section(root: Path | str) -> dict[str, Any]:
    reader = RaplReader(root)
    reason = reader.unavailable_reason()
    zones = [] if reason else [z.name for z in reader.zones()]
    return {"root": str(root), "readable": reason is None, "reason": reason, "zones": zones}


def doctor_report(
    *, rapl_root: Path | str = DEFAULT_POWERCAP_ROOT, sensors_root: Path | str = Path("/")
) -> dict[str, Any]:
    """What this machine can measure and how: CUDA, NVML energy, RAPL, codecarbon, memory.

    Args:
        rapl_root: The powercap directory.
        sensors_root: Where ``sys/`` is looked for (a Jetson's INA3221 rails).

    Returns:
        A JSON-ready dict; ``energy`` says, per device type, the method ``energy="auto"``
        would use or why it would report ``unavailable``.
    """
    cuda = _cuda_section()
    nvml = _nvml_section(len(cuda["devices"]))
    rapl = _rapl_section(rapl_root)
    version = codecarbon_version()
    codecarbon = {
        "installed": version is not None,
        "version": version,
        "mode": "offline (OfflineEmissionsTracker: no network, nothing written)",
        "used_when": "energy='estimate' and no sensor is readable; labelled estimated",
    }
    return {
        "torch_version": torch.__version__,
        "cpu": {
            "model": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
        },
        "cuda": cuda,
        "nvml": nvml,
        "rapl": rapl,
        "codecarbon": codecarbon,
        "energy": {
            "cpu": "rapl" if rapl["readable"] else f"unavailable: {rapl['reason']}",
            "cuda": _gpu_energy(cuda, nvml, sensors_root),
            "cuda_device": _matched(nvml),
        },
        "latency": {"cpu": "perf_counter", "cuda": "cuda_events" if cuda["available"] else None},
        "memory": {
            "cpu": "torch_profiler_allocations",
            "cuda": "torch_cuda_max_memory_allocated" if cuda["available"] else None,
        },
    }
