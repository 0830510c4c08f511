"""GPU profiling: CUDA events, NVML energy, 2:4 sparse tensor cores. Run on a GPU machine."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunefront.profilers import (
    CudaEventLatencyMeter,
    EnergySettings,
    LatencySettings,
    ProfileSettings,
    profile_candidate,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SETTINGS = ProfileSettings(
    latency=LatencySettings(min_time_s=0.5, max_time_s=3.0),
    energy=EnergySettings(min_window_s=2.0, idle_s=0.5),
)


def _two_four(features: int, dtype: torch.dtype) -> nn.Module:
    """A Linear whose weight keeps the 2 largest of every 4 consecutive inputs."""
    torch.manual_seed(0)
    layer = nn.Linear(features, features).to(dtype=dtype)
    with torch.no_grad():
        groups = layer.weight.reshape(features, features // 4, 4)
        smallest = groups.abs().argsort(dim=-1)[..., :2]
        groups.scatter_(-1, smallest, 0.0)
    return nn.Sequential(layer)


def test_cuda_latency_is_timed_with_events() -> None:
    model = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024))
    result = profile_candidate(
        model,
        (torch.randn(64, 1024),),
        device="cuda",
        energy="off",
        strategies=("masked_dense",),
        settings=SETTINGS,
    )
    assert result.latency_ms.kind == "measured"
    assert result.latency_ms.method == "cuda_events"
    p50, p90 = result.latency_ms.details["p50_ms"], result.latency_ms.details["p90_ms"]
    assert 0 < p50 <= p90  # type: ignore[operator]
    assert result.peak_memory_bytes.scope == "cuda_allocator"
    assert result.device["gpu_name"]


def test_cuda_event_window_meter_times_a_synchronised_window() -> None:
    meter = CudaEventLatencyMeter("cuda")
    x = torch.randn(2048, 2048, device="cuda")
    meter.begin_window("w")
    for _ in range(10):
        x @ x
    (record,) = meter.end_window("w", inferences=10)
    assert record.method == "cuda_events" and record.value is not None and record.value > 0


def test_nvml_energy_is_measured_and_positive() -> None:
    model = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096))
    result = profile_candidate(
        model,
        (torch.randn(256, 4096),),
        device="cuda",
        energy="auto",
        strategies=("masked_dense",),
        settings=SETTINGS,
    )
    energy = result.energy.energy_mj
    assert energy.kind == "measured"
    assert energy.method in ("nvml_energy_counter", "nvml_power_integration")
    assert energy.value is not None and energy.value > 0
    assert energy.window_s is not None and energy.window_s >= 2.0
    assert result.energy.power_idle_w.value is not None
    assert result.energy.power_w.value is not None and result.energy.power_w.value > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_semi_structured_2_4_matches_and_is_timed(dtype: torch.dtype) -> None:
    if torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("needs compute capability >= 8.0")
    model = _two_four(4096, dtype)
    x = torch.randn(256, 4096, dtype=dtype)
    result = profile_candidate(
        model,
        (x,),
        device="cuda",
        energy="off",
        strategies=("masked_dense", "semi_structured_2_4"),
        settings=SETTINGS,
    )
    outcome = next(s for s in result.strategies if s.name == "semi_structured_2_4")
    assert outcome.applicable, outcome.reason
    assert outcome.matches_reference, outcome.reason
    assert outcome.latency_ms is not None and outcome.latency_ms.value is not None
    assert outcome.latency_ms.method == "cuda_events"
