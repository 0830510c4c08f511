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


def test_nvml_reads_the_gpu_torch_uses() -> None:
    from prunefront.profilers import PynvmlReader

    index = torch.cuda.device_count() - 1  # the last device: index and NVML order may differ
    info = PynvmlReader(index).device_info()
    uuid = str(torch.cuda.get_device_properties(index).uuid)
    assert info["uuid"].endswith(uuid)
    assert info["matched_by"].startswith("uuid")


def test_net_energy_per_pass_repeats_within_five_percent() -> None:
    model = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096)).cuda()
    net = []
    for _ in range(5):
        result = profile_candidate(
            model,
            (torch.randn(256, 4096),),
            device="cuda",
            energy="auto",
            strategies=("masked_dense",),
            settings=SETTINGS,
        )
        assert result.energy.energy_net_mj.value is not None, result.energy.energy_net_mj.reason
        net.append(result.energy.energy_net_mj.value)
    assert max(net) / min(net) <= 1.05, net


def test_float32_two_four_runs_in_tf32_where_the_kernel_exists() -> None:
    major, _ = torch.cuda.get_device_capability()
    if major < 8:
        pytest.skip("needs compute capability >= 8.0")
    torch.manual_seed(0)
    layer = nn.Linear(4096, 4096)
    with torch.no_grad():
        pairs = layer.weight.view(4096, 2048, 2)
        pairs.scatter_(-1, pairs.abs().argmin(dim=-1, keepdim=True), 0.0)  # 1:2 (TF32)
    result = profile_candidate(
        nn.Sequential(layer),
        (torch.randn(256, 4096),),
        device="cuda",
        energy="off",
        strategies=("masked_dense", "semi_structured_2_4"),
        settings=SETTINGS,
    )
    outcome = next(s for s in result.strategies if s.name == "semi_structured_2_4")
    if major == 8:
        assert outcome.applicable and outcome.matches_reference, outcome.reason
    else:
        assert not outcome.applicable and outcome.reason and "8.x" in outcome.reason


def test_peak_memory_does_not_depend_on_how_many_strategies_ran() -> None:
    model = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.mul_(torch.rand_like(layer.weight) > 0.9)
    peaks = []
    for strategies in (("masked_dense",), ("masked_dense", "csr", "bsr")):
        result = profile_candidate(
            model,
            (torch.randn(64, 4096),),
            device="cuda",
            energy="off",
            strategies=strategies,
            settings=SETTINGS,
        )
        peaks.append((result.strategy, result.peak_memory_bytes.value))
    if peaks[0][0] == peaks[1][0]:
        assert peaks[0][1] == peaks[1][1], peaks


def test_a_copied_lstm_runs_without_compacting_its_weights() -> None:
    import warnings

    lstm = nn.LSTM(256, 512, num_layers=2, batch_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "not part of single contiguous chunk"
        profile_candidate(
            lstm,
            (torch.randn(32, 50, 256),),
            device="cuda",
            energy="off",
            strategies=("masked_dense",),
            settings=SETTINGS,
        )
