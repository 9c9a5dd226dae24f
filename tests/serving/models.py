"""ONNX models built by the tests: dynamic batch, two inputs, int64, and one that cannot load."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def _save(graph: onnx.GraphProto, folder: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    return folder


def two_inputs(folder: Path) -> Path:
    """y = a * b + a (FP32, dynamic batch, 3 features)."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    nodes = [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Add", ["ab", "a"], ["y"])]
    return _save(helper.make_graph(nodes, "two_inputs", [a, b], [y]), folder)


def int64_sum(folder: Path) -> Path:
    """total = sum of each row of x (INT64, dynamic batch, 4 columns), kept as [batch, 1]."""
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", 4])
    total = helper.make_tensor_value_info("total", TensorProto.INT64, ["batch", 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=1)]
    return _save(helper.make_graph(nodes, "int64_sum", [x], [total], initializer=[axes]), folder)


def broken(folder: Path) -> Path:
    """A file named model.onnx that is not a model."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(b"this is not an ONNX protobuf" * 10)
    return folder


def narrow_types(folder: Path) -> Path:
    """u8 (UINT8) and h (FLOAT16) inputs, each cast to a wide output: what a request sent is what the
    model saw."""
    u8 = helper.make_tensor_value_info("u8", TensorProto.UINT8, ["batch", 3])
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["batch", 3])
    wide = helper.make_tensor_value_info("wide", TensorProto.INT64, ["batch", 3])
    hf = helper.make_tensor_value_info("hf", TensorProto.FLOAT, ["batch", 3])
    nodes = [
        helper.make_node("Cast", ["u8"], ["wide"], to=TensorProto.INT64),
        helper.make_node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT),
    ]
    return _save(helper.make_graph(nodes, "narrow_types", [u8, h], [wide, hf]), folder)
