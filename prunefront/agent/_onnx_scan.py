"""A first look at an uploaded model, before ONNX Runtime sees it: is it a self-contained ONNX?

The agent accepts an ONNX model and nothing else. A ``ModelProto`` is walked at the protobuf
wire level (no ``onnx`` package on the device) to check that it parses, has a graph, and keeps
every tensor inside the file: a tensor with ``data_location = EXTERNAL`` would make ONNX Runtime
open a path named by the client on the device (recent ONNX Runtime versions refuse such paths;
older ones on a Jetson or a phone might not). The walk also collects the opsets and node count
for the result's provenance. Only the fields that can hold tensors are descended into, so large
weights are skipped by length, not parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prunefront.agent._protocol import ProtocolError

__all__ = ["OnnxSummary", "scan_onnx"]

# Field numbers from onnx.proto (stable since IR version 3).
_MODEL_IR_VERSION, _MODEL_OPSET, _MODEL_GRAPH, _MODEL_FUNCTIONS = 1, 8, 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_ATTR_SPARSE_TENSOR, _ATTR_SPARSE_TENSORS = 22, 23
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_FUNCTION_NODE = 7
_OPSET_DOMAIN, _OPSET_VERSION = 1, 2
_EXTERNAL = 1
_MAX_DEPTH = 64  # subgraphs (If/Loop bodies) nest; a hostile file could nest without end


class _Malformed(Exception):
    pass


@dataclass
class OnnxSummary:
    """What the scan found.

    Attributes:
        ir_version: The model's IR version.
        opsets: Domain (``""`` is the default ONNX domain) -> opset version.
        nodes: Nodes in the main graph and every subgraph and function.
        initializers: Weight tensors.
    """

    ir_version: int = 0
    opsets: dict[str, int] = field(default_factory=dict)
    nodes: int = 0
    initializers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ir_version": self.ir_version,
            "opsets": dict(self.opsets),
            "nodes": self.nodes,
            "initializers": self.initializers,
        }


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field, wire_type, value_start, value_end_or_varint)`` of a message."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value, value
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise _Malformed("truncated fixed-width field")
            yield number, wire, pos, pos + size
            pos += size
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise _Malformed("length-delimited field runs past the end")
            yield number, wire, pos, pos + length
            pos += length
        else:
            raise _Malformed(f"wire type {wire} is not used by ONNX")


class _Scanner:
    def __init__(self, blob: bytes) -> None:
        self.buf = memoryview(blob)
        self.summary = OnnxSummary()

    def tensor(self, start: int, end: int) -> None:
        name = "?"
        for number, wire, a, b in _fields(self.buf, start, end):
            if number == _TENSOR_NAME and wire == 2:
                name = bytes(self.buf[a:b]).decode("utf-8", "replace")
            external = (number == _TENSOR_DATA_LOCATION and wire == 0 and a == _EXTERNAL) or (
                number == _TENSOR_EXTERNAL_DATA
            )
            if external:
                raise ProtocolError(
                    f"tensor {name!r} keeps its data in an external file: send a self-contained "
                    "model (export with the weights embedded)"
                )

    def sparse(self, start: int, end: int) -> None:
        for number, wire, a, b in _fields(self.buf, start, end):
            if number in (_SPARSE_VALUES, _SPARSE_INDICES) and wire == 2:
                self.tensor(a, b)

    def attribute(self, start: int, end: int, depth: int) -> None:
        for number, wire, a, b in _fields(self.buf, start, end):
            if wire != 2:
                continue
            if number in (_ATTR_T, _ATTR_TENSORS):
                self.tensor(a, b)
            elif number in (_ATTR_G, _ATTR_GRAPHS):
                self.graph(a, b, depth + 1)
            elif number in (_ATTR_SPARSE_TENSOR, _ATTR_SPARSE_TENSORS):
                self.sparse(a, b)

    def node(self, start: int, end: int, depth: int) -> None:
        self.summary.nodes += 1
        for number, wire, a, b in _fields(self.buf, start, end):
            if number == _NODE_ATTRIBUTE and wire == 2:
                self.attribute(a, b, depth)

    def graph(self, start: int, end: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _Malformed(f"subgraphs nested deeper than {_MAX_DEPTH}")
        for number, wire, a, b in _fields(self.buf, start, end):
            if wire != 2:
                continue
            if number == _GRAPH_NODE:
                self.node(a, b, depth)
            elif number == _GRAPH_INITIALIZER:
                self.summary.initializers += 1
                self.tensor(a, b)
            elif number == _GRAPH_SPARSE_INITIALIZER:
                self.summary.initializers += 1
                self.sparse(a, b)

    def opset(self, start: int, end: int) -> None:
        domain, version = "", 0
        for number, wire, a, b in _fields(self.buf, start, end):
            if number == _OPSET_DOMAIN and wire == 2:
                domain = bytes(self.buf[a:b]).decode("utf-8", "replace")
            elif number == _OPSET_VERSION and wire == 0:
                version = a
        self.summary.opsets[domain] = version

    def model(self) -> OnnxSummary:
        graphs = 0
        for number, wire, a, b in _fields(self.buf, 0, len(self.buf)):
            if number == _MODEL_IR_VERSION and wire == 0:
                self.summary.ir_version = a
            elif number == _MODEL_OPSET and wire == 2:
                self.opset(a, b)
            elif number == _MODEL_GRAPH and wire == 2:
                graphs += 1
                self.graph(a, b, 0)
            elif number == _MODEL_FUNCTIONS and wire == 2:
                for sub, sub_wire, c, d in _fields(self.buf, a, b):
                    if sub == _FUNCTION_NODE and sub_wire == 2:
                        self.node(c, d, 1)
        if graphs != 1 or self.summary.ir_version < 1 or not self.summary.opsets:
            raise _Malformed("no ONNX graph, IR version or opset import")
        return self.summary


def scan_onnx(blob: bytes) -> OnnxSummary:
    """Check that ``blob`` is a self-contained ONNX ``ModelProto`` and summarise it.

    Raises:
        ProtocolError: (status 400) it is not an ONNX model, or it references external data.
    """
    if not blob:
        raise ProtocolError("the request body is empty: send an ONNX model")
    try:
        return _Scanner(blob).model()
    except _Malformed as error:
        raise ProtocolError(f"the request body is not an ONNX model ({error})") from None
