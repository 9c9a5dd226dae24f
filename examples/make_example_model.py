"""Build the example model shipped in ``examples/iris-onnx/``: a tiny ONNX classifier and its tensor config.

    pip install -e ".[examples]" && python examples/make_example_model.py

A linear layer and a softmax over the four iris features (weights fixed, so the output is byte for byte
the same on every run). The files are committed; the quickstart needs no ONNX installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent / "iris-onnx"

WEIGHTS = [
    [0.42, 0.88, -1.31],
    [1.07, -0.32, -0.45],
    [-2.21, 0.21, 1.73],
    [-0.96, -0.85, 2.18],
]
BIAS = [0.26, 1.04, -1.30]

TENSOR_CONFIG = {
    "Inputs": [{"TensorName": "features", "Shape": [-1, 4], "DType": "FLOAT"}],
    "Outputs": [{"TensorName": "probabilities", "Shape": [-1, 3], "DType": "FLOAT"}],
}


def build() -> onnx.ModelProto:
    weights = helper.make_tensor("W", TensorProto.FLOAT, [4, 3], [w for row in WEIGHTS for w in row])
    bias = helper.make_tensor("B", TensorProto.FLOAT, [3], BIAS)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "iris-classifier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        initializer=[weights, bias],
    )
    model = helper.make_model(
        graph, producer_name="volcengine-ml-platform-models", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write(folder: Path = HERE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.onnx"
    model_path.write_bytes(build().SerializeToString())
    config_path = folder / "tensor_config.json"
    config_path.write_text(json.dumps(TENSOR_CONFIG, indent=2) + "\n", encoding="utf-8")
    return [model_path, config_path]


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
