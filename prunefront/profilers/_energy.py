"""Choosing the energy sensor of a torch device (NVML on GPUs, RAPL on CPUs) under a policy.

The measurement protocol itself (``EnergySettings``, ``EnergyResult``, ``measure_energy``) is
torch-free and lives in ``prunefront.sensors``, shared with the remote agent; it is re-exported
here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import torch

from prunefront.errors import PrunefrontError
from prunefront.profilers._codecarbon import CodecarbonMeter
from prunefront.profilers._nvml import (
    NvmlCounterMeter,
    NvmlReader,
    NvmlUnavailable,
    counter_supported,
    shared_reader,
)
from prunefront.profilers._nvml_power import NvmlPowerMeter
from prunefront.sensors import (
    DEFAULT_POWERCAP_ROOT,
    Clock,
    EnergyMeter,
    EnergyResult,
    EnergySettings,
    RaplMeter,
    RaplReader,
    SensorError,
    UnavailableMeter,
    measure_energy,
    open_sensor,
)

__all__ = [
    "ENERGY_POLICIES",
    "EnergyPolicy",
    "EnergyResult",
    "EnergySettings",
    "check_policy",
    "measure_energy",
    "select_energy_meter",
]

EnergyPolicy = Literal["auto", "off", "estimate"]
ENERGY_POLICIES: tuple[str, ...] = get_args(EnergyPolicy)


def check_policy(policy: str) -> EnergyPolicy:
    """Validate an energy policy string."""
    if policy not in ENERGY_POLICIES:
        raise PrunefrontError(f"energy = {policy!r}: must be one of {list(ENERGY_POLICIES)}")
    return policy  # type: ignore[return-value]


def _jetson_meter(sensors_root: Path | str, clock: Clock | None) -> EnergyMeter | None:
    """The board's INA3221 input rail on a Jetson (which has CUDA but no NVML), if readable."""
    try:
        return open_sensor("ina3221", sensors_root, clock=clock)
    except (SensorError, OSError):
        return None


def _measured_meter(
    device: torch.device,
    *,
    rapl_root: Path | str,
    nvml_reader: NvmlReader | None,
    clock: Clock | None,
    sensors_root: Path | str,
) -> EnergyMeter | str:
    """The sensor-backed meter for ``device``, or why there is none."""
    if device.type == "cuda":
        try:
            reader = nvml_reader or shared_reader(device)
        except NvmlUnavailable as error:
            jetson = _jetson_meter(sensors_root, clock)
            if jetson is not None:
                return jetson
            return f"GPU energy needs NVML: {error}"
        if counter_supported(reader):
            return NvmlCounterMeter(reader, clock=clock)
        return NvmlPowerMeter(reader, clock=clock)
    if device.type == "cpu":
        rapl = RaplReader(rapl_root)
        reason = rapl.unavailable_reason()
        return reason if reason is not None else RaplMeter(rapl, clock=clock)
    return f"no energy sensor is known for device type {device.type!r}"


def select_energy_meter(
    device: torch.device | str,
    policy: str = "auto",
    *,
    rapl_root: Path | str = DEFAULT_POWERCAP_ROOT,
    nvml_reader: NvmlReader | None = None,
    clock: Clock | None = None,
    sensors_root: Path | str = Path("/"),
) -> EnergyMeter:
    """Pick the energy meter for ``device`` under ``policy``.

    ``auto``: the device's sensor (NVML counter, else NVML power integration; on a Jetson,
    which has no NVML, the board's INA3221 input rail; RAPL on CPUs), else an ``unavailable``
    meter with the reason. ``estimate``: the same, but codecarbon's labelled estimate instead
    of ``unavailable``. ``off``: always ``unavailable``. NVML is started once per process and
    its readers are reused.

    Raises:
        PrunefrontError: ``policy`` is not one of auto, off, estimate.
    """
    check_policy(policy)
    if policy == "off":
        return UnavailableMeter("energy measurement is turned off (energy='off')", clock=clock)
    dev = torch.device(device)
    meter = _measured_meter(
        dev, rapl_root=rapl_root, nvml_reader=nvml_reader, clock=clock, sensors_root=sensors_root
    )
    if not isinstance(meter, str):
        return meter
    if policy == "estimate":
        return CodecarbonMeter(clock=clock)
    method = "nvml" if dev.type == "cuda" else "rapl"
    return UnavailableMeter(
        f"{meter}; energy='estimate' would give a labelled codecarbon estimate instead",
        method=method,
        scope="gpu_device" if dev.type == "cuda" else "cpu_package",
        clock=clock,
    )
