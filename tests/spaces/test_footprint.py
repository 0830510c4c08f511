"""model_footprint: whole-model accounting, analytic and exact, and its report record."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning._masks import magnitude_mask
from prunefront.pruning._patterns import parse_pattern
from prunefront.pruning._targets import find_prunable
from prunefront.spaces import model_footprint, model_layout


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(300, 64), nn.ReLU(), nn.Linear(64, 10))


def _pruned(model: nn.Module, sparsity: float, pattern: str = "unstructured") -> nn.Module:
    torch.manual_seed(0)
    parsed = parse_pattern(pattern)
    with torch.no_grad():
        for target in find_prunable(model):
            target.param.mul_(magnitude_mask(target.param, sparsity, parsed))
    return model


def test_analytic_report_counts_parameters_and_nonzeros() -> None:
    report = model_footprint(_mlp(), sparsity=0.75, fmt="bitmask")
    assert report.params_total == 300 * 64 + 64 + 64 * 10 + 10
    assert report.params_prunable == 300 * 64 + 64 * 10
    assert report.params_nonzero == 4800 + 160 + 64 + 10
    expected = (19200 // 8 + 4800 * 4) + (640 // 8 + 160 * 4) + (64 + 10) * 4
    assert report.footprint_bytes == expected == report.bytes_by_format["bitmask"]
    assert report.sparsity == 0.75 and not report.exact


def test_biases_are_dense_and_identical_in_every_format() -> None:
    report = model_footprint(_mlp(), sparsity=0.9)
    bias = next(t for t in report.tensors if t.name == "0.bias")
    assert not bias.prunable and bias.format == "dense"
    assert set(bias.bytes_by_format.values()) == {64 * 4}


def test_auto_is_the_per_tensor_minimum_summed_over_tensors() -> None:
    report = model_footprint(_mlp(), sparsity=0.9, fmt="auto")
    per_tensor = sum(
        min(v for k, v in t.bytes_by_format.items() if not k.startswith("paper"))
        for t in report.tensors
    )
    assert report.footprint_bytes == per_tensor == report.bytes_by_format["auto"]
    assert report.footprint_bytes <= min(
        v for k, v in report.bytes_by_format.items() if k not in ("auto", "paper4")
    )
    assert {t.format for t in report.tensors if t.prunable} <= {
        "dense", "bitmask", "csr8", "csr16", "csr32", "relidx4", "relidx5", "relidx8"
    }  # fmt: skip


def test_explicit_csr8_on_a_wide_layer_falls_back_to_csr16_and_says_so() -> None:
    report = model_footprint(_mlp(), sparsity=0.9, fmt="csr8")
    wide = next(t for t in report.tensors if t.name == "0.weight")  # 300 columns
    narrow = next(t for t in report.tensors if t.name == "2.weight")  # 64 columns
    assert wide.format == "csr16" and "csr8" in wide.note and "300 columns" in wide.note
    assert "csr8" in wide.not_applicable
    assert wide.bytes_by_format["csr8"] == wide.bytes_by_format["csr16"]
    assert narrow.format == "csr8" and narrow.note == ""


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("fmt", ["dense", "bitmask", "csr8", "csr16", "csr32", "paper4"])
def test_exact_footprint_of_a_pruned_model_equals_the_analytic_one(
    sparsity: float, fmt: str
) -> None:
    model = _pruned(_mlp(), sparsity)
    exact = model_footprint(model, fmt=fmt)
    analytic = model_footprint(model, sparsity=sparsity, fmt=fmt)
    assert exact.exact and exact.sparsity is None
    assert exact.params_nonzero == analytic.params_nonzero
    assert exact.footprint_bytes == analytic.footprint_bytes


@pytest.mark.parametrize(("pattern", "sparsity"), [("2:4", 0.5), ("2:4", 0.8), ("4x4", 0.7)])
def test_exact_structured_footprint_equals_the_analytic_one(pattern: str, sparsity: float) -> None:
    model = _pruned(nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 16)), sparsity, pattern)
    for fmt in ("nm" if ":" in pattern else "block", "bitmask", "csr16"):
        exact = model_footprint(model, fmt=fmt, pattern=pattern)
        analytic = model_footprint(model, sparsity=sparsity, fmt=fmt, pattern=pattern)
        assert exact.footprint_bytes == analytic.footprint_bytes, fmt


def test_block_pattern_prunes_whole_blocks_analytically() -> None:
    model = nn.Linear(8, 8, bias=False)  # four 4x4 blocks
    nnz = [
        model_footprint(model, sparsity=s, pattern="4x4").params_nonzero for s in (0.5, 0.6, 0.7)
    ]
    assert nnz == [32, 32, 16]


def test_at_least_one_weight_survives_like_the_pruner_mask() -> None:
    report = model_footprint(nn.Linear(10, 1, bias=False), sparsity=0.99)
    assert report.params_nonzero == 1


def test_int8_adds_one_float32_scale_per_output_channel() -> None:
    report = model_footprint(_mlp(), sparsity=0.0, fmt="dense", dtype="int8")
    # weights: 64 + 10 row scales; biases: one scale each
    assert report.footprint_bytes == report.params_total + (64 + 10 + 2) * 4
    half = model_footprint(_mlp(), sparsity=0.0, fmt="dense", dtype="bfloat16")
    assert half.footprint_bytes == 2 * report.params_total


def test_tied_weights_count_once() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.out = nn.Linear(16, 100, bias=False)
            self.out.weight = self.embed.weight

    report = model_footprint(Tied(), sparsity=0.0, fmt="dense")
    assert report.params_total == 1600 and report.footprint_bytes == 6400
    assert len(report.tensors) == 1


def test_excluded_layers_are_stored_dense() -> None:
    report = model_footprint(_mlp(), sparsity=0.9, exclude=["2"])
    last = next(t for t in report.tensors if t.name == "2.weight")
    assert not last.prunable and last.nnz == 640 and last.footprint_bytes == 640 * 4
    assert report.params_prunable == 19200


def test_analytic_footprint_needs_no_weights_and_a_layout_gives_the_same_answer() -> None:
    with torch.device("meta"):
        model = _mlp()
    layout = model_layout(model)
    for sparsity in (0.0, 0.5, 0.93):
        from_model = model_footprint(model, sparsity=sparsity, fmt="relidx5")
        from_layout = model_footprint(layout, sparsity=sparsity, fmt="relidx5")
        assert from_model == from_layout


def test_footprint_never_grows_with_sparsity() -> None:
    layout = model_layout(_mlp())
    for fmt in ("auto", "bitmask", "csr16", "relidx4", "relidx8", "paper4"):
        sizes = [
            model_footprint(layout, sparsity=i / 200, fmt=fmt).footprint_bytes for i in range(199)
        ]
        assert all(b <= a for a, b in itertools.pairwise(sizes)), fmt


def test_report_to_dict_is_plain_json() -> None:
    report = model_footprint(_pruned(_mlp(), 0.8), fmt="auto", dtype="float16")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["footprint_bytes"] == report.footprint_bytes
    assert data["dtype"] == "float16" and data["sparsity"] is None
    assert data["tensors"][0]["shape"] == [64, 300]
    assert data["bytes_by_format"]["auto"] == report.footprint_bytes


@pytest.mark.parametrize("sparsity", [1.0, -0.1, math.nan, 2])
def test_sparsity_outside_zero_one_is_rejected_in_one_line(sparsity: float) -> None:
    with pytest.raises(PrunefrontError, match=r"sparsity must be in \[0, 1\)") as info:
        model_footprint(_mlp(), sparsity=sparsity)
    assert "\n" not in str(info.value)


def test_nm_sparsity_below_the_pattern_minimum_is_rejected() -> None:
    with pytest.raises(PrunefrontError, match=r"below the minimum 0\.5 of pattern 2:4"):
        model_footprint(_mlp(), sparsity=0.3, pattern="2:4")


def test_nm_format_with_an_unstructured_model_is_rejected() -> None:
    with pytest.raises(PrunefrontError, match="'nm' needs an N:M pattern"):
        model_footprint(_mlp(), sparsity=0.5, fmt="nm")


def test_exact_footprint_of_a_meta_model_asks_for_a_sparsity() -> None:
    with torch.device("meta"):
        model = _mlp()
    with pytest.raises(PrunefrontError, match="pass sparsity="):
        model_footprint(model)
    with pytest.raises(PrunefrontError, match="needs the model"):
        model_footprint(model_layout(model))


def test_unknown_format_and_dtype_are_rejected_by_model_footprint() -> None:
    with pytest.raises(PrunefrontError, match="unknown storage format 'sparse'"):
        model_footprint(_mlp(), sparsity=0.5, fmt="sparse")
    with pytest.raises(PrunefrontError, match="unknown dtype 'float64'"):
        model_footprint(_mlp(), sparsity=0.5, dtype="float64")
