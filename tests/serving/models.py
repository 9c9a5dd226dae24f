"""ONNX models built by the tests: dynamic batch, two inputs, int64, BOOL and FP16 tensors, a scalar
output, non-finite outputs, and one that cannot load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


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


def many_types(folder: Path) -> Path:
    """x FP32 [N,3], ids INT64 [N,2], flag BOOL [N] -> y = x*2 + sum(ids) FP32 [N,3], count INT64 scalar
    (how many flags are set), notflag BOOL [N], h = y as FP16 [N,3]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 2])
    flag = helper.make_tensor_value_info("flag", TensorProto.BOOL, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    count = helper.make_tensor_value_info("count", TensorProto.INT64, [])
    notflag = helper.make_tensor_value_info("notflag", TensorProto.BOOL, ["N"])
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["N", 3])
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["x2"]),
        helper.make_node("ReduceSum", ["ids"], ["s"], keepdims=0),
        helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x2", "sf"], ["y"]),
        helper.make_node("Cast", ["flag"], ["fi"], to=TensorProto.INT64),
        helper.make_node("ReduceSum", ["fi"], ["count"], keepdims=0),
        helper.make_node("Not", ["flag"], ["notflag"]),
        helper.make_node("Cast", ["y"], ["h"], to=TensorProto.FLOAT16),
    ]
    graph = helper.make_graph(nodes, "many_types", [x, ids, flag], [y, count, notflag, h], initializer=[two])
    return _save(graph, folder)


def log_of(folder: Path) -> Path:
    """y = log(x) (FP32 [N]): log(0) is -inf and log(-1) NaN."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    return _save(helper.make_graph([helper.make_node("Log", ["x"], ["y"])], "log_of", [x], [y]), folder)


def int_and_half(folder: Path) -> Path:
    """ids (INT64 [N]) -> y, the same; f (FP16 [N]) -> g, cast to FP32."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"])
    f = helper.make_tensor_value_info("f", TensorProto.FLOAT16, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["N"])
    g = helper.make_tensor_value_info("g", TensorProto.FLOAT, ["N"])
    nodes = [
        helper.make_node("Identity", ["ids"], ["y"]),
        helper.make_node("Cast", ["f"], ["g"], to=TensorProto.FLOAT),
    ]
    return _save(helper.make_graph(nodes, "int_and_half", [ids, f], [y, g]), folder)
