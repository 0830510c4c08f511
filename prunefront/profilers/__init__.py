"""Profilers: latency, energy and peak memory on the target device, measured and labelled.

Every number is a ``Measurement`` with its unit in its name and its kind (measured, estimated,
predicted, unavailable). Backends are read over windows (``begin_window`` / ``end_window``);
``profile_candidate`` runs the whole protocol for one candidate and ``doctor_report`` says what
this machine can measure.
"""

from __future__ import annotations

from prunefront.profilers._codecarbon import CodecarbonMeter
from prunefront.profilers._compare import (
    RatioEstimate,
    energy_ratio,
    latency_ratio,
    time_side_by_side,
    warm_up_process,
)
from prunefront.profilers._device import describe_device, doctor_report, parse_device
from prunefront.profilers._energy import (
    ENERGY_POLICIES,
    EnergyPolicy,
    EnergyResult,
    EnergySettings,
    check_policy,
    measure_energy,
    select_energy_meter,
)
from prunefront.profilers._latency import (
    CudaEventLatencyMeter,
    LatencySettings,
    LatencyStats,
    PerfCounterLatencyMeter,
    cuda_event_timer,
    perf_counter_timer,
    pinned_threads,
    time_interleaved,
)
from prunefront.profilers._memory import measure_peak_memory
from prunefront.profilers._nvml import (
    NvmlCounterMeter,
    NvmlReader,
    NvmlUnavailable,
    NvmlUnsupported,
    PynvmlReader,
)
from prunefront.profilers._nvml_power import NvmlPowerMeter
from prunefront.profilers._profile import (
    ProfileResult,
    ProfileSettings,
    StrategyOutcome,
    profile_candidate,
)
from prunefront.profilers._sparse_linear import SparseLinear
from prunefront.profilers._strategies import (
    STRATEGY_NAMES,
    StrategySettings,
    compare_outputs,
    prepare_strategy,
)
from prunefront.sensors import (
    KINDS,
    Clock,
    EnergyMeter,
    Kind,
    Measurement,
    Meter,
    RaplMeter,
    RaplReader,
    SystemClock,
    UnavailableMeter,
    WindowProgress,
    unit_of,
)

__all__ = [
    "ENERGY_POLICIES",
    "KINDS",
    "STRATEGY_NAMES",
    "Clock",
    "CodecarbonMeter",
    "CudaEventLatencyMeter",
    "EnergyMeter",
    "EnergyPolicy",
    "EnergyResult",
    "EnergySettings",
    "Kind",
    "LatencySettings",
    "LatencyStats",
    "Measurement",
    "Meter",
    "NvmlCounterMeter",
    "NvmlPowerMeter",
    "NvmlReader",
    "NvmlUnavailable",
    "NvmlUnsupported",
    "PerfCounterLatencyMeter",
    "ProfileResult",
    "ProfileSettings",
    "PynvmlReader",
    "RaplMeter",
    "RaplReader",
    "RatioEstimate",
    "SparseLinear",
    "StrategyOutcome",
    "StrategySettings",
    "SystemClock",
    "UnavailableMeter",
    "WindowProgress",
    "check_policy",
    "compare_outputs",
    "cuda_event_timer",
    "describe_device",
    "doctor_report",
    "energy_ratio",
    "latency_ratio",
    "measure_energy",
    "measure_peak_memory",
    "parse_device",
    "perf_counter_timer",
    "pinned_threads",
    "prepare_strategy",
    "profile_candidate",
    "select_energy_meter",
    "time_interleaved",
    "time_side_by_side",
    "unit_of",
    "warm_up_process",
]
