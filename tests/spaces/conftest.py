"""Fixtures for the footprint-model tests: MobileNet v1 by shapes, and few threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _few_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def mobilenet_v1(width: float = 1.0, classes: int = 1001) -> nn.Sequential:
    """MobileNet v1 (224) as the paper counts it: conv weights + FC weight and bias, no BN.

    Channels follow TF-slim's ``depth(d) = max(int(d * width), 8)``; 1001 classes as in the TF
    checkpoints the paper used. Width 1.0 has 4,211,113 parameters (the paper's 4.21M).
    """

    def depth(channels: int) -> int:
        return max(int(channels * width), 8)

    strides = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    strides += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list[nn.Module] = [nn.Conv2d(3, depth(32), 3, 2, 1, bias=False)]
    cin = depth(32)
    for channels, stride in strides:
        layers.append(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False))
        layers.append(nn.Conv2d(cin, depth(channels), 1, bias=False))
        cin = depth(channels)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def unpruned_layers(model: nn.Module) -> list[str]:
    """The first conv and the depthwise convs, which the paper's MobileNets leave dense."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and (module.groups > 1 or module.in_channels == 3)
    ]


@pytest.fixture
def mobilenet() -> Callable[[float], nn.Sequential]:
    """Builds MobileNet v1 at a width, on the meta device (shapes only, no memory)."""

    def build(width: float) -> nn.Sequential:
        with torch.device("meta"):
            return mobilenet_v1(width)

    return build


@pytest.fixture
def mobilenet_exclude(mobilenet: Callable[[float], nn.Sequential]) -> list[str]:
    """Names of the layers the paper leaves dense (same at every width)."""
    return unpruned_layers(mobilenet(1.0))
