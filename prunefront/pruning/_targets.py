"""Which parameters of a model are prunable, found once and named by their qualified names.

Prunable: the weight of Linear, Conv1d/2d/3d and Embedding, the input/hidden (and projection)
weight matrices of RNN/LSTM/GRU, and the input projections of ``nn.MultiheadAttention`` (the bare
Parameter ``in_proj_weight``, or ``q/k/v_proj_weight``; its ``out_proj`` is an ``nn.Linear``).
Biases and normalisation parameters stay dense. A weight shared by several modules (tied
weights) is one target, found at its first module. Users exclude layers by ``fnmatch`` patterns
matched against the parameter's qualified name (``"encoder.0.weight"``) and against its module's
name (``"encoder.0"``). A layer whose weight is not a Parameter (a ``torch.nn.utils.parametrize``
parametrization, or ``torch.nn.utils.prune``'s reparametrisation) cannot be pruned by masking
it; it stays dense and a warning names it.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "PrunableTarget",
    "find_prunable",
    "from_nm_matrix",
    "matrix_shape",
    "nm_matrix",
    "nm_matrix_shape",
]

_WEIGHT_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
_RNN_WEIGHT_PREFIXES = ("weight_ih_l", "weight_hh_l", "weight_hr_l")
_ATTENTION_WEIGHTS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


@dataclass(frozen=True)
class PrunableTarget:
    """One prunable weight tensor.

    Attributes:
        name: Qualified parameter name, e.g. ``"lstm.weight_hh_l0"``.
        module: The module that owns the parameter.
        param_name: The attribute name on ``module``, e.g. ``"weight"``.
    """

    name: str
    module: nn.Module
    param_name: str

    @property
    def param(self) -> nn.Parameter:
        """The live parameter (looked up each time so that re-registration is seen)."""
        param = getattr(self.module, self.param_name)
        assert isinstance(param, nn.Parameter)
        return param


def matrix_shape(shape: Sequence[int]) -> tuple[int, int]:
    """The 2-D view ``(rows, cols)`` of a weight: outputs x flattened inputs."""
    if len(shape) == 0:
        return (1, 1)
    rows = int(shape[0])
    cols = 1
    for dim in shape[1:]:
        cols *= int(dim)
    return (rows, cols)


def nm_matrix_shape(shape: Sequence[int]) -> tuple[int, int]:
    """The 2-D view ``(rows, cols)`` whose rows hold N:M groups, consecutive along ``cols``.

    For a Linear, Embedding or RNN matrix that is the ordinary view (groups along the inputs).
    For a convolution ``(out, in, *kernel)`` groups run along the input channels at each
    ``(out, *kernel)`` position, the layout sparse tensor cores and TensorRT use: rows are
    ``out * prod(kernel)``, columns ``in``.
    """
    if len(shape) <= 2:
        return matrix_shape(shape)
    rows = int(shape[0])
    for dim in shape[2:]:
        rows *= int(dim)
    return (rows, int(shape[1]))


def nm_matrix(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` as its N:M view (see :func:`nm_matrix_shape`); ``from_nm_matrix`` undoes it."""
    rows, cols = nm_matrix_shape(weight.shape)
    if weight.dim() <= 2:
        return weight.reshape(rows, cols)
    return weight.movedim(1, -1).reshape(rows, cols)


def from_nm_matrix(matrix: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The tensor of ``shape`` whose N:M view is ``matrix``."""
    dims = tuple(int(d) for d in shape)
    if len(dims) <= 2:
        return matrix.reshape(dims)
    return matrix.reshape(dims[0], *dims[2:], dims[1]).movedim(-1, 1)


def _excluded(names: Iterable[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for name in names for pat in patterns)


def _param_names(module_name: str, module: nn.Module) -> list[str]:
    """The prunable parameter names of one module (none for modules of other kinds)."""
    if isinstance(module, _WEIGHT_MODULES):
        if isinstance(module.weight, nn.Parameter):
            return ["weight"]
        warnings.warn(
            f"layer {module_name or '(root)'!r} ({type(module).__name__}) has a parametrized "
            "weight (not a Parameter): it stays dense and is not pruned",
            UserWarning,
            stacklevel=3,
        )
        return []
    if isinstance(module, nn.RNNBase):
        return [
            n
            for n, _ in module.named_parameters(recurse=False)
            if n.startswith(_RNN_WEIGHT_PREFIXES)
        ]
    if isinstance(module, nn.MultiheadAttention):
        return [
            n for n in _ATTENTION_WEIGHTS if isinstance(module._parameters.get(n), nn.Parameter)
        ]
    return []


def find_prunable(model: nn.Module, exclude: Sequence[str] = ()) -> list[PrunableTarget]:
    """List the prunable weights of ``model`` in ``named_modules`` order, each tensor once.

    Args:
        model: Any module.
        exclude: ``fnmatch`` patterns; a weight whose qualified name or module name matches one
            is left dense.

    Warns:
        UserWarning: naming a layer whose weight is parametrized (it stays dense).
    """
    targets: list[PrunableTarget] = []
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        for param_name in _param_names(module_name, module):
            qualified = f"{module_name}.{param_name}" if module_name else param_name
            if _excluded((qualified, module_name), exclude):
                continue
            param = getattr(module, param_name)
            if id(param) in seen:  # a tied weight: masked and counted once
                continue
            seen.add(id(param))
            targets.append(PrunableTarget(qualified, module, param_name))
    return targets
