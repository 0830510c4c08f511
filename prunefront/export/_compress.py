"""Compressed ONNX: weights stored as the footprint counts them, rebuilt when a session loads.

A dense ONNX export stores every zero of a pruned weight. ``compress_onnx`` replaces each float
initializer by its kept values plus compact position data (a bitmask, CSR column indices and
row pointers, or relative indices — the cheapest of the footprint model's formats that a few
standard ONNX operators can decode) and a small constant subgraph that rebuilds the dense
tensor under the initializer's own name. Every input of that subgraph is a constant, so ONNX
Runtime folds it once at session creation (graph optimisation level basic or higher, the
default): the optimised graph holds the same dense weights as the dense export, so inference is
as fast, and the file on disk is as small as the footprint plus the graph itself.

Values are stored in the budget's dtype: ``float32`` as they are, ``float16``/``bfloat16`` cast
back to float32 at load, ``int8`` as per-channel symmetric integers with one float32 scale per
channel, dequantised by ``DequantizeLinear`` (a weight-only QDQ model).

A tied weight (an embedding shared with the output layer) is one parameter that the footprint
counts once, but an exporter writes it twice: as the embedding and, constant-folded, as the
decoder's transposed copy. A float initializer whose values are another's (the same, reshaped,
or transposed) is stored once and rebuilt from it by a ``Reshape`` or ``Transpose`` node.

What is not a weight is kept small too: a large constant of at most two values (a causal
attention mask of 0 and -inf, 16 KiB at 64 steps) is stored as a bitmask, and intermediate
values get short names, so the graph stays within the export's allowance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from prunefront.errors import PrunefrontError
from prunefront.spaces import (
    BitmaskFormat,
    CSRFormat,
    DenseFormat,
    DType,
    RelIdxFormat,
    parse_dtype,
    tensor_bytes_from_mask,
)

__all__ = ["DECODABLE_FORMATS", "CompressedTensor", "OnnxCompression", "compress_onnx"]

# The footprint model's formats that a handful of ONNX operators decode (nm and block patterns
# are stored with these instead; bitmask costs the same as nm for 2:4).
_DECODABLE = (
    DenseFormat(),
    BitmaskFormat(),
    CSRFormat(index_bits=8),
    CSRFormat(index_bits=16),
    CSRFormat(index_bits=32),
    RelIdxFormat(index_bits=4),
    RelIdxFormat(index_bits=5),
    RelIdxFormat(index_bits=8),
)
DECODABLE_FORMATS: tuple[str, ...] = tuple(fmt.name for fmt in _DECODABLE)
_MIN_ELEMENTS = 16  # a smaller tensor costs more in decoder nodes than it could save
_INT8_MAX = 127
_SUBGRAPHS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


@dataclass(frozen=True, kw_only=True)
class CompressedTensor:
    """How one initializer was stored.

    Attributes:
        name: The initializer's name in the graph.
        shape: Its shape.
        format: The storage format (``dense`` when kept as it was).
        nonzeros: Its nonzero count.
        stored_bytes: Bytes of its stored values, positions and scales (0 when tied).
        tied_to: The initializer it is rebuilt from when its values are another's (format
            ``tied``), else None.
    """

    name: str
    shape: tuple[int, ...]
    format: str
    nonzeros: int
    stored_bytes: int
    tied_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class OnnxCompression:
    """The result of :func:`compress_onnx`.

    Attributes:
        model: The compressed model (checked with ``onnx.checker``).
        tensors: One row per float initializer.
        dtype: The value dtype the weights are stored in.
        payload_bytes: Bytes of every stored weight (values, positions, scales).
    """

    model: onnx.ModelProto
    tensors: tuple[CompressedTensor, ...]
    dtype: str
    payload_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "dtype": self.dtype,
            "payload_bytes": self.payload_bytes,
            "tensors": [
                {
                    "name": t.name,
                    "shape": list(t.shape),
                    "format": t.format,
                    "nonzeros": t.nonzeros,
                    "stored_bytes": t.stored_bytes,
                    "tied_to": t.tied_to,
                }
                for t in self.tensors
            ],
        }


class _Graph:
    """Collects decoder nodes and constants; small constants are shared, names kept short."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0
        self._shared: dict[tuple[str, tuple[int, ...], bytes], str] = {}

    def name(self, hint: str = "") -> str:
        self.count += 1
        return f"pf{self.count}"

    def const(self, array: np.ndarray, hint: str = "") -> str:
        value = np.asarray(array)
        key = (value.dtype.str, value.shape, value.tobytes())
        if value.size <= 16 and key in self._shared:
            return self._shared[key]
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(value, name))
        if value.size <= 16:
            self._shared[key] = name
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _unpack_bits(g: _Graph, packed: str, count: int) -> str:
    """int64 [count] of 0/1 from little-endian packed bytes (uint8 initializer ``packed``)."""
    column = g.op("Unsqueeze", [packed, g.const(np.array([1], np.int64), "axis")], "col")
    shifts = g.const(np.arange(8, dtype=np.uint8)[None, :], "shifts")
    moved = g.op("BitShift", [column, shifts], "moved", direction="RIGHT")
    seven = g.const(np.array([7], np.uint8), "seven")
    low = g.op("BitShift", [moved, seven], "low", direction="LEFT")
    bits = g.op("BitShift", [low, seven], "bit", direction="RIGHT")
    flat = g.op("Reshape", [bits, g.const(np.array([-1], np.int64), "flat")], "flat")
    start, end = g.const(np.array([0], np.int64), "start"), g.const(np.array([count]), "end")
    sliced = g.op("Slice", [flat, start, end], "bits")
    return g.op("Cast", [sliced], "bits64", to=TensorProto.INT64)


def _unpack_uint(g: _Graph, fields: np.ndarray, bits: int, hint: str) -> tuple[str, int]:
    """int64 [n] decoded from ``bits``-bit fields; returns (output, stored bytes)."""
    if bits in (8, 16, 32):
        stored = fields.astype(f"<u{bits // 8}")
        return g.op("Cast", [g.const(stored, hint)], f"{hint}64", to=TensorProto.INT64), int(
            stored.nbytes
        )
    planes = ((fields[:, None].astype(np.int64) >> np.arange(bits)) & 1).astype(np.uint8)
    packed = np.packbits(planes.ravel(), bitorder="little")
    flat = _unpack_bits(g, g.const(packed, hint), fields.size * bits)
    grid = g.op("Reshape", [flat, g.const(np.array([fields.size, bits], np.int64), "grid")], "grid")
    weights = g.const((1 << np.arange(bits, dtype=np.int64))[None, :], "powers")
    scaled = g.op("Mul", [grid, weights], "scaled")
    axes = g.const(np.array([1], np.int64), "axes")
    return g.op("ReduceSum", [scaled, axes], hint, keepdims=0), int(packed.nbytes)


def _values(g: _Graph, values: np.ndarray, dtype: DType) -> tuple[str, int]:
    """The stored values as a constant in ``dtype``, cast to float32 unless int8; (name, bytes)."""
    if dtype.name == "int8":
        return g.const(values.astype(np.int8), "values"), int(values.size)
    if dtype.name == "float32":
        return g.const(values.astype(np.float32), "values"), int(values.size) * 4
    if dtype.name == "float16":
        stored = g.const(values.astype(np.float16), "values")
    else:
        rounded = _bfloat16_bits(values.astype(np.float32))
        name = g.name("values")
        tensor = helper.make_tensor(
            name, TensorProto.BFLOAT16, [values.size], rounded.tobytes(), raw=True
        )
        g.initializers.append(tensor)
        stored = name
    return g.op("Cast", [stored], "values32", to=TensorProto.FLOAT), int(values.size) * 2


def _bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even bfloat16 bit patterns of float32 values (as torch rounds them)."""
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def _zero(dtype: DType) -> np.ndarray:
    return np.zeros(1, np.int8 if dtype.name == "int8" else np.float32)


def _scatter(g: _Graph, numel: int, positions: str, values: str, dtype: DType) -> str:
    size = g.const(np.array([numel], np.int64), "numel")
    value = numpy_helper.from_array(_zero(dtype), "value")
    zeros = g.op("ConstantOfShape", [size], "zeros", value=value)
    return g.op("ScatterElements", [zeros, positions, values], "scattered", axis=0)


def _decode(
    g: _Graph, flat: np.ndarray, rows: int, fmt: Any, stored: np.ndarray, dtype: DType
) -> tuple[str, int]:
    """Nodes rebuilding the flat tensor (values ``stored``) in ``fmt``; (output, bytes)."""
    mask = flat != 0
    if isinstance(fmt, BitmaskFormat):
        packed = np.packbits(mask, bitorder="little")
        bits = _unpack_bits(g, g.const(packed, "mask"), flat.size)
        index = g.op("CumSum", [bits, g.const(np.array(0, np.int64), "ax")], "rank")
        index = g.op("Mul", [index, bits], "index")
        values, value_bytes = _values(g, stored[mask], dtype)
        padded = g.op("Concat", [g.const(_zero(dtype), "zero"), values], "padded", axis=0)
        return g.op("Gather", [padded, index], "dense", axis=0), int(packed.nbytes) + value_bytes
    if isinstance(fmt, CSRFormat):
        cols = flat.size // rows
        r, c = np.nonzero(flat.reshape(rows, cols))
        pointers = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=rows))])
        column, column_bytes = _unpack_uint(g, c, fmt.index_bits, "columns")
        starts = g.const(pointers[1:rows].astype(np.int32), "row_pointers")
        starts64 = g.op("Cast", [starts], "starts", to=TensorProto.INT64)
        ones = g.const(np.ones(max(rows - 1, 0), np.int64), "ones")
        marks = g.op(
            "ScatterElements",
            [g.const(np.zeros(r.size + 1, np.int64), "marks"), starts64, ones],
            "marks",
            axis=0,
            reduction="add",
        )
        row_of = g.op("CumSum", [marks, g.const(np.array(0, np.int64), "ax")], "rows")
        first = g.const(np.array([0], np.int64), "s")
        row_of = g.op("Slice", [row_of, first, g.const(np.array([r.size]), "e")], "row_of")
        base = g.op("Mul", [row_of, g.const(np.array(cols, np.int64), "cols")], "base")
        positions = g.op("Add", [base, column], "positions")
        values, value_bytes = _values(g, stored[mask], dtype)
        # The footprint counts rows + 1 int32 pointers; the first and last are implied here.
        pointer_bytes = (rows + 1) * 4
        dense = _scatter(g, flat.size, positions, values, dtype)
        return dense, value_bytes + column_bytes + pointer_bytes
    if isinstance(fmt, RelIdxFormat):
        where = np.flatnonzero(mask)
        runs = np.diff(where, prepend=-1) - 1
        fillers = runs >> fmt.index_bits
        entries = where.size + int(fillers.sum())
        real = np.arange(where.size) + np.cumsum(fillers)
        skips = np.full(entries, (1 << fmt.index_bits) - 1, dtype=np.int64)
        skips[real] = runs & ((1 << fmt.index_bits) - 1)
        entry_values = np.zeros(entries, dtype=stored.dtype)
        entry_values[real] = stored[mask]
        decoded, skip_bytes = _unpack_uint(g, skips, fmt.index_bits, "skips")
        one = g.const(np.array(1, np.int64), "one")
        steps = g.op("Add", [decoded, one], "steps")
        ends = g.op("CumSum", [steps, g.const(np.array(0, np.int64), "ax")], "ends")
        positions = g.op("Sub", [ends, one], "positions")
        values, value_bytes = _values(g, entry_values, dtype)
        dense = _scatter(g, flat.size, positions, values, dtype)
        return dense, value_bytes + skip_bytes
    raise PrunefrontError(f"no ONNX decoder for storage format {fmt.name}")


def _matrix_rows(shape: tuple[int, ...]) -> int:
    return int(shape[0]) if len(shape) >= 2 else 1


def _quantise(array: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """(int8 levels, scales, exact): one scale per index of ``axis`` (one for None); exact
    when the levels times the scales give ``array`` back (it was rounded so already)."""
    moved = array[None] if axis is None else np.moveaxis(array, axis, 0)
    peak = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scales = np.where(peak > 0, peak / np.float32(_INT8_MAX), np.float32(1.0)).astype(np.float32)
    shape = [1] * array.ndim
    if axis is not None:
        shape[axis] = -1
    broadcast = scales.reshape(shape) if axis is not None else scales.reshape(())
    levels = np.clip(np.rint(array / broadcast), -_INT8_MAX, _INT8_MAX).astype(np.int8)
    back = levels.astype(np.float32) * broadcast
    close = np.abs(back - array) <= 1e-6 * np.maximum(np.abs(array), broadcast)
    return (
        levels,
        scales.reshape(-1) if axis is not None else scales.reshape(()),
        bool(np.all(close)),
    )


def _int8_levels(array: np.ndarray) -> tuple[np.ndarray, np.ndarray, int | None] | None:
    """The levels and scales of an int8-rounded tensor, on the channel axis that reproduces it
    (torch's rows may be an ONNX tensor's columns, or its second axis), or None."""
    axes: list[int | None] = [None] if array.ndim < 2 else []
    axes += [axis for axis in range(array.ndim) if array.shape[axis] > 1]
    for axis in axes:
        levels, scales, exact = _quantise(array, axis)
        if exact:
            return levels, scales, axis
    return None


def _compress_one(
    g: _Graph, init: onnx.TensorProto, dtype: DType, formats: Sequence[Any]
) -> CompressedTensor | None:
    array = numpy_helper.to_array(init).astype(np.float32)
    if array.size < _MIN_ELEMENTS or array.ndim == 0:
        return None
    shape = tuple(int(d) for d in array.shape)
    quant = _int8_levels(array) if dtype.name == "int8" else None
    if dtype.name == "int8" and quant is None:
        return None  # not a weight the budget quantised (nothing to gain exactly)
    flat = array.reshape(-1)
    candidates: list[tuple[int, Any]] = []
    cols = array.size // _matrix_rows(shape)
    for fmt in formats:
        if isinstance(fmt, CSRFormat) and cols > 2**fmt.index_bits:
            continue  # the footprint would fall back to csr32, which is a candidate of its own
        try:
            size = tensor_bytes_from_mask(array, fmt=fmt, dtype=dtype, pattern="unstructured")
        except PrunefrontError:
            continue
        candidates.append((size, fmt))
    _, fmt = min(candidates, key=lambda item: item[0])
    if isinstance(fmt, DenseFormat) and dtype.name == "float32":
        return None
    rows = _matrix_rows(shape)
    stored = quant[0].reshape(-1) if quant is not None else flat
    if isinstance(fmt, DenseFormat):
        decoded, size = _values(g, stored, dtype)
    else:
        decoded, size = _decode(g, flat, rows, fmt, stored, dtype)
    shape_const = g.const(np.array(shape, np.int64), "shape")
    if quant is None:
        g.nodes.append(helper.make_node("Reshape", [decoded, shape_const], [init.name]))
    else:
        shaped = g.op("Reshape", [decoded, shape_const], "shaped")
        _, scales, axis = quant
        zero_points = g.const(np.zeros(scales.shape, np.int8), "zero_points")
        final = [shaped, g.const(scales, "scales"), zero_points]
        node = helper.make_node("DequantizeLinear", final, [init.name])
        if axis is not None:
            node.attribute.append(helper.make_attribute("axis", axis))
        g.nodes.append(node)
        size += int(scales.nbytes)
    row = CompressedTensor(
        name=init.name,
        shape=shape,
        format=fmt.name,
        nonzeros=int(np.count_nonzero(flat)),
        stored_bytes=size,
    )
    return row


def _allowed(names: Sequence[str] | None) -> tuple[Any, ...]:
    if names is None:
        return _DECODABLE
    by_name = {fmt.name: fmt for fmt in _DECODABLE}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise PrunefrontError(
            f"formats {unknown}: compressed ONNX decodes {', '.join(DECODABLE_FORMATS)}"
        )
    return (DenseFormat(), *(by_name[name] for name in names))


def _constant_tensor(node: onnx.NodeProto) -> np.ndarray | None:
    """The float tensor of a ``Constant`` node with a tensor ``value`` of 16+ elements, or None."""
    if node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
        return None
    tensor = node.attribute[0].t
    if tensor.data_type != TensorProto.FLOAT or np.prod(tensor.dims, dtype=np.int64) < 16:
        return None
    return numpy_helper.to_array(tensor)


def _compact_constant(g: _Graph, node: onnx.NodeProto) -> list[onnx.NodeProto]:
    """A large float ``Constant`` of at most two distinct values (an exporter's initial LSTM
    state, a causal attention mask of 0 and -inf) rebuilt from a bitmask, as the weights are.

    All-zero constants become ``ConstantOfShape``; two-valued ones a packed bitmask selecting
    between the two values with ``Where`` (its nodes go to ``g``, before every other node).
    """
    array = _constant_tensor(node)
    if array is None:
        return [node]
    values = np.unique(array)  # -inf and inf are values; a NaN makes every NaN distinct
    if values.size > 2 or np.isnan(values).any():
        return [node]
    output = node.output[0]
    if values.size == 1 and values[0] == 0:
        value = numpy_helper.from_array(np.zeros(1, np.float32), "value")
        shape = numpy_helper.from_array(np.array(array.shape, np.int64), "shape")
        # ConstantOfShape takes its shape as an input; a Constant node supplies it inline.
        replaced = helper.make_node("ConstantOfShape", [f"{output}/shape"], [output])
        replaced.attribute.append(helper.make_attribute("value", value))
        return [helper.make_node("Constant", [], [f"{output}/shape"], value=shape), replaced]
    low, high = values[0], values[-1]
    packed = np.packbits(array.reshape(-1) == high, bitorder="little")
    bits = _unpack_bits(g, g.const(packed, "mask"), array.size)
    chosen = g.op("Cast", [bits], "chosen", to=TensorProto.BOOL)
    picked = g.op(
        "Where",
        [chosen, g.const(np.array([high], np.float32)), g.const(np.array([low], np.float32))],
        "picked",
    )
    shape_const = g.const(np.array(array.shape, np.int64), "shape")
    g.nodes.append(helper.make_node("Reshape", [picked, shape_const], [output]))
    return []


def _short_names(graph: onnx.GraphProto, weights: set[str]) -> None:
    """Name every intermediate value ``v<n>`` and drop node names: an exporter's names
    (``/blocks.0/attn/Constant_20_output_0``) cost kilobytes that no session reads. The graph's
    inputs, outputs, initializers and the rebuilt ``weights`` keep their names."""
    if any(a.type in _SUBGRAPHS for node in graph.node for a in node.attribute):
        return  # a subgraph (If, Loop, Scan) reads outer names by name: leave them all
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    keep |= {i.name for i in graph.initializer} | weights
    renamed: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return renamed.setdefault(name, f"v{len(renamed)}")

    for node in graph.node:
        node.name = ""
        node.input[:] = [short(name) for name in node.input]
        node.output[:] = [short(name) for name in node.output]
    del graph.value_info[:]


def _tied_form(source: np.ndarray, array: np.ndarray) -> str | None:
    """``reshape`` or ``transpose`` when ``array`` holds ``source``'s values so, else None."""
    if np.array_equal(source.reshape(-1), array.reshape(-1)):
        return "reshape"
    if source.ndim == 2 and array.shape == source.shape[::-1] and np.array_equal(source.T, array):
        return "transpose"
    return None


def _ties(graph: onnx.GraphProto, inputs: set[str]) -> dict[str, tuple[str, str]]:
    """``{name: (source, "reshape" | "transpose")}`` for float initializers that repeat another's
    values; the first initializer holding the values is the source and is stored."""
    seen: dict[tuple[int, bytes], list[tuple[str, np.ndarray]]] = {}
    ties: dict[str, tuple[str, str]] = {}
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name in inputs:
            continue
        array = numpy_helper.to_array(init)
        if array.size < _MIN_ELEMENTS:
            continue
        # Equal values have equal sorted values: compare only tensors whose digests match
        # (adding 0 makes every -0.0, which sorts anywhere among the zeros, a +0.0).
        ordered = np.sort(array, axis=None) + np.float32(0.0)
        key = (array.size, hashlib.sha1(ordered.tobytes()).digest())
        group = seen.setdefault(key, [])
        for source_name, source in group:
            form = _tied_form(source, array)
            if form is not None:
                ties[init.name] = (source_name, form)
                break
        else:
            group.append((init.name, array))
    return ties


def _rebuild_tied(g: _Graph, init: onnx.TensorProto, source: str, form: str) -> CompressedTensor:
    shape = tuple(int(d) for d in init.dims)
    if form == "transpose":
        g.nodes.append(helper.make_node("Transpose", [source], [init.name], perm=[1, 0]))
    else:
        shape_const = g.const(np.array(shape, np.int64), "shape")
        g.nodes.append(helper.make_node("Reshape", [source, shape_const], [init.name]))
    return CompressedTensor(
        name=init.name,
        shape=shape,
        format="tied",
        nonzeros=int(np.count_nonzero(numpy_helper.to_array(init))),
        stored_bytes=0,
        tied_to=source,
    )


def compress_onnx(
    model: onnx.ModelProto,
    *,
    dtype: str | DType = "float32",
    formats: Sequence[str] | None = None,
) -> OnnxCompression:
    """Store every float initializer of ``model`` compressed (see the module docstring).

    Args:
        model: A self-contained ONNX model (weights embedded); it is not changed.
        dtype: The budget's value dtype. With ``int8`` the weights must already be
            int8-rounded per channel (as ``round_to_dtype`` rounds them); a tensor that is
            not stays float32.
        formats: Restrict the storage formats to these names (of ``DECODABLE_FORMATS``);
            the cheapest per tensor is used. Default: all of them.

    Raises:
        PrunefrontError: Unknown dtype, or the result is not a valid ONNX model.
    """
    parsed = parse_dtype(dtype)
    allowed = _allowed(formats)
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    inputs = {i.name for i in graph.input}
    g = _Graph()
    kept: list[onnx.TensorProto] = []
    rows: list[CompressedTensor] = []
    ties = _ties(graph, inputs)
    tied: list[onnx.TensorProto] = []
    for init in graph.initializer:
        if init.name in ties:
            tied.append(init)
            continue
        row = None
        if init.data_type == TensorProto.FLOAT and init.name not in inputs:
            row = _compress_one(g, init, parsed, allowed)
        if row is not None:
            rows.append(row)
            continue
        kept.append(init)
        if init.data_type == TensorProto.FLOAT:
            rows.append(
                CompressedTensor(
                    name=init.name,
                    shape=tuple(int(d) for d in init.dims),
                    format="dense",
                    nonzeros=int(np.count_nonzero(numpy_helper.to_array(init))),
                    stored_bytes=int(np.prod(init.dims, dtype=np.int64)) * 4,
                )
            )
    # After every source's decoder, so that the graph stays topologically sorted.
    rows += [_rebuild_tied(g, init, *ties[init.name]) for init in tied]
    others = [new for node in graph.node for new in _compact_constant(g, node)]
    del graph.node[:]
    graph.node.extend([*g.nodes, *others])
    del graph.initializer[:]
    graph.initializer.extend([*kept, *g.initializers])
    _short_names(graph, {i.name for i in model.graph.initializer})
    try:
        onnx.checker.check_model(result)
    except onnx.checker.ValidationError as error:
        first = (str(error).strip().splitlines() or ["invalid"])[0][:200]
        raise PrunefrontError(f"compressed ONNX is not valid: {first}") from error
    return OnnxCompression(
        model=result,
        tensors=tuple(rows),
        dtype=parsed.name,
        payload_bytes=sum(r.stored_bytes for r in rows),
    )
