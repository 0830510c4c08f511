"""Pruner and strategy code on fake CUDA tensors (``FakeTensorMode``, ``device="cuda"``): every
tensor they make stays on the weights' device, with no GPU and no CUDA build of torch.

FakeTensorMode on a CPU-only torch cannot do everything a GPU can: no Python number out of a
tensor (``float()``, ``.item()``), no indexed assignment of a Python scalar, no LSTM kernel, no
CUTLASS compression. Code paths that need those are covered by the other fakes in this folder.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

from prunefront.profilers import StrategySettings, prepare_strategy
from prunefront.pruning import GradualPruner, default_schedule

CUDA = torch.device("cuda", 0)


def _on_fake_cuda(module: nn.Module, mode: FakeTensorMode) -> nn.Module:
    """Replace every parameter by a fake CUDA tensor of the same shape and dtype."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                fake = FakeTensor(mode, param.detach().to("meta"), CUDA)
                sub._parameters[name] = nn.Parameter(fake, requires_grad=False)
    return module


@pytest.mark.parametrize("pattern", ["4x4", "1x8"])
def test_block_pruning_on_cuda_keeps_masks_and_weights_on_cuda(pattern: str) -> None:
    mode = FakeTensorMode()
    model = _on_fake_cuda(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)), mode)
    with mode, torch.no_grad():
        pruner = GradualPruner(model, default_schedule(10, 0.5), pattern=pattern)
        for step in range(10):
            pruner.on_step(step)
        output = model(torch.empty(4, 64, device=CUDA))
    assert {m.device for m in pruner.masks.values()} == {CUDA}
    assert {p.device for p in model.parameters()} == {CUDA}
    assert output.device == CUDA


@pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")
def test_the_masked_dense_copy_of_a_cuda_model_stays_on_cuda() -> None:
    mode = FakeTensorMode()
    model = _on_fake_cuda(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)), mode)
    with torch.no_grad():
        prepared = prepare_strategy("masked_dense", model, CUDA, StrategySettings())
    assert prepared.model is not None
    copied = prepared.model
    assert all(p.device == CUDA for p in copied.parameters())
    assert all(a is not b for a, b in zip(copied.parameters(), model.parameters(), strict=True))
