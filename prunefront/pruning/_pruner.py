"""GradualPruner: the paper's gradual magnitude pruning, driven by a training loop's ``on_step``.

The pruner keeps one boolean mask per prunable weight. After every optimizer step it is called with
the step index; on pruning steps it recomputes the masks at the scheduled sparsity, and on every
step it multiplies the weights by their masks, so pruned weights are exactly zero whatever the
optimizer (momentum or Adam state cannot bring them back) and take no part in the next forward
pass. The model stays an ordinary module throughout: no reparametrisation, no hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.pruning._masks import global_unstructured_masks, magnitude_mask
from prunefront.pruning._patterns import Pattern, UnstructuredPattern, parse_pattern
from prunefront.pruning._schedule import PolynomialDecay
from prunefront.pruning._targets import PrunableTarget, find_prunable

__all__ = [
    "GradualPruner",
    "LayerSparsity",
    "magnitude_prune",
    "sparsity_summary",
    "strip",
]

_SCOPES = ("layer", "global")


@dataclass(frozen=True)
class LayerSparsity:
    """Sparsity of one prunable weight.

    Attributes:
        name: Qualified parameter name.
        shape: The weight's shape.
        numel: Number of elements.
        nonzero: Number of non-zero elements.
    """

    name: str
    shape: tuple[int, ...]
    numel: int
    nonzero: int

    @property
    def sparsity(self) -> float:
        """Fraction of zeros."""
        return 1.0 - self.nonzero / self.numel if self.numel else 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data, sparsity included."""
        return {**asdict(self), "shape": list(self.shape), "sparsity": self.sparsity}


def sparsity_summary(model: nn.Module, exclude: Sequence[str] = ()) -> list[LayerSparsity]:
    """Per-layer sparsity of the prunable weights of ``model``, counting actual zeros."""
    return [
        LayerSparsity(
            name=t.name,
            shape=tuple(t.param.shape),
            numel=t.param.numel(),
            nonzero=int(torch.count_nonzero(t.param.detach())),
        )
        for t in find_prunable(model, exclude)
    ]


def _check_scope(scope: str, pattern: Pattern) -> None:
    if scope not in _SCOPES:
        raise PrunefrontError(f"scope must be one of {', '.join(_SCOPES)}, got {scope!r}")
    if scope == "global" and not isinstance(pattern, UnstructuredPattern):
        raise PrunefrontError(
            f"global ranking supports only the unstructured pattern, not {pattern}"
        )


def _compute_masks(
    targets: Sequence[PrunableTarget],
    sparsity: float,
    pattern: Pattern,
    scope: str,
    previous: Sequence[torch.Tensor | None],
) -> list[torch.Tensor]:
    weights = [t.param.detach() for t in targets]
    if scope == "global":
        return global_unstructured_masks(weights, sparsity, previous)
    return [magnitude_mask(w, sparsity, pattern, p) for w, p in zip(weights, previous, strict=True)]


class GradualPruner:
    """Gradual magnitude pruning of ``model`` following ``schedule``.

    Example::

        pruner = GradualPruner(model, default_schedule(task.total_steps(), 0.9))
        task.train(model, on_step=pruner.on_step, device="cpu", seed=0)
        pruner.strip()

    Args:
        model: The model to prune (its prunable weights are found with ``find_prunable``).
        schedule: When and how far to prune.
        pattern: ``"unstructured"``, ``"N:M"`` or ``"RxC"`` (or a parsed pattern).
        exclude: ``fnmatch`` patterns of parameter or module names to leave dense.
        scope: ``"layer"`` (each tensor reaches the sparsity) or ``"global"`` (one ranking).
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: PolynomialDecay,
        *,
        pattern: str | Pattern = "unstructured",
        exclude: Sequence[str] = (),
        scope: str = "layer",
    ) -> None:
        self.pattern = parse_pattern(pattern)
        _check_scope(scope, self.pattern)
        if schedule.final_sparsity > 0 and schedule.final_sparsity < self.pattern.min_sparsity:
            raise PrunefrontError(
                f"final sparsity {schedule.final_sparsity} is below {self.pattern.min_sparsity} "
                f"which pattern {self.pattern} needs"
            )
        self.model = model
        self.schedule = schedule
        self.scope = scope
        self.targets = find_prunable(model, exclude)
        if not self.targets:
            raise PrunefrontError("the model has no prunable weights (after exclusions)")
        self._masks: list[torch.Tensor] | None = None
        self._float_masks: list[torch.Tensor] = []
        self.last_update_step: int | None = None
        self.current_sparsity = 0.0

    @property
    def masks(self) -> dict[str, torch.Tensor]:
        """Current keep-masks by parameter name (empty before the first pruning step)."""
        if self._masks is None:
            return {}
        return {t.name: m for t, m in zip(self.targets, self._masks, strict=True)}

    def on_step(self, step: int) -> None:
        """Call after optimizer step ``step``: update masks on pruning steps, then re-apply them."""
        if self.schedule.is_update_step(step):
            self.update_masks(self.schedule.sparsity(step))
            self.last_update_step = step
        self.apply()

    @torch.no_grad()
    def update_masks(self, sparsity: float) -> None:
        """Recompute the masks at ``sparsity`` (never un-pruning a weight) and apply them."""
        previous: list[torch.Tensor | None] = (
            list(self._masks) if self._masks is not None else [None] * len(self.targets)
        )
        self._masks = _compute_masks(self.targets, sparsity, self.pattern, self.scope, previous)
        self._float_masks = [
            m.to(dtype=t.param.dtype) for t, m in zip(self.targets, self._masks, strict=True)
        ]
        self.current_sparsity = sparsity
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned weights (one fused multiply over all tensors)."""
        if self._masks is None:
            return
        params = [t.param.data for t in self.targets]
        torch._foreach_mul_(params, self._float_masks)

    def summary(self) -> list[LayerSparsity]:
        """Per-layer sparsity of the pruned weights as they are now."""
        return [
            LayerSparsity(
                name=t.name,
                shape=tuple(t.param.shape),
                numel=t.param.numel(),
                nonzero=int(torch.count_nonzero(t.param.detach())),
            )
            for t in self.targets
        ]

    def strip(self) -> nn.Module:
        """Make the pruning permanent and detach the pruner; returns the plain model."""
        self.apply()
        self._masks = None
        self._float_masks = []
        return strip(self.model)


@torch.no_grad()
def magnitude_prune(
    model: nn.Module,
    sparsity: float,
    *,
    pattern: str | Pattern = "unstructured",
    exclude: Sequence[str] = (),
    scope: str = "layer",
) -> dict[str, torch.Tensor]:
    """One-shot magnitude pruning of ``model`` in place; returns the keep-masks by name."""
    parsed = parse_pattern(pattern)
    _check_scope(scope, parsed)
    if 0 < sparsity < parsed.min_sparsity:
        raise PrunefrontError(
            f"sparsity {sparsity} is below {parsed.min_sparsity} which pattern {parsed} needs"
        )
    targets = find_prunable(model, exclude)
    masks = _compute_masks(targets, sparsity, parsed, scope, [None] * len(targets))
    for target, mask in zip(targets, masks, strict=True):
        target.param.mul_(mask.to(target.param.dtype))
    return {t.name: m for t, m in zip(targets, masks, strict=True)}


def strip(model: nn.Module) -> nn.Module:
    """Leave an ordinary module: also folds ``torch.nn.utils.prune`` re-parametrisations in."""
    from torch.nn.utils import prune as torch_prune

    for module in model.modules():
        for name in [
            n[: -len("_orig")]
            for n, _ in module.named_parameters(recurse=False)
            if n.endswith("_orig")
        ]:
            if torch_prune.is_pruned(module):
                torch_prune.remove(module, name)
    return model
