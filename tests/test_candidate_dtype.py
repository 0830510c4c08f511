"""The task metric is evaluated with the weights the footprint counts (int8, float16, ...)."""

from __future__ import annotations

import pytest
import torch

from prunefront.candidate import Candidate, PruningSettings, train_candidate
from prunefront.testing import TinyTask


def _channel_levels(weight: torch.Tensor) -> torch.Tensor:
    rows = weight.reshape(weight.shape[0], -1) if weight.dim() >= 2 else weight.reshape(1, -1)
    scale = rows.abs().amax(dim=1, keepdim=True) / 127
    return rows / torch.where(scale > 0, scale, torch.ones_like(scale))


def test_int8_metric_is_measured_on_per_channel_int8_weights() -> None:
    candidate = Candidate(width=1.0, sparsity=0.7)
    float_model, float_result = train_candidate(TinyTask(), candidate, seed=0)
    model, result = train_candidate(
        TinyTask(), candidate, seed=0, settings=PruningSettings(dtype="int8")
    )
    assert result.metric_dtype == "int8" and float_result.metric_dtype == "float32"
    # The same training; the int8 run also reports the metric before rounding.
    assert result.metric_float32 == pytest.approx(float_result.metric_value)
    assert float_result.metric_float32 is None
    for (name, param), float_param in zip(
        model.named_parameters(), float_model.parameters(), strict=True
    ):
        levels = _channel_levels(param.detach())
        assert torch.allclose(levels, levels.round(), atol=1e-3), name  # on the int8 grid
        assert bool(torch.all(param[float_param == 0] == 0)), name  # pruned weights stay zero
        assert not torch.equal(param, float_param), name


def test_float16_metric_is_measured_on_float16_weights() -> None:
    model, result = train_candidate(
        TinyTask(), Candidate(width=1.0, sparsity=0.5), settings=PruningSettings(dtype="float16")
    )
    assert result.metric_dtype == "float16" and result.metric_float32 is not None
    for param in model.parameters():
        assert torch.equal(param, param.half().float())
