"""Conv N:M runs along input channels at each (out, kh, kw); codec, footprint and file follow."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from prunefront.pruning import NMPattern, magnitude_mask, nm_matrix_shape
from prunefront.spaces import (
    load_sparse,
    model_footprint,
    save_sparse,
    tensor_bytes,
    tensor_bytes_from_mask,
)


def _groups_along_input_channels(weight: torch.Tensor, m: int) -> torch.Tensor:
    """Nonzeros per group of ``m`` input channels at every (out, *kernel) position."""
    moved = weight.movedim(1, -1)  # (out, *kernel, in)
    return moved.reshape(*moved.shape[:-1], -1, m).ne(0).sum(dim=-1)


@pytest.mark.parametrize("shape", [(4, 8, 3, 3), (16, 32, 1, 1), (8, 16, 5), (4, 8, 2, 3, 3)])
def test_every_conv_group_of_4_input_channels_keeps_at_most_2(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    weight = torch.randn(shape)
    mask = magnitude_mask(weight, 0.5, NMPattern(n=2, m=4))
    per_group = _groups_along_input_channels(weight * mask, 4)
    assert int(per_group.max()) <= 2
    assert bool((per_group == 2).all())  # at exactly 50 %: two of every four


def test_a_3x3_conv_at_2_4_has_no_group_breaking_the_tensor_core_layout() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 4, 3)
    mask = magnitude_mask(conv.weight.detach(), 0.5, NMPattern(n=2, m=4))
    violating = _groups_along_input_channels(conv.weight.detach() * mask, 4) > 2
    assert int(violating.sum()) == 0  # the flattened (in, kh, kw) layout broke 22 of 72 groups
    assert nm_matrix_shape(conv.weight.shape) == (4 * 3 * 3, 8)


@pytest.mark.parametrize("sparsity", [0.5, 0.8])
def test_conv_nm_footprint_is_exact_and_the_file_round_trips(
    sparsity: float, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Conv2d(16, 4, 1))
    pattern = NMPattern(n=2, m=4)
    with torch.no_grad():
        for conv in (model[0], model[2]):
            conv.weight.mul_(magnitude_mask(conv.weight, sparsity, pattern))
    weight = model[0].weight.detach()
    nnz = int(weight.count_nonzero())
    exact = tensor_bytes_from_mask(weight, "nm", pattern="2:4")
    assert exact == tensor_bytes(tuple(weight.shape), nnz, "nm", pattern="2:4")
    report = model_footprint(model, fmt="nm", pattern="2:4")
    assert {t.format for t in report.tensors if t.prunable} == {"nm"}  # no bitmask fallback
    path = tmp_path / "conv.pfs"
    size = save_sparse(path, model, fmt="nm", pattern="2:4")
    loaded = load_sparse(path)
    assert size - loaded.header_bytes == report.footprint_bytes
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict[name], value), name
