"""Execution strategies: which apply, why not, outputs match, the fastest matching one wins."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.profilers import (
    LatencySettings,
    ProfileSettings,
    SparseLinear,
    StrategySettings,
    compare_outputs,
    prepare_strategy,
    profile_candidate,
)

CPU = torch.device("cpu")
FAST = ProfileSettings(latency=LatencySettings(min_time_s=0.0, max_time_s=1.0, min_sample_ms=0.5))


def _prune_(module: nn.Module, sparsity: float) -> None:
    """Zero the smallest-magnitude fraction of every weight matrix (one-shot, per tensor)."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if "weight" in name and param.dim() >= 2:
                k = round(sparsity * param.numel())
                if k == 0:
                    continue
                threshold = param.abs().flatten().kthvalue(k).values
                param[param.abs() <= threshold] = 0.0


def _sparse_linear(features: int, sparsity: float, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(features, features))
    _prune_(model, sparsity)
    return model


class TinyCharLM(nn.Module):
    """Embedding -> LSTM -> softmax Linear, like the paper's language models."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 32)
        self.lstm = nn.LSTM(32, 128, batch_first=True)
        self.head = nn.Linear(128, 40)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


def test_csr_matches_the_reference_and_wins_on_a_95_percent_sparse_big_linear() -> None:
    model = _sparse_linear(2048, 0.95)
    before = copy.deepcopy(model.state_dict())
    result = profile_candidate(
        model,
        (torch.randn(64, 2048),),
        threads=1,
        energy="off",
        strategies=("masked_dense", "csr"),
        settings=FAST,
    )
    by_name = {s.name: s for s in result.strategies}
    assert by_name["csr"].matches_reference is True
    assert by_name["csr"].latency_ms is not None and by_name["masked_dense"].latency_ms is not None
    csr_ms = by_name["csr"].latency_ms.value
    dense_ms = by_name["masked_dense"].latency_ms.value
    assert csr_ms is not None and dense_ms is not None and csr_ms < dense_ms
    assert result.strategy == "csr"
    assert result.latency_ms.value == csr_ms
    assert result.to_dict()["latency_ms"]["strategy"] == "csr"
    # The caller's model is untouched: same tensors, still a plain Linear.
    assert isinstance(model[0], nn.Linear)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_semi_structured_does_not_apply_on_cpu_and_says_why() -> None:
    prepared = prepare_strategy(
        "semi_structured_2_4", _sparse_linear(64, 0.5), CPU, StrategySettings()
    )
    assert not prepared.applicable
    assert prepared.reason is not None and "CUDA" in prepared.reason


def test_every_strategy_is_recorded_even_when_it_does_not_apply() -> None:
    result = profile_candidate(
        _sparse_linear(64, 0.9), (torch.randn(4, 64),), energy="off", settings=FAST
    )
    names = [s.name for s in result.strategies]
    assert names == ["masked_dense", "csr", "bsr", "semi_structured_2_4"]
    for outcome in result.strategies:
        if not outcome.applicable:
            assert outcome.reason and outcome.latency_ms is None
        else:
            assert outcome.matches_reference and outcome.latency_ms is not None


def test_a_dense_model_only_runs_dense() -> None:
    result = profile_candidate(
        _sparse_linear(64, 0.0), (torch.randn(4, 64),), energy="off", settings=FAST
    )
    applicable = [s.name for s in result.strategies if s.applicable]
    assert applicable == ["masked_dense"]
    csr = next(s for s in result.strategies if s.name == "csr")
    assert csr.reason is not None and "dense" in csr.reason
    assert result.strategy == "masked_dense"


def test_csr_is_not_tried_below_the_sparsity_where_it_has_a_chance() -> None:
    prepared = prepare_strategy(
        "csr", _sparse_linear(64, 0.2), CPU, StrategySettings(min_sparsity=0.5)
    )
    assert not prepared.applicable
    assert prepared.reason is not None and "0.200" in prepared.reason


def test_csr_on_an_lstm_converts_the_softmax_linear_and_says_the_lstm_stays_dense() -> None:
    torch.manual_seed(0)
    model = TinyCharLM().eval()
    _prune_(model, 0.9)
    prepared = prepare_strategy("csr", model, CPU, StrategySettings())
    assert prepared.model is not None
    assert isinstance(prepared.model.head, SparseLinear)
    assert isinstance(prepared.model.lstm, nn.LSTM)
    assert prepared.reason is not None
    assert "nn.LSTM 'lstm' stays dense" in prepared.reason
    tokens = torch.randint(0, 40, (3, 12))
    with torch.inference_mode():
        assert compare_outputs(prepared.model(tokens), model(tokens)).matches
    assert isinstance(model.head, nn.Linear)  # the input model was not converted


def test_bsr_applies_to_block_sparse_weights_and_matches() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(128, 64)
    with torch.no_grad():
        keep = (torch.rand(8, 16) > 0.9).float().repeat_interleave(8, 0).repeat_interleave(8, 1)
        layer.weight.mul_(keep)
    model = nn.Sequential(layer)
    prepared = prepare_strategy("bsr", model, CPU, StrategySettings())
    assert prepared.model is not None
    converted = prepared.model[0]
    assert isinstance(converted, SparseLinear) and converted.layout_name == "bsr"
    x = torch.randn(5, 128)
    with torch.inference_mode():
        assert compare_outputs(prepared.model(x), model(x)).matches


def test_bsr_does_not_apply_to_unstructured_sparsity() -> None:
    prepared = prepare_strategy("bsr", _sparse_linear(64, 0.9), CPU, StrategySettings())
    assert not prepared.applicable
    assert prepared.reason is not None and "block-sparse" in prepared.reason


def test_compare_outputs_catches_a_wrong_result_and_a_wrong_shape() -> None:
    ref = torch.ones(4, 3)
    assert compare_outputs(ref + 1e-7, ref).matches
    wrong = compare_outputs(ref + 0.01, ref)
    assert not wrong.matches and wrong.max_abs_error == pytest.approx(0.01, rel=1e-3)
    assert not compare_outputs(torch.ones(4, 2), ref).matches
    nested = (ref, (ref * 2, ref * 3))
    assert compare_outputs((ref, (ref * 2, ref * 3)), nested).matches
    assert not compare_outputs((ref, (ref * 2, ref * 4)), nested).matches


def test_unknown_strategy_is_a_user_error() -> None:
    with pytest.raises(PrunefrontError, match="valid"):
        prepare_strategy("cusparse", _sparse_linear(8, 0.5), CPU, StrategySettings())
    with pytest.raises(PrunefrontError, match="strategies"):
        profile_candidate(
            _sparse_linear(8, 0.5), (torch.randn(1, 8),), strategies=("magic",), energy="off"
        )


def test_sparse_tensor_core_fit_depends_on_dtype_pattern_and_shape() -> None:
    from prunefront.profilers._strategies import _semi_structured_misfit

    two_four = torch.tensor([[1.0, 0.0, 2.0, 0.0] * 16] * 32)
    one_two = torch.tensor([[1.0, 0.0] * 32] * 32)
    assert _semi_structured_misfit(two_four.half()) is None
    assert _semi_structured_misfit(two_four.bfloat16()) is None
    assert _semi_structured_misfit(one_two) is None  # float32 needs 1:2 (TF32)
    not_one_two = torch.tensor([[1.0, 2.0, 0.0, 0.0] * 16] * 32)
    assert "1:2" in (_semi_structured_misfit(not_one_two) or "")
    dense = torch.ones(32, 64).half()
    assert "2:4" in (_semi_structured_misfit(dense) or "")
    assert "multiple" in (_semi_structured_misfit(two_four[:, :60].half()) or "")


def test_a_converted_model_can_be_deep_copied_and_uses_int32_indices() -> None:
    model = _sparse_linear(64, 0.9)
    prepared = prepare_strategy("csr", model, CPU, StrategySettings())
    assert prepared.model is not None
    again = copy.deepcopy(prepared.model)
    layer = again[0]
    assert isinstance(layer, SparseLinear)
    assert layer.weight.crow_indices().dtype == torch.int32  # half the index bytes to stream
    x = torch.randn(3, 64)
    with torch.inference_mode():
        assert compare_outputs(again(x), model(x)).matches
