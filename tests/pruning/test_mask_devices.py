"""Every mask path makes its tensors on the weight's device, checked without a GPU.

Inside ``with torch.device("meta")`` a tensor created without an explicit device lands on the
meta device while the weights stay on the CPU; any such tensor that meets a weight-derived one,
or is returned as the mask, raises or shows the wrong device. On a GPU the same mistake is a CPU
tensor meeting a CUDA weight ("expected self and mask to be on the same device").
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunefront.pruning import (
    GradualPruner,
    PolynomialDecay,
    global_unstructured_masks,
    magnitude_mask,
    parse_pattern,
)

PATTERNS = ["unstructured", "2:4", "1:4", "4x4", "1x8"]
SHAPES = [(16, 32), (24, 8, 4), (8, 16, 3, 3), (10, 6)]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", SHAPES)
def test_masks_are_made_on_the_weights_device(pattern: str, shape: tuple[int, ...]) -> None:
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    parsed = parse_pattern(pattern)
    sparsity = max(parsed.min_sparsity, 0.6)
    expected = magnitude_mask(weight, sparsity, parsed)
    previous = magnitude_mask(weight, parsed.min_sparsity or 0.3, parsed)
    expected_grown = magnitude_mask(weight, 0.8, parsed, previous)
    with torch.device("meta"):
        mask = magnitude_mask(weight, sparsity, parsed)
        grown = magnitude_mask(weight, 0.8, parsed, previous)
    assert mask.device == weight.device and torch.equal(mask, expected)
    assert grown.device == weight.device and torch.equal(grown, expected_grown)


def test_global_masks_are_made_on_each_weights_device() -> None:
    weights = [torch.randn(8, 8), torch.randn(4, 16)]
    expected = global_unstructured_masks(weights, 0.7)
    with torch.device("meta"):
        masks = global_unstructured_masks(weights, 0.7)
    for mask, want, weight in zip(masks, expected, weights, strict=True):
        assert mask.device == weight.device and torch.equal(mask, want)


@pytest.mark.parametrize("pattern", ["unstructured", "2:4", "2x2"])
def test_the_pruner_keeps_masks_on_the_model_device(pattern: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.Flatten(), nn.Linear(8 * 4 * 4, 8))
    schedule = PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=0.75, begin_step=0, end_step=4, frequency=2
    )
    pruner = GradualPruner(model, schedule, pattern=pattern)
    with torch.device("meta"):
        for step in range(5):
            pruner.on_step(step)
    for name, mask in pruner.masks.items():
        assert mask.device.type == "cpu", name
    assert all(float((p == 0).float().mean()) >= 0.74 for p in (model[0].weight, model[2].weight))
