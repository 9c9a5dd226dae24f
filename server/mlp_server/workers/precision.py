"""The precision a PERF_ONLY task records: read from the model's own weights and operators, so that a
model converted elsewhere (or by an earlier CONVERT_PERF) is not reported as FP32."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import Store

FP32, FP16, INT8 = "FP32", "FP16", "INT8"

# Operators that only a quantized graph holds (onnxruntime's static and dynamic quantization).
QUANTIZED_OPS = frozenset(
    {
        "QuantizeLinear",
        "DequantizeLinear",
        "DynamicQuantizeLinear",
        "QLinearConv",
        "QLinearMatMul",
        "MatMulInteger",
        "ConvInteger",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
        "QAttention",
    }
)


@dataclass(frozen=True)
class GraphContents:
    """A graph's operator types (subgraphs included) and its weights' element counts by data type."""

    ops: frozenset[str]
    elements: Counter[int]

    @property
    def precision(self) -> str:
        from onnx import TensorProto

        if self.ops & QUANTIZED_OPS or self.elements[TensorProto.INT8]:
            return INT8
        return FP16 if self.elements[TensorProto.FLOAT16] > self.wide_elements else FP32

    @property
    def wide_elements(self) -> int:
        from onnx import TensorProto

        return self.elements[TensorProto.FLOAT] + self.elements[TensorProto.DOUBLE]


def model_precision(path: Path) -> str | None:
    """INT8 when the graph quantizes (a quantization operator, or INT8 weights), else FP16 when most
    of its floating-point weights (by element) are FLOAT16, else FP32; None without the onnx package
    (the perf extra) to read the graph."""
    contents = read_graph(path)
    return None if contents is None else contents.precision


def read_graph(path: Path) -> GraphContents | None:
    """What model_precision judges by; None without onnx. Weights are initializers, sparse
    initializers and the tensors held in node attributes (Constant nodes' values, ConstantOfShape's).
    External weight files are not read: the tensors' element types and shapes are in the graph itself."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    graphs = [model.graph]
    ops: set[str] = set()
    elements: Counter[int] = Counter()
    while graphs:  # subgraphs too (If/Loop bodies)
        graph = graphs.pop()
        for tensor in graph.initializer:
            elements[tensor.data_type] += math.prod(tensor.dims)
        for sparse in graph.sparse_initializer:
            _count_sparse(elements, sparse)
        for node in graph.node:
            ops.add(node.op_type)
            for attribute in node.attribute:
                _count_attribute(elements, attribute)
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs.extend(attribute.graphs)
    return GraphContents(frozenset(ops), elements)


def _count_sparse(elements: Counter[int], sparse: Any) -> None:
    """A sparse tensor's stored values (its non-zeros) are its weights."""
    elements[sparse.values.data_type] += math.prod(sparse.values.dims)


def _count_attribute(elements: Counter[int], attribute: Any) -> None:
    """Tensors held in an attribute (a Constant node's value, sparse_value, value_float(s))."""
    from onnx import TensorProto

    if attribute.HasField("t"):
        elements[attribute.t.data_type] += math.prod(attribute.t.dims)
    for tensor in attribute.tensors:
        elements[tensor.data_type] += math.prod(tensor.dims)
    if attribute.HasField("sparse_tensor"):
        _count_sparse(elements, attribute.sparse_tensor)
    for sparse in attribute.sparse_tensors:
        _count_sparse(elements, sparse)
    if attribute.name == "value_float":  # Constant's FLOAT shorthands
        elements[TensorProto.FLOAT] += 1
    elif attribute.name == "value_floats":
        elements[TensorProto.FLOAT] += len(attribute.floats)


def recorded_precision(store: Store, account_id: int, version: dict[str, Any], model: Path) -> str:
    """What a PERF_ONLY task measured: the model's own precision; without onnx to read it, the
    precision of the conversion task that registered the version; else "unknown" (never a guess)."""
    found = model_precision(model)
    if found is not None:
        return found
    if version.get("SourceType") == "Perf" and version.get("SourceId"):
        tasks = store.list_perf_tasks(account_id, {"TaskID": version["SourceId"]})["List"]
        if tasks and tasks[0]["TaskArgs"]["ConvertPrecision"] in (FP16, INT8):
            return str(tasks[0]["TaskArgs"]["ConvertPrecision"])
    return "unknown"
