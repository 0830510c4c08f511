"""Which parameters of a model are prunable, found once and named by their qualified names.

Prunable: the weight of Linear, Conv1d/2d/3d and Embedding, and the input/hidden (and projection)
weight matrices of RNN/LSTM/GRU. Biases and normalisation parameters stay dense. Users exclude
layers by ``fnmatch`` patterns matched against the parameter's qualified name
(``"encoder.0.weight"``) and against its module's name (``"encoder.0"``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from torch import nn

__all__ = ["PrunableTarget", "find_prunable", "matrix_shape"]

_WEIGHT_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
_RNN_WEIGHT_PREFIXES = ("weight_ih_l", "weight_hh_l", "weight_hr_l")


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


def _excluded(names: Iterable[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for name in names for pat in patterns)


def find_prunable(model: nn.Module, exclude: Sequence[str] = ()) -> list[PrunableTarget]:
    """List the prunable weights of ``model`` in ``named_modules`` order.

    Args:
        model: Any module.
        exclude: ``fnmatch`` patterns; a weight whose qualified name or module name matches one
            is left dense.
    """
    targets: list[PrunableTarget] = []
    for module_name, module in model.named_modules():
        if isinstance(module, _WEIGHT_MODULES):
            param_names = ["weight"] if isinstance(module.weight, nn.Parameter) else []
        elif isinstance(module, nn.RNNBase):
            param_names = [
                n
                for n, _ in module.named_parameters(recurse=False)
                if n.startswith(_RNN_WEIGHT_PREFIXES)
            ]
        else:
            continue
        for param_name in param_names:
            qualified = f"{module_name}.{param_name}" if module_name else param_name
            if _excluded((qualified, module_name), exclude):
                continue
            targets.append(PrunableTarget(qualified, module, param_name))
    return targets
