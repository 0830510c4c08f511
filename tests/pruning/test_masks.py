"""Mask contract, run against every sparsity pattern: exact counts, structure, growth, magnitude."""

from __future__ import annotations

import pytest
import torch

from prunefront.errors import PrunefrontError
from prunefront.pruning import (
    BlockPattern,
    NMPattern,
    global_unstructured_masks,
    magnitude_mask,
    parse_pattern,
)

PATTERNS = ["unstructured", "2:4", "1:4", "4x4", "1x8"]
SHAPES = [(16, 32), (24, 8, 4), (32, 16, 3, 3)]


def units_pruned(mask: torch.Tensor, pattern: str) -> tuple[int, int]:
    """(pruned units, total units): elements, or whole blocks for block patterns."""
    parsed = parse_pattern(pattern)
    if isinstance(parsed, BlockPattern):
        m2 = mask.reshape(mask.shape[0], -1)
        rows, cols = m2.shape
        pruned = total = 0
        for r in range(0, rows, parsed.rows):
            for c in range(0, cols, parsed.cols):
                block = m2[r : r + parsed.rows, c : c + parsed.cols]
                total += 1
                pruned += int(not block.any())
        return pruned, total
    return int((~mask).sum()), mask.numel()


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.75, 0.9, 0.97])
def test_exact_number_of_pruned_units(pattern: str, shape: tuple, sparsity: float) -> None:
    parsed = parse_pattern(pattern)
    if sparsity and sparsity < parsed.min_sparsity and isinstance(parsed, NMPattern):
        sparsity = parsed.min_sparsity
    weight = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    mask = magnitude_mask(weight, sparsity, parsed)
    pruned, total = units_pruned(mask, pattern)
    assert pruned == min(round(sparsity * total), total - 1)


@pytest.mark.parametrize("pattern", ["2:4", "1:4", "2:8"])
@pytest.mark.parametrize("extra", [0.0, 0.1])
def test_nm_holds_in_every_group(pattern: str, extra: float) -> None:
    parsed = parse_pattern(pattern)
    assert isinstance(parsed, NMPattern)
    weight = torch.randn(64, 128)
    mask = magnitude_mask(weight, parsed.min_sparsity + extra, parsed)
    per_group = mask.reshape(64, -1, parsed.m).sum(dim=2)
    assert int(per_group.max()) <= parsed.n
    if extra == 0.0:
        assert bool((per_group == parsed.n).all())  # exactly N kept of every M


def test_nm_keeps_the_largest_in_each_group() -> None:
    weight = torch.tensor([[0.1, -5.0, 0.2, 3.0, 9.0, 0.0, -8.0, 0.3]])
    mask = magnitude_mask(weight, 0.5, NMPattern(n=2, m=4))
    assert mask.tolist() == [[False, True, False, True, True, False, True, False]]


@pytest.mark.parametrize("pattern", ["4x4", "1x8", "2x2"])
def test_blocks_are_whole(pattern: str) -> None:
    parsed = parse_pattern(pattern)
    assert isinstance(parsed, BlockPattern)
    weight = torch.randn(32, 64)
    mask = magnitude_mask(weight, 0.8, parsed)
    blocks = mask.reshape(32 // parsed.rows, parsed.rows, 64 // parsed.cols, parsed.cols)
    per_block = blocks.sum(dim=(1, 3))
    assert bool(((per_block == 0) | (per_block == parsed.rows * parsed.cols)).all())


@pytest.mark.parametrize("pattern", PATTERNS)
def test_masks_only_grow_even_if_pruned_weights_become_large(pattern: str) -> None:
    parsed = parse_pattern(pattern)
    weight = torch.randn(32, 64)
    first = magnitude_mask(weight, max(0.5, parsed.min_sparsity), parsed)
    regrown = weight.clone()
    regrown[~first] = 100.0  # an optimizer tried to bring them back
    second = magnitude_mask(regrown, 0.9, parsed, previous=first)
    assert not bool((second & ~first).any())
    pruned, total = units_pruned(second, pattern)
    assert pruned == round(0.9 * total)


def test_unstructured_prunes_the_smallest_magnitudes() -> None:
    weight = torch.randn(50, 40)
    mask = magnitude_mask(weight, 0.6, parse_pattern("unstructured"))
    assert float(weight[mask].abs().min()) >= float(weight[~mask].abs().max())


def test_ties_are_broken_to_exactly_k_zeros() -> None:
    weight = torch.ones(10, 10)
    mask = magnitude_mask(weight, 0.37, parse_pattern("unstructured"))
    assert int((~mask).sum()) == 37
    again = magnitude_mask(weight, 0.37, parse_pattern("unstructured"))
    assert torch.equal(mask, again)


def test_at_least_one_weight_survives() -> None:
    mask = magnitude_mask(torch.randn(10), 0.999, parse_pattern("unstructured"))
    assert int(mask.sum()) == 1


def test_global_ranking_hits_exact_total_and_differs_per_layer() -> None:
    small = torch.randn(100) * 0.01
    large = torch.randn(300)
    masks = global_unstructured_masks([small, large], 0.5)
    total_zeros = sum(int((~m).sum()) for m in masks)
    assert total_zeros == 200
    assert int((~masks[0]).sum()) > 90  # the small-magnitude layer takes most of the pruning


def test_sparsity_out_of_range_is_refused() -> None:
    with pytest.raises(PrunefrontError, match=r"\[0, 1\)"):
        magnitude_mask(torch.randn(4, 4), 1.0, parse_pattern("unstructured"))


@pytest.mark.parametrize("bad", ["3:2", "0:4", "2:2", "4x0", "1x1", "diagonal", ""])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PrunefrontError, match="pattern"):
        parse_pattern(bad)
