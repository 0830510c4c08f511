"""The CUDA side of profiling on a CPU: 2:4 kernels per compute capability with fake backend
availability, the TF32 tolerance of float32 2:4, peak memory with only the deployed copy alive,
and copied RNNs flattened before they are timed."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.sparse import SparseSemiStructuredTensorCUSPARSELT, SparseSemiStructuredTensorCUTLASS

from prunefront.profilers import (
    LatencySettings,
    ProfileSettings,
    StrategySettings,
    _profile,
    compare_outputs,
    prepare_strategy,
    profile_candidate,
)
from prunefront.sensors import Measurement
from prunefront.testing import FakeGpu, fake_cuda

A100 = FakeGpu(uuid="GPU-a100", name="NVIDIA A100", capability=(8, 0))
ORIN = FakeGpu(uuid="GPU-orin", name="Jetson AGX Orin", capability=(8, 7))
H100 = FakeGpu(uuid="GPU-h100", name="NVIDIA H100", capability=(9, 0))
T4 = FakeGpu(uuid="GPU-t4", name="Tesla T4", capability=(7, 5))
FAST = ProfileSettings(
    latency=LatencySettings(min_time_s=0.0, max_time_s=0.2, min_sample_ms=0.2, min_repeats=3)
)


def _sparse_layer(dtype: torch.dtype, *, keep: int, of: int) -> nn.Module:
    """A 64x128 Linear that keeps the ``keep`` largest of every ``of`` consecutive inputs."""
    torch.manual_seed(0)
    layer = nn.Linear(128, 64).to(dtype)
    with torch.no_grad():
        groups = layer.weight.view(64, 128 // of, of)
        smallest = groups.abs().argsort(dim=-1)[..., : of - keep]
        groups.scatter_(-1, smallest, 0.0)
    return nn.Sequential(layer)


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the 2:4 compressions (CUDA-only) by recorders that keep the weight dense."""
    used: list[str] = []

    def recorder(name: str) -> Callable[..., torch.Tensor]:
        def from_dense(weight: torch.Tensor, **options: object) -> torch.Tensor:
            used.append(name)
            return weight

        return from_dense

    monkeypatch.setattr(SparseSemiStructuredTensorCUTLASS, "from_dense", recorder("cutlass"))
    monkeypatch.setattr(SparseSemiStructuredTensorCUSPARSELT, "from_dense", recorder("cusparselt"))
    return used


# (gpu, dtype, cuSPARSELt in torch) -> the kernel used, or None: not applicable.
MATRIX = [
    (A100, torch.float16, True, "cusparselt"),
    (A100, torch.float16, False, "cutlass"),
    (A100, torch.float32, True, "cutlass"),
    (ORIN, torch.bfloat16, False, "cutlass"),
    (ORIN, torch.float32, False, "cutlass"),
    (H100, torch.float16, True, "cusparselt"),
    (H100, torch.bfloat16, False, None),
    (H100, torch.float32, True, None),
    (T4, torch.float16, True, None),
]


@pytest.mark.parametrize(("gpu", "dtype", "cusparselt", "expected"), MATRIX)
def test_two_four_uses_the_kernel_torch_has_for_the_capability_and_dtype(
    backends: list[str], gpu: FakeGpu, dtype: torch.dtype, cusparselt: bool, expected: str | None
) -> None:
    keep, of = (1, 2) if dtype == torch.float32 else (2, 4)
    model = _sparse_layer(dtype, keep=keep, of=of)
    with fake_cuda([gpu], cusparselt=cusparselt):
        prepared = prepare_strategy(
            "semi_structured_2_4", model, torch.device("cuda"), StrategySettings()
        )
    if expected is None:
        assert not prepared.applicable
        assert prepared.reason is not None and "8." in prepared.reason
        assert backends == []
    else:
        assert prepared.applicable, prepared.reason
        assert backends == [expected]
        assert prepared.tf32 == (dtype == torch.float32)


def _tf32(tensor: torch.Tensor) -> torch.Tensor:
    """Round float32 to TF32 (10 explicit mantissa bits, to nearest) as tensor cores do."""
    bits = tensor.contiguous().view(torch.int32)
    rounded = (bits + 0x1000) & ~0x1FFF
    return rounded.view(torch.float32)


@pytest.mark.parametrize("features", [128, 1024, 4096])
def test_float32_two_four_computed_in_tf32_matches_the_reference(features: int) -> None:
    torch.manual_seed(features)
    weight = torch.randn(64, features) * (torch.rand(64, features) > 0.5)
    x = torch.randn(32, features)
    reference = x @ weight.T
    # What sparse tensor cores return for float32: TF32 products, float32 accumulation.
    tensor_cores = (_tf32(x).double() @ _tf32(weight).double().T).float()
    assert compare_outputs(tensor_cores, reference, tf32=True).matches
    assert not compare_outputs(tensor_cores, reference).matches  # float32's own tolerance


def test_tf32_tolerance_still_rejects_a_wrong_kernel() -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(32, 1024), torch.randn(64, 1024)
    reference = x @ weight.T
    wrong = reference.clone()
    wrong[0, 0] += 0.05 * reference.abs().max()
    assert not compare_outputs(wrong, reference, tf32=True).matches


class _Probe(nn.Module):
    """A model whose live copies can be counted."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 64)
        with torch.no_grad():
            self.fc.weight.mul_(torch.rand(64, 64) > 0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_peak_memory_is_measured_with_only_the_deployed_copy_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    real = _profile.measure_peak_memory

    def spy(run_once: Callable[[], object], device: torch.device, **options: Any) -> Measurement:
        seen.append(_live(_Probe))
        return real(run_once, device, **options)

    monkeypatch.setattr(_profile, "measure_peak_memory", spy)
    model = _Probe()
    result = profile_candidate(
        model,
        (torch.randn(8, 64),),
        energy="off",
        strategies=("masked_dense", "csr", "bsr"),
        settings=FAST,
    )
    assert sum(s.applicable and bool(s.matches_reference) for s in result.strategies) >= 2
    assert seen == [2]  # the caller's model and the one copy that is measured


class _Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.gru = nn.GRU(16, 16, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        out, _ = self.gru(out)
        return out[:, -1]


def test_every_copied_rnn_is_flattened_before_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, nn.Module]] = []
    flatten, forward = nn.RNNBase.flatten_parameters, nn.LSTM.forward

    def flatten_spy(self: nn.RNNBase) -> None:
        events.append(("flatten", self))
        flatten(self)

    def forward_spy(self: nn.LSTM, *args: object, **kwargs: object) -> object:
        events.append(("forward", self))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(nn.RNNBase, "flatten_parameters", flatten_spy)
    monkeypatch.setattr(nn.LSTM, "forward", forward_spy)
    model = _Recurrent()
    profile_candidate(
        model, (torch.randn(2, 5, 8),), energy="off", strategies=("masked_dense",), settings=FAST
    )
    ran = {id(m): m for kind, m in events if kind == "forward" and m is not model.lstm}
    assert len(ran) == 2  # the reference copy and the strategy's copy
    for module in ran.values():
        first_run = next(i for i, (k, m) in enumerate(events) if k == "forward" and m is module)
        assert ("flatten", module) in events[:first_run]
