"""``train_candidate(max_bytes=...)``: the real footprint holds a cap the analytic size can miss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from prunefront.candidate import (
    Candidate,
    PruningSettings,
    TrainResult,
    check_max_bytes,
    train_candidate,
)
from prunefront.errors import PrunefrontError
from prunefront.spaces import model_footprint
from prunefront.testing import TinyTask

RELIDX = PruningSettings(storage_format="relidx4")
SPARSITY = 0.8


def _train(
    max_bytes: int | None, settings: PruningSettings = RELIDX
) -> tuple[nn.Module, TrainResult]:
    return train_candidate(
        TinyTask(),
        Candidate(width=1.0, sparsity=SPARSITY),
        seed=0,
        settings=settings,
        max_bytes=max_bytes,
    )


def test_a_cap_the_trained_model_holds_changes_nothing() -> None:
    free_model, free = _train(None)
    capped_model, capped = _train(free.footprint_bytes)
    assert capped.fit_note == "" and free.fit_note == ""
    assert capped.footprint_bytes == free.footprint_bytes
    assert capped.sparsity_actual == free.sparsity_actual
    for a, b in zip(free_model.parameters(), capped_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_cap_under_the_real_bytes_prunes_a_little_further_and_holds() -> None:
    _, free = _train(None)
    cap = int(free.footprint_bytes * 0.99)
    model, capped = _train(cap)
    assert capped.footprint_bytes <= cap
    assert capped.sparsity_actual > free.sparsity_actual
    # A little further, not a lot: 1 % of the bytes is about 1 % of the nonzeros, which at 20 %
    # density is 0.2 percentage points of sparsity.
    assert capped.sparsity_actual - free.sparsity_actual < 0.005
    assert "over the" in capped.fit_note and "(fits)" in capped.fit_note
    real = model_footprint(model, sparsity=None, fmt="relidx4").footprint_bytes
    assert real == capped.footprint_bytes


def test_clustered_zeros_cost_relidx_more_than_predicted() -> None:
    """Why the cap exists: zeros in long runs need more relidx fillers than uniform ones."""
    task = TinyTask()
    model = task.build(1.0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                rows, cols = module.weight.shape
                # Magnitudes grow along each row: pruning removes one contiguous run per row.
                module.weight.copy_(torch.arange(cols, dtype=torch.float32).repeat(rows, 1) + 1)
                keep = round(cols * (1 - SPARSITY))
                module.weight[:, : cols - keep] = 0.0
    predicted = model_footprint(task.build(1.0), sparsity=SPARSITY, fmt="relidx4").footprint_bytes
    real = model_footprint(model, sparsity=None, fmt="relidx4").footprint_bytes
    assert real > predicted


def test_the_cap_is_applied_on_a_warm_started_candidate_too(tmp_path: Path) -> None:
    from prunefront.search._cache import WarmStartCache

    cache = WarmStartCache(tmp_path, "tiny")
    _, free = _train(None)
    cap = int(free.footprint_bytes * 0.99)
    for expected in ("miss", "hit"):
        _, result = train_candidate(
            TinyTask(),
            Candidate(width=1.0, sparsity=SPARSITY),
            seed=0,
            settings=RELIDX,
            max_bytes=cap,
            warm_start=cache,
        )
        assert result.warm_start == expected
        assert result.footprint_bytes <= cap and result.fit_note


@pytest.mark.parametrize("pattern", ["2:4", "4x4"])
def test_structured_patterns_never_need_the_fit(pattern: str) -> None:
    settings = PruningSettings(storage_format="auto")
    candidate = Candidate(width=1.0, sparsity=0.75, pattern=pattern)
    predicted = model_footprint(
        TinyTask().build(1.0), sparsity=0.75, pattern=pattern, fmt="auto"
    ).footprint_bytes
    _, result = train_candidate(
        TinyTask(), candidate, seed=0, settings=settings, max_bytes=predicted
    )
    assert result.fit_note == ""
    assert result.footprint_bytes <= predicted


def test_a_step_too_small_to_change_a_mask_is_followed_by_larger_ones() -> None:
    """Block masks grow by whole blocks: a one-byte overshoot needs a whole block's step."""
    settings = PruningSettings(storage_format="block")
    candidate = Candidate(width=1.0, sparsity=0.75, pattern="4x4")
    _, free = train_candidate(TinyTask(), candidate, seed=0, settings=settings)
    cap = free.footprint_bytes - 1
    _, capped = train_candidate(TinyTask(), candidate, seed=0, settings=settings, max_bytes=cap)
    assert capped.footprint_bytes <= cap, capped.fit_note
    assert "(fits)" in capped.fit_note


@pytest.mark.parametrize(
    ("candidate", "fmt", "says"),
    [
        (Candidate(width=1.0, sparsity=0.0), "auto", "has no pruning to fit with"),
        (Candidate(width=1.0, sparsity=0.5, pattern="2:4"), "nm", "whatever training does"),
        (Candidate(width=1.0, sparsity=0.5), "dense", "whatever training does"),
    ],
)
def test_a_cap_the_footprint_already_rules_out_is_refused_before_training(
    candidate: Candidate, fmt: str, says: str
) -> None:
    settings = PruningSettings(storage_format=fmt)
    predicted = model_footprint(
        TinyTask().build(1.0), sparsity=candidate.sparsity, pattern=candidate.pattern, fmt=fmt
    ).footprint_bytes
    with pytest.raises(PrunefrontError, match=says):
        check_max_bytes(TinyTask(), candidate, settings, predicted - 1)
    check_max_bytes(TinyTask(), candidate, settings, predicted)  # a cap it meets passes


def test_a_cap_further_pruning_can_meet_is_not_refused() -> None:
    candidate = Candidate(width=1.0, sparsity=0.8)
    settings = PruningSettings(storage_format="csr16")
    predicted = model_footprint(TinyTask().build(1.0), sparsity=0.8, fmt="csr16").footprint_bytes
    check_max_bytes(TinyTask(), candidate, settings, predicted - 1)
