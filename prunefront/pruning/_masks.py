"""Magnitude masks: exactly the scheduled number of zeros, for every pattern; masks only grow.

A mask is a boolean tensor of the weight's shape and device, True where the weight is kept.
Structured patterns (N:M, blocks) do their group arithmetic on the CPU, with every tensor made
there explicitly and the weight's scores copied in, and move the mask to the weight's device at
the end: a CUDA weight never meets a CPU tensor in one operation. Scores are
``|w|``; weights already pruned score ``-inf`` so that a new mask always contains the old one.
Ties are broken deterministically by position (stable sort), so exactly ``round(s * n)`` weights
are zero (``round(s * blocks)`` whole blocks for block patterns), never more, and at least one
weight (block) survives.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from prunefront.errors import PrunefrontError
from prunefront.pruning._patterns import BlockPattern, NMPattern, Pattern, UnstructuredPattern
from prunefront.pruning._targets import from_nm_matrix, nm_matrix

__all__ = ["global_unstructured_masks", "magnitude_mask", "zeros_for"]


def zeros_for(count: int, sparsity: float) -> int:
    """Number of pruned units out of ``count`` at ``sparsity``: round(s*n), at most n - 1."""
    if not 0.0 <= sparsity < 1.0:
        raise PrunefrontError(f"sparsity must be in [0, 1), got {sparsity}")
    return min(round(sparsity * count), max(count - 1, 0))


def _scores(weight: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
    scores = weight.detach().abs().float()
    if previous is not None:
        scores = scores.masked_fill(~previous, float("-inf"))
    return scores


def _prune_smallest(
    scores: torch.Tensor, k: int, allowed: torch.Tensor | None = None
) -> torch.Tensor:
    """Keep-mask of flat ``scores`` with the ``k`` smallest (among ``allowed``) removed."""
    keep = torch.ones_like(scores, dtype=torch.bool)
    if k <= 0:
        return keep
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("inf"))
    order = torch.sort(scores, stable=True).indices
    keep[order[:k]] = False
    return keep


def _unstructured(
    weight: torch.Tensor, sparsity: float, previous: torch.Tensor | None
) -> torch.Tensor:
    scores = _scores(weight, previous).flatten()
    keep = _prune_smallest(scores, zeros_for(scores.numel(), sparsity))
    return keep.view_as(weight)


def _nm(
    weight: torch.Tensor, sparsity: float, pattern: NMPattern, previous: torch.Tensor | None
) -> torch.Tensor:
    """N:M along the columns of the N:M view (the inputs; a convolution's input channels at
    each ``(out, *kernel)``); a short last group keeps up to N.

    Candidates are the (group size - N) smallest of every group; pruning them all gives N:M.
    Below that sparsity the smallest candidates go first; above it, the smallest survivors.
    """
    rows = weight.shape[0] if weight.dim() > 0 else 1
    scores = _scores(weight, previous).reshape(rows, -1).cpu()
    cols = scores.shape[1]
    m, n = pattern.m, pattern.n
    padded_cols = -(-cols // m) * m
    padded = torch.full((rows, padded_cols), float("inf"), device="cpu")
    padded[:, :cols] = scores
    groups = padded.view(rows, padded_cols // m, m)
    real = torch.zeros(padded_cols, dtype=torch.bool, device="cpu")
    real[:cols] = True
    real_per_group = real.view(-1, m).sum(dim=1)  # m everywhere except a ragged last group
    rank = torch.sort(groups, dim=2, stable=True).indices.argsort(dim=2)
    candidate = rank < (real_per_group - n).clamp(min=0).view(1, -1, 1)
    candidate = candidate.reshape(rows, padded_cols)[:, :cols].flatten()
    flat = scores.flatten()
    k = zeros_for(flat.numel(), sparsity)
    n_candidates = int(candidate.sum())
    if k <= n_candidates:
        keep = _prune_smallest(flat, k, allowed=candidate)
    else:
        keep = candidate.logical_not()
        extra = _prune_smallest(flat, k - n_candidates, allowed=keep)
        keep &= extra
    return keep.view_as(weight)


def _block(
    weight: torch.Tensor, sparsity: float, pattern: BlockPattern, previous: torch.Tensor | None
) -> torch.Tensor:
    """Whole blocks of the 2-D view ranked by pooled |w|; ragged edge blocks pool what they hold."""
    rows = weight.shape[0] if weight.dim() > 0 else 1
    mag = weight.detach().abs().float().reshape(rows, -1)
    cols = mag.shape[1]
    br, bc = pattern.rows, pattern.cols
    prow, pcol = -(-rows // br) * br, -(-cols // bc) * bc
    grid = (prow // br, pcol // bc)
    padded = torch.full((prow, pcol), float("nan"), device="cpu")
    padded[:rows, :cols] = mag
    blocks = padded.view(grid[0], br, grid[1], bc).permute(0, 2, 1, 3).reshape(*grid, br * bc)
    if pattern.pool == "mean":
        pooled = blocks.nanmean(dim=2)
    else:
        pooled = blocks.nan_to_num(float("-inf")).amax(dim=2)
    if previous is not None:
        prev = torch.ones((prow, pcol), dtype=torch.bool, device="cpu")
        prev[:rows, :cols] = previous.reshape(rows, -1)
        prev_blocks = prev.view(grid[0], br, grid[1], bc).permute(0, 2, 1, 3)
        pruned_before = ~prev_blocks.reshape(*grid, br * bc).any(dim=2)
        pooled = pooled.masked_fill(pruned_before, float("-inf"))
    flat = pooled.flatten()
    keep_blocks = _prune_smallest(flat, zeros_for(flat.numel(), sparsity)).view(*grid)
    keep = keep_blocks.repeat_interleave(br, dim=0).repeat_interleave(bc, dim=1)
    return keep[:rows, :cols].reshape(weight.shape)


def magnitude_mask(
    weight: torch.Tensor,
    sparsity: float,
    pattern: Pattern,
    previous: torch.Tensor | None = None,
) -> torch.Tensor:
    """The keep-mask of ``weight`` at ``sparsity`` under ``pattern``, keeping ``previous``'s zeros.

    Args:
        weight: The weight tensor (any shape; its 2-D view is outputs x flattened inputs, and
            N:M groups run along a convolution's input channels).
        sparsity: Target fraction of zeros in [0, 1).
        pattern: Unstructured, N:M or block.
        previous: The current keep-mask; pruned weights stay pruned.
    """
    zeros_for(1, sparsity)  # validates the range
    if isinstance(pattern, UnstructuredPattern):
        mask = _unstructured(weight, sparsity, previous)
    elif isinstance(pattern, NMPattern):
        view = None if previous is None else nm_matrix(previous)
        mask = from_nm_matrix(_nm(nm_matrix(weight), sparsity, pattern, view), weight.shape)
    else:
        mask = _block(weight, sparsity, pattern, previous)
    return mask.to(weight.device)


def global_unstructured_masks(
    weights: Sequence[torch.Tensor],
    sparsity: float,
    previous: Sequence[torch.Tensor | None] | None = None,
) -> list[torch.Tensor]:
    """Rank all weights together: exactly round(s * total) zeros across the tensors."""
    prev = list(previous) if previous is not None else [None] * len(weights)
    scores = torch.cat([_scores(w, p).flatten().cpu() for w, p in zip(weights, prev, strict=True)])
    keep = _prune_smallest(scores, zeros_for(scores.numel(), sparsity))
    masks, offset = [], 0
    for w in weights:
        masks.append(keep[offset : offset + w.numel()].view_as(w).to(w.device))
        offset += w.numel()
    return masks
