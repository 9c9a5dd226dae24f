"""The precision a PERF_ONLY task records is the model's own: FP16 weights (initializers, sparse
initializers, Constant nodes), a quantized graph or FP32;
without onnx to read the graph, the conversion that registered the version says it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxconverter_common import float16
from onnxruntime.quantization import QuantType, quantize_dynamic

from mlp_server.store import Store, sqlite_url
from mlp_server.workers.precision import model_precision, recorded_precision

from . import models

ACCOUNT = 2100000050


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    fp32 = models.mlp(root / "mlp") / "model.onnx"
    fp16 = root / "fp16.onnx"
    onnx.save(float16.convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True), str(fp16))
    int8 = root / "int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"FP32": fp32, "FP16": fp16, "INT8": int8}


@pytest.mark.parametrize("precision", ["FP32", "FP16", "INT8"])
def test_the_precision_is_read_from_the_models_weights_and_operators(
    built: dict[str, Path], precision: str
) -> None:
    assert model_precision(built[precision]) == precision


def test_without_onnx_the_conversion_that_made_the_version_says_it(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(sqlite_url(tmp_path / "db.sqlite"))
    try:
        created = store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/1/"},
            },
        )
        base_id = created["VersionInfo"]["ModelVersionID"]
        job = store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": base_id,
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "CONVERT_PERF",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
            },
        )
        (task,) = store.list_perf_tasks(ACCOUNT, {"JobID": job["JobID"]})["List"]
        converted = {"SourceType": "Perf", "SourceId": task["TaskID"]}
        monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails as if not installed
        assert model_precision(built["FP16"]) is None
        assert recorded_precision(store, ACCOUNT, converted, built["FP16"]) == "FP16"
        # A version nobody converted: nothing says its precision, and none is made up.
        assert recorded_precision(store, ACCOUNT, {"SourceType": "TOS"}, built["FP16"]) == "unknown"
    finally:
        store.close()


def _matmul_of(weights: onnx.NodeProto | None, sparse: onnx.SparseTensorProto | None, path: Path) -> Path:
    """y = x @ W (FLOAT16 [N, 16] x [16, 4]), W held by a Constant node or a sparse initializer."""
    graph = helper.make_graph(
        ([weights] if weights is not None else []) + [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "w",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 4])],
        sparse_initializer=[sparse] if sparse is not None else None,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_weights_in_constant_nodes_and_sparse_initializers_count(tmp_path: Path) -> None:
    values = np.ones((16, 4), np.float16)
    constant = helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(values, "Wv"))
    assert model_precision(_matmul_of(constant, None, tmp_path / "constant.onnx")) == "FP16"
    dense = np.zeros((16, 4), np.float16)
    dense[::2, 1] = 1
    nonzero = np.argwhere(dense)
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(dense[dense != 0], "W"),
        numpy_helper.from_array(nonzero.astype(np.int64), "W_indices"),
        [16, 4],
    )
    assert model_precision(_matmul_of(None, sparse, tmp_path / "sparse.onnx")) == "FP16"
    # Constant's FLOAT shorthand is counted as FP32 weights (64 of them outweigh 8 FLOAT16 ones).
    floats = helper.make_node("Constant", [], ["F"], value_floats=[0.5] * 64)
    with_floats = onnx.load(str(tmp_path / "sparse.onnx"))
    with_floats.graph.node.insert(0, floats)
    onnx.save(with_floats, str(tmp_path / "floats.onnx"))
    assert model_precision(tmp_path / "floats.onnx") == "FP32"
