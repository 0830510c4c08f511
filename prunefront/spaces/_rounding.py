"""The weights a model computes with once stored in the footprint's dtype.

The footprint counts every parameter in the budget's dtype; ``round_to_dtype`` gives the model
exactly those values (float16/bfloat16 rounding, int8 per-channel symmetric levels times their
scales), so that the task metric is measured on the model the footprint describes and the
exported file reproduces it. Buffers (BatchNorm statistics) are not counted and stay as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from prunefront.spaces._dtypes import DType, parse_dtype

__all__ = ["round_to_dtype"]


def round_to_dtype(model: nn.Module, dtype: str | DType) -> nn.Module:
    """Replace every floating parameter of ``model`` by its value stored in ``dtype``, in place.

    Exact zeros stay zero; ``float32`` leaves the model unchanged. Returns ``model``.

    Raises:
        PrunefrontError: Unknown dtype.
    """
    parsed = parse_dtype(dtype)
    if parsed.name == "float32":
        return model
    seen: set[int] = set()
    with torch.no_grad():
        for param in model.parameters():
            if id(param) in seen or not param.is_floating_point():
                continue
            seen.add(id(param))
            values = param.detach().float().cpu().numpy()
            stored = torch.from_numpy(parsed.rounded(values))
            param.copy_(stored.to(device=param.device, dtype=param.dtype))
    return model
