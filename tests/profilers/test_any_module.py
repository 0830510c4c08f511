"""Any nn.Module profiles: every strategy gives a result or a reason, masked_dense always runs."""

from __future__ import annotations

import torch
from torch import nn

from prunefront.profilers import (
    LatencySettings,
    ProfileSettings,
    prepare_strategy,
    profile_candidate,
)
from prunefront.pruning import magnitude_prune

CPU = torch.device("cpu")
FAST = ProfileSettings(latency=LatencySettings(min_time_s=0.0, max_time_s=1.0, min_sample_ms=0.5))


class AttentionBlock(nn.Module):
    """nn.MultiheadAttention (its out_proj is an nn.Linear subclass) followed by an nn.Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)
        self.head = nn.Linear(64, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(x, x, x, need_weights=False)
        return self.head(out)


class ReadsItsChild(nn.Module):
    """A parent that reads its child's bias directly, as attention does."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.fc.bias.sum()


def test_a_90_percent_pruned_attention_model_gives_every_strategy_a_result_or_reason() -> None:
    torch.manual_seed(0)
    model = AttentionBlock().eval()
    magnitude_prune(model, 0.9)
    assert float((model.attn.in_proj_weight == 0).float().mean()) > 0.89  # the bare Parameter
    result = profile_candidate(
        model,
        (torch.randn(2, 8, 64),),
        strategies=("masked_dense", "csr", "bsr"),
        settings=FAST,
        energy="off",
    )
    outcomes = {s.name: s for s in result.strategies}
    assert outcomes["masked_dense"].matches_reference is True
    assert outcomes["csr"].matches_reference is True  # only the plain nn.Linear was converted
    assert "1 of 1 nn.Linear" in (outcomes["csr"].reason or "")
    assert "MultiheadAttention 'attn' stays dense" in (outcomes["csr"].reason or "")
    assert outcomes["bsr"].reason  # not applicable to unstructured zeros, and says why
    assert result.latency_ms.kind == "measured"


def test_a_strategy_whose_forward_fails_is_recorded_failed_and_the_profile_goes_on() -> None:
    torch.manual_seed(0)
    model = ReadsItsChild().eval()
    magnitude_prune(model, 0.9)
    result = profile_candidate(
        model,
        (torch.randn(2, 64),),
        strategies=("masked_dense", "csr"),
        settings=FAST,
        energy="off",
    )
    outcomes = {s.name: s for s in result.strategies}
    assert outcomes["csr"].applicable is False
    assert "forward pass failed: AttributeError" in (outcomes["csr"].reason or "")
    assert result.strategy == "masked_dense"


def test_csr_leaves_the_attention_projection_in_place() -> None:
    model = AttentionBlock()
    magnitude_prune(model, 0.9)
    prepared = prepare_strategy("csr", model, CPU, FAST.strategies)
    assert prepared.model is not None
    assert type(prepared.model.attn.out_proj) is type(model.attn.out_proj)
