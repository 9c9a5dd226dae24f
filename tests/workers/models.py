"""Small ONNX models built in the tests (onnx.helper), each in a folder ready to register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def _save(graph: onnx.GraphProto, folder: Path) -> Path:
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="mlp-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    return folder


def _weights(name: str, shape: tuple[int, ...], seed: int) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)


def mlp(folder: Path) -> Path:
    """x FLOAT [batch, 16] -> MatMul/Relu/MatMul -> y FLOAT [batch, 4] (dynamic batch dimension)."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "W2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[_weights("W1", (16, 64), 1), _weights("W2", (64, 4), 2)],
    )
    return _save(graph, folder)


MLP_CONFIG: dict[str, Any] = {
    "Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1, 16], "MaxShape": [8, 16]}}]
}


def two_inputs(folder: Path) -> Path:
    """features FLOAT [batch, 8] and mask INT32 [batch, 8] -> (features * mask) @ W -> out [batch, 2]."""
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["features", "maskf"], ["masked"]),
            helper.make_node("MatMul", ["masked", "W"], ["out"]),
        ],
        "two-inputs",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 8]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", 8]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 2])],
        initializer=[_weights("W", (8, 2), 3)],
    )
    return _save(graph, folder)


TWO_INPUTS_CONFIG: dict[str, Any] = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [2, 8], "MaxShape": [4, 8]}},
        {"TensorName": "mask", "DType": "INT32", "Shape": {"MinShape": [2, 8], "MaxShape": [4, 8]}},
    ]
}


def int64_ids(folder: Path) -> Path:
    """ids INT64 [batch, 6] -> Gather from a [10, 8] table -> ReduceMean -> emb FLOAT [batch, 8]."""
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "ids"], ["looked_up"], axis=0),
            helper.make_node("ReduceMean", ["looked_up"], ["emb"], axes=[1], keepdims=0),
        ],
        "int64-ids",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 6])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["batch", 8])],
        initializer=[_weights("table", (10, 8), 4)],
    )
    return _save(graph, folder)


INT64_CONFIG: dict[str, Any] = {
    "Inputs": [{"TensorName": "ids", "DType": "INT64", "Shape": {"MinShape": [1, 6], "MaxShape": [3, 6]}}]
}


def fails_at_run_time(folder: Path) -> Path:
    """Loads fine, but its Reshape to [3, 5] cannot hold a [batch, 4] input: onnxruntime fails in run()."""
    shape = numpy_helper.from_array(np.array([3, 5], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        "bad-reshape",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
        initializer=[shape],
    )
    return _save(graph, folder)


def not_onnx(folder: Path) -> Path:
    """A file named model.onnx that is not an ONNX model."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(b"\x08\x07this is not a protobuf of an ONNX model\xff\xfe")
    return folder


def config(name: str, dtype: str, lo: list[int], hi: list[int]) -> dict[str, Any]:
    return {"Inputs": [{"TensorName": name, "DType": dtype, "Shape": {"MinShape": lo, "MaxShape": hi}}]}


def add_bias(folder: Path) -> Path:
    """x FLOAT [batch, 64] -> x + B: no operator dynamic quantization quantizes (MatMul, Conv, Gather...)."""
    bias = numpy_helper.from_array(np.random.default_rng(0).standard_normal(64).astype(np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "B"], ["y"])],
        "add-bias",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])],
        initializer=[bias],
    )
    return _save(graph, folder)


def scores_to_int(folder: Path) -> Path:
    """label INT64 [batch, 8] = Cast(x @ W * 1000): an integer output computed in floating point, so an
    FP16 conversion changes most of its values."""
    rng = np.random.default_rng(3)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["s"]),
            helper.make_node("Mul", ["s", "K"], ["t"]),
            helper.make_node("Cast", ["t"], ["label"], to=TensorProto.INT64),
        ],
        "scores-to-int",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch", 8])],
        initializer=[
            numpy_helper.from_array(rng.standard_normal((64, 8)).astype(np.float32), "W"),
            numpy_helper.from_array(np.array(1000.0, np.float32), "K"),
        ],
    )
    return _save(graph, folder)


def sqrt_scaled(folder: Path) -> Path:
    """y = Sqrt(x) * W: NaN wherever x < 0 (the perf inputs are standard normal), in any precision."""
    graph = helper.make_graph(
        [helper.make_node("Sqrt", ["x"], ["r"]), helper.make_node("Mul", ["r", "W"], ["y"])],
        "sqrt-scaled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])],
        initializer=[numpy_helper.from_array(np.full(64, 0.5, np.float32), "W")],
    )
    return _save(graph, folder)


WIDE_CONFIG: dict[str, Any] = {
    "Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1, 64], "MaxShape": [8, 64]}}]
}


def scaled(folder: Path) -> Path:
    """scale FLOAT [1] (fixed) and x FLOAT [batch, 16] -> (x @ W) * scale: the batch is x's dim 0."""
    weights = numpy_helper.from_array(np.random.default_rng(5).standard_normal((16, 4), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Mul", ["m", "scale"], ["y"])],
        "scaled",
        [
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[weights],
    )
    return _save(graph, folder)


def big_matmul(folder: Path, size: int = 4096) -> Path:
    """x FLOAT [batch, size] @ W FLOAT [size, size] (64 MiB at 4096): big enough that memory shows."""
    weights = np.random.default_rng(7).standard_normal((size, size)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "big-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", size])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    return _save(graph, folder)
