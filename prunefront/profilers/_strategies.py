"""Execution strategies: the ways one pruned candidate can be run, each on a deep copy.

``masked_dense`` runs the model as it is (zeros stored densely: what a pruned model gives by
default, and all a small-dense model has). ``csr`` and ``bsr`` hold sparse ``nn.Linear`` weights
in compressed layouts for sparse @ dense kernels; ``semi_structured_2_4`` uses the sparse tensor
cores of CUDA devices of compute capability >= 8.0 for weights that are 2:4 along the input
dimension. A strategy that cannot apply says why instead of producing a model. Every applicable
strategy's outputs are later checked against the dense reference (``compare_outputs``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.profilers._sparse_linear import SparseLinear

__all__ = [
    "STRATEGY_NAMES",
    "OutputCheck",
    "Prepared",
    "SemiStructuredSupport",
    "StrategySettings",
    "compare_outputs",
    "flatten_rnns",
    "prepare_strategy",
    "semi_structured_support",
]

STRATEGY_NAMES: tuple[str, ...] = ("masked_dense", "csr", "bsr", "semi_structured_2_4")

# (rtol, atol relative to the largest reference magnitude) per dtype: summation order differs
# between dense and sparse kernels, so bitwise equality is not expected.
_TOLERANCE: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (1e-4, 1e-5),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
}
# float32 on sparse tensor cores is computed in TF32 (10 explicit mantissa bits, like float16).
_TF32_TOLERANCE: tuple[float, float] = (5e-3, 2e-3)


@dataclass(frozen=True, kw_only=True)
class StrategySettings:
    """When the sparse strategies are worth trying.

    Attributes:
        min_sparsity: A Linear weight below this fraction of zeros stays dense under ``csr`` and
            ``bsr``; with no layer above it the strategy does not apply (too dense to win).
        bsr_blocksizes: Block shapes tried for ``bsr``, largest first (square by default: MKL's
            CPU kernel rejects non-square blocks; such a failure makes ``bsr`` not applicable).
    """

    min_sparsity: float = 0.5
    bsr_blocksizes: tuple[tuple[int, int], ...] = ((32, 32), (16, 16), (8, 8), (4, 4))

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_sparsity < 1.0:
            raise PrunefrontError(
                f"strategies.min_sparsity = {self.min_sparsity}: must be in [0, 1)"
            )
        for rows, cols in self.bsr_blocksizes:
            if rows < 1 or cols < 1:
                raise PrunefrontError(
                    f"strategies.bsr_blocksizes has {rows}x{cols}: block sides must be >= 1"
                )


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A strategy's transformed copy of the model, or why it does not apply.

    Attributes:
        name: The strategy.
        model: The transformed deep copy; ``None`` when the strategy does not apply.
        reason: Why it does not apply, or (when it does) what was converted and what stays dense.
        tf32: Whether float32 layers now compute in TF32 (its outputs are compared with a
            TF32 tolerance).
    """

    name: str
    model: nn.Module | None
    reason: str | None
    tf32: bool = False

    @property
    def applicable(self) -> bool:
        """Whether there is a model to run."""
        return self.model is not None


def _sparsity(weight: torch.Tensor) -> float:
    return float((weight == 0).sum()) / max(weight.numel(), 1)


def _linears(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The layers a replacement can stand in for completely: exactly ``nn.Linear``.

    A subclass may be read by its parent rather than called (``nn.MultiheadAttention`` passes
    ``out_proj.weight`` and ``out_proj.bias`` to its kernel), so replacing it would break the
    parent; it stays dense (see ``_dense_notes``).
    """
    return [(n, m) for n, m in model.named_modules() if type(m) is nn.Linear]


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _dense_notes(model: nn.Module, what: str) -> list[str]:
    """Say which prunable layers a Linear-only strategy leaves dense (e.g. an LSTM's matrices)."""
    notes = []
    for name, module in model.named_modules():
        if isinstance(module, nn.RNNBase):
            notes.append(
                f"nn.{type(module).__name__} '{name}' stays dense: {what} does not apply to "
                "fused RNN weights"
            )
        elif isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            notes.append(f"nn.{type(module).__name__} '{name}' stays dense")
        elif isinstance(module, nn.MultiheadAttention):
            notes.append(
                f"nn.MultiheadAttention '{name}' stays dense: its projections are applied "
                "by the attention kernel, not called as layers"
            )
        elif _replaced_subclass(model, name, module):
            notes.append(
                f"{type(module).__name__} '{name}' stays dense: a subclass of nn.Linear "
                "may be read by its parent, so it is not replaced"
            )
    return notes


def _replaced_subclass(model: nn.Module, name: str, module: nn.Module) -> bool:
    """Whether ``module`` is an nn.Linear subclass left dense outside an attention layer."""
    if type(module) is nn.Linear or not isinstance(module, nn.Linear):
        return False
    parent_name = name.rpartition(".")[0]
    parent = model.get_submodule(parent_name) if parent_name else model
    return not isinstance(parent, nn.MultiheadAttention)


def _masked_dense(model: nn.Module, device: torch.device, settings: StrategySettings) -> Prepared:
    return Prepared(name="masked_dense", model=copy.deepcopy(model), reason=None)


def _candidate_linears(
    model: nn.Module, name: str, settings: StrategySettings
) -> list[tuple[str, nn.Linear]] | str:
    """The sparse-enough Linear layers, or why there are none."""
    linears = _linears(model)
    if not linears:
        return f"{name} converts nn.Linear layers and the model has none"
    levels = [_sparsity(m.weight) for _, m in linears]
    if max(levels) == 0.0:
        return "the model is dense: there are no zeros for a sparse kernel to skip"
    chosen = [lin for lin, s in zip(linears, levels, strict=True) if s >= settings.min_sparsity]
    if not chosen:
        return (
            f"no nn.Linear weight has sparsity >= {settings.min_sparsity:g} (highest "
            f"{max(levels):.3f}): too dense for {name} to have a chance"
        )
    return chosen


def _convert(
    model: nn.Module,
    name: str,
    targets: list[tuple[str, nn.Module]],
    total: int,
) -> Prepared:
    converted = copy.deepcopy(model)
    for layer_name, new in targets:
        _replace(converted, layer_name, new)
    notes = [f"{len(targets)} of {total} nn.Linear layer(s) converted"]
    notes += _dense_notes(model, name)
    return Prepared(name=name, model=converted, reason="; ".join(notes))


def _csr(model: nn.Module, device: torch.device, settings: StrategySettings) -> Prepared:
    chosen = _candidate_linears(model, "csr", settings)
    if isinstance(chosen, str):
        return Prepared(name="csr", model=None, reason=chosen)
    targets: list[tuple[str, nn.Module]] = [(n, SparseLinear(m)) for n, m in chosen]
    return _convert(model, "csr", targets, len(_linears(model)))


def _block_sparsity(weight: torch.Tensor, rows: int, cols: int) -> float | None:
    out_f, in_f = weight.shape
    if out_f % rows or in_f % cols:
        return None
    blocks = weight.reshape(out_f // rows, rows, in_f // cols, cols).ne(0).any(dim=(1, 3))
    return 1.0 - float(blocks.sum()) / blocks.numel()


def _bsr(model: nn.Module, device: torch.device, settings: StrategySettings) -> Prepared:
    chosen = _candidate_linears(model, "bsr", settings)
    if isinstance(chosen, str):
        return Prepared(name="bsr", model=None, reason=chosen)
    targets: list[tuple[str, nn.Module]] = []
    for layer_name, linear in chosen:
        weight = linear.weight.detach()
        # A block layout only pays when nearly all zeros sit in all-zero blocks.
        needed = max(settings.min_sparsity, 0.9 * _sparsity(weight))
        for rows, cols in settings.bsr_blocksizes:
            level = _block_sparsity(weight, rows, cols)
            if level is not None and level >= needed:
                targets.append(
                    (
                        layer_name,
                        SparseLinear(linear, layout=torch.sparse_bsr, blocksize=(rows, cols)),
                    )
                )
                break
    if not targets:
        sizes = ", ".join(f"{r}x{c}" for r, c in settings.bsr_blocksizes)
        return Prepared(
            name="bsr",
            model=None,
            reason=f"no sparse nn.Linear weight is block-sparse in any of {sizes}",
        )
    return _convert(model, "bsr", targets, len(_linears(model)))


def _keeps_n_of_m(weight: torch.Tensor, n: int, m: int) -> bool:
    """Whether every group of ``m`` consecutive inputs holds at most ``n`` nonzeros."""
    out_f, in_f = weight.shape
    if in_f % m:
        return False
    return bool((weight.reshape(out_f, in_f // m, m).ne(0).sum(dim=-1) <= n).all())


def _semi_structured_misfit(weight: torch.Tensor) -> str | None:
    """Why a Linear weight cannot use sparse tensor cores, or ``None`` when it can."""
    out_f, in_f = weight.shape
    if out_f % 32 or in_f % 64:
        return f"shape {out_f}x{in_f} is not a multiple of 32x64"
    if weight.dtype in (torch.float16, torch.bfloat16):
        return None if _keeps_n_of_m(weight, 2, 4) else "weights are not 2:4 along the inputs"
    if weight.dtype == torch.float32:
        # Sparse tensor cores run float32 as TF32 with 1:2 sparsity, not 2:4.
        if _keeps_n_of_m(weight, 1, 2):
            return None
        return "float32 weights need 1:2 sparsity (TF32); run the model in fp16/bf16 for 2:4"
    return f"dtype {weight.dtype} has no sparse tensor core kernel"


@dataclass(frozen=True, kw_only=True)
class SemiStructuredSupport:
    """Which 2:4 kernel torch would use for a dtype on a compute capability, or why none.

    Attributes:
        backend: ``cusparselt`` or ``cutlass``; ``None`` when there is none.
        reason: Why there is none (``None`` when there is a backend).
    """

    backend: str | None
    reason: str | None = None


def semi_structured_support(
    capability: tuple[int, int], dtype: torch.dtype, *, cusparselt: bool
) -> SemiStructuredSupport:
    """The 2:4 kernel torch offers for ``dtype`` on a device of ``capability``.

    torch's CUTLASS kernels are built for compute capability 8.x only; cuSPARSELt (when torch
    has it) covers 8.0 and newer for float16 and bfloat16 but has no float32 kernel, so float32
    (TF32, 1:2) runs on 8.x only.

    Args:
        capability: (major, minor), e.g. (8, 0) A100, (8, 7) Jetson Orin, (9, 0) H100.
        dtype: The weight dtype.
        cusparselt: Whether torch has cuSPARSELt (``torch.backends.cusparselt.is_available()``).
    """
    major, minor = capability
    if capability < (8, 0):
        return SemiStructuredSupport(
            backend=None, reason=f"needs compute capability >= 8.0; device has {major}.{minor}"
        )
    if dtype in (torch.float16, torch.bfloat16):
        if cusparselt:
            return SemiStructuredSupport(backend="cusparselt")
        if major == 8:
            return SemiStructuredSupport(backend="cutlass")
        return SemiStructuredSupport(
            backend=None,
            reason=f"torch's CUTLASS 2:4 kernel supports compute capability 8.x only "
            f"(device has {major}.{minor}) and this torch has no cuSPARSELt",
        )
    if dtype == torch.float32:
        if major == 8:
            return SemiStructuredSupport(backend="cutlass")
        return SemiStructuredSupport(
            backend=None,
            reason=f"float32 (TF32) 2:4 runs only on torch's CUTLASS kernel, built for compute "
            f"capability 8.x (device has {major}.{minor}); cuSPARSELt has no float32 kernel",
        )
    return SemiStructuredSupport(backend=None, reason=f"dtype {dtype} has no 2:4 kernel here")


def _to_semi_structured(weight: torch.Tensor, backend: str) -> torch.Tensor:
    from torch.sparse import (
        SparseSemiStructuredTensorCUSPARSELT,
        SparseSemiStructuredTensorCUTLASS,
    )

    if backend == "cusparselt":
        return SparseSemiStructuredTensorCUSPARSELT.from_dense(weight)
    return SparseSemiStructuredTensorCUTLASS.from_dense(weight)


def _semi_structured(
    model: nn.Module, device: torch.device, settings: StrategySettings
) -> Prepared:
    name = "semi_structured_2_4"
    if device.type != "cuda":
        return Prepared(
            name=name,
            model=None,
            reason=f"needs a CUDA device with sparse tensor cores (sm >= 8.0); device is {device}",
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < (8, 0):
        reason = semi_structured_support(capability, torch.float16, cusparselt=False).reason
        return Prepared(name=name, model=None, reason=f"{reason} ({device})")
    cusparselt = torch.backends.cusparselt.is_available()
    linears = _linears(model)
    targets, misfits = [], []
    for layer_name, linear in linears:
        weight = linear.weight.detach()
        misfit = "dense" if _sparsity(weight) == 0 else _semi_structured_misfit(weight)
        support = semi_structured_support(capability, weight.dtype, cusparselt=cusparselt)
        if misfit is None and support.backend is None:
            misfit = support.reason
        if misfit is None and support.backend is not None:
            targets.append((layer_name, weight, support.backend))
        else:
            misfits.append(f"{layer_name}: {misfit}")
    if not targets:
        detail = "; ".join(misfits[:3]) or "the model has no nn.Linear layer"
        return Prepared(name=name, model=None, reason=f"no nn.Linear weight fits ({detail})")
    converted = copy.deepcopy(model)
    for layer_name, weight, backend in targets:
        layer = converted.get_submodule(layer_name)
        packed = _to_semi_structured(weight.contiguous(), backend)
        layer.weight = nn.Parameter(packed, requires_grad=False)
    backends = sorted({backend for _, _, backend in targets})
    notes = [
        f"{len(targets)} of {len(linears)} nn.Linear layer(s) converted ({', '.join(backends)})"
    ]
    notes += _dense_notes(model, name)
    tf32 = any(weight.dtype == torch.float32 for _, weight, _ in targets)
    return Prepared(name=name, model=converted, reason="; ".join(notes), tf32=tf32)


def flatten_rnns(model: nn.Module) -> nn.Module:
    """Call ``flatten_parameters()`` on every RNN in ``model`` (a no-op off cuDNN); return it.

    A copied RNN's weights are no longer one contiguous cuDNN buffer, and cuDNN then compacts
    them on every forward pass: a copy that is timed must be flattened first.
    """
    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            module.flatten_parameters()
    return model


_PREPARE: dict[str, Callable[[nn.Module, torch.device, StrategySettings], Prepared]] = {
    "masked_dense": _masked_dense,
    "csr": _csr,
    "bsr": _bsr,
    "semi_structured_2_4": _semi_structured,
}


def prepare_strategy(
    name: str, model: nn.Module, device: torch.device, settings: StrategySettings
) -> Prepared:
    """Build strategy ``name``'s deep copy of ``model`` (already on ``device``), or say why not.

    A conversion that raises (a layout or dtype the installed torch lacks on this device) makes
    the strategy not applicable, with the error as the reason; ``model`` is never modified.

    Raises:
        PrunefrontError: ``name`` is not a known strategy.
    """
    if name not in _PREPARE:
        raise PrunefrontError(f"unknown execution strategy {name!r}; valid: {list(STRATEGY_NAMES)}")
    try:
        prepared = _PREPARE[name](model, device, settings)
    except Exception as error:  # any failure of one strategy is its result, not the profile's
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return Prepared(
            name=name,
            model=None,
            reason=f"conversion failed: {type(error).__name__}: {first_line}",
        )
    if prepared.model is not None:
        flatten_rnns(prepared.model)
    return prepared


def _tensors(outputs: object) -> Iterable[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        yield outputs
    elif isinstance(outputs, dict):
        for value in outputs.values():
            yield from _tensors(value)
    elif isinstance(outputs, list | tuple):
        for value in outputs:
            yield from _tensors(value)


@dataclass(frozen=True, kw_only=True)
class OutputCheck:
    """How a strategy's outputs compare with the dense reference.

    Attributes:
        matches: Whether every output tensor is within the dtype's tolerance.
        max_abs_error: The largest absolute difference seen (``inf`` on a shape mismatch).
        reason: Why it does not match, if it does not.
    """

    matches: bool
    max_abs_error: float
    reason: str | None = None


def compare_outputs(outputs: object, reference: object, *, tf32: bool = False) -> OutputCheck:
    """Compare every tensor in ``outputs`` with ``reference`` with a tolerance per dtype.

    With ``tf32`` the float32 outputs were computed in TF32 and get its wider tolerance.
    """
    got, want = list(_tensors(outputs)), list(_tensors(reference))
    if len(got) != len(want):
        return OutputCheck(
            matches=False,
            max_abs_error=float("inf"),
            reason=f"{len(got)} output tensors, reference has {len(want)}",
        )
    worst = 0.0
    for index, (out, ref) in enumerate(zip(got, want, strict=True)):
        if out.shape != ref.shape:
            return OutputCheck(
                matches=False,
                max_abs_error=float("inf"),
                reason=f"output {index} has shape {tuple(out.shape)}, reference {tuple(ref.shape)}",
            )
        rtol, atol = _TOLERANCE.get(ref.dtype, (0.0, 0.0))
        if tf32 and ref.dtype == torch.float32:
            rtol, atol = _TF32_TOLERANCE
        out64, ref64 = out.detach().double().cpu(), ref.detach().double().cpu()
        scale = max(1.0, float(ref64.abs().max())) if ref64.numel() else 1.0
        error = (out64 - ref64).abs()
        worst = max(worst, float(error.max()) if error.numel() else 0.0)
        if bool((error > atol * scale + rtol * ref64.abs()).any()):
            return OutputCheck(
                matches=False,
                max_abs_error=worst,
                reason=f"output {index} differs from the dense reference by up to {worst:.3g} "
                f"(tolerance rtol={rtol:g}, atol={atol * scale:.3g} for {ref.dtype})",
            )
    return OutputCheck(matches=True, max_abs_error=worst)
