"""Prunable weights: attention projections, tied weights once, parametrized layers named."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from prunefront.pruning import find_prunable, magnitude_prune
from prunefront.spaces import model_footprint


class TiedLm(nn.Module):
    """Embedding and decoder share one weight; a middle Linear is untied."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 32)
        self.middle = nn.Linear(32, 32)
        self.decoder = nn.Linear(32, 50, bias=False)
        self.decoder.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.middle(self.embedding(tokens)))


def _unique_sparsity(model: nn.Module) -> float:
    params = {id(t.param): t.param for t in find_prunable(model)}.values()
    zeros = sum(int((p == 0).sum()) for p in params)
    return zeros / sum(p.numel() for p in params)


def test_global_scope_counts_a_tied_weight_once() -> None:
    torch.manual_seed(0)
    model = TiedLm()
    with torch.no_grad():
        model.middle.weight.normal_()  # the same scale as the embedding: both keep about 10 %
    masks = magnitude_prune(model, 0.9, scope="global")
    assert set(masks) == {"embedding.weight", "middle.weight"}
    assert _unique_sparsity(model) == pytest.approx(0.9, abs=1e-3)
    assert int(model.middle.weight.count_nonzero()) > 0


def test_a_tied_weight_is_one_prunable_target_and_counts_once_in_the_footprint() -> None:
    model = TiedLm()
    assert [t.name for t in find_prunable(model)] == ["embedding.weight", "middle.weight"]
    report = model_footprint(model, fmt="dense")
    assert report.params_total == 50 * 32 + 32 * 32 + 32


def test_attention_input_projections_are_prunable() -> None:
    fused = nn.MultiheadAttention(32, 4)
    split = nn.MultiheadAttention(32, 4, kdim=16, vdim=16)
    assert [t.name for t in find_prunable(fused)] == ["in_proj_weight", "out_proj.weight"]
    assert [t.name for t in find_prunable(split)] == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "out_proj.weight",
    ]


class _Scale(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * 2.0


def test_a_parametrized_layer_is_named_in_a_warning_and_stays_dense() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 4))
    parametrize.register_parametrization(model[1], "weight", _Scale())
    with pytest.warns(UserWarning, match=r"layer '1' \(ParametrizedLinear\).*parametrized"):
        targets = find_prunable(model)
    assert [t.name for t in targets] == ["0.weight"]


def test_plain_models_raise_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        find_prunable(nn.Sequential(nn.Linear(8, 8), nn.LSTM(8, 8)))
