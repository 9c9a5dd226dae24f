"""The one dtype table (``volcengine_ml_platform.dtypes``): the document's DTypes, KServe v2 datatypes,
onnxruntime's element types and numpy, checked against the document and a real onnxruntime."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from volcengine_ml_platform import dtypes, schema

# The ONNX element type of each TensorConfig DType (the ONNX spec's names, written independently).
ONNX_ELEMENT = {
    "FLOAT16": TensorProto.FLOAT16,
    "FLOAT": TensorProto.FLOAT,
    "DOUBLE": TensorProto.DOUBLE,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "BOOL": TensorProto.BOOL,
    "STRING": TensorProto.STRING,
}


def test_every_document_dtype_maps_to_a_v2_datatype_and_back() -> None:
    assert set(dtypes.TENSOR_TO_V2) == set(schema.enum_values("TensorDType"))
    assert set(schema.enum_values("PerfTensorDType")) == dtypes.PERF_TENSOR_DTYPES
    for dtype in schema.enum_values("TensorDType"):
        datatype = dtypes.TENSOR_TO_V2[dtype]
        assert datatype in dtypes.V2_DATATYPES
        assert dtypes.V2_TO_TENSOR[datatype] == dtype
    assert set(dtypes.V2_TO_TENSOR) == set(dtypes.V2_DATATYPES)  # one to one, nothing left over


def test_aliases_and_unknown_names() -> None:
    assert dtypes.tensor_dtype("FP32") == "FLOAT"
    assert dtypes.tensor_dtype("FP16") == "FLOAT16"
    assert dtypes.tensor_dtype("INT64") == "INT64"
    assert dtypes.tensor_dtype("float") is None  # the document's spelling only
    assert dtypes.tensor_numpy_dtype("FP32") == np.float32
    with pytest.raises(KeyError):
        dtypes.tensor_numpy_dtype("COMPLEX64")
    assert dtypes.ort_to_v2("tensor(complex64)") is None
    assert dtypes.v2_datatype_of(np.dtype(np.complex64)) is None


@pytest.mark.parametrize("datatype", dtypes.V2_DATATYPES)
def test_numpy_dtype_round_trip(datatype: str) -> None:
    assert dtypes.v2_datatype_of(dtypes.numpy_dtype(datatype)) == datatype


def _identity_model(dtype: str) -> bytes:
    element = ONNX_ELEMENT[dtype]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", element, [2])],
        [helper.make_tensor_value_info("y", element, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


@pytest.mark.parametrize("dtype", list(ONNX_ELEMENT))
def test_onnxruntime_element_types(dtype: str) -> None:
    """onnxruntime names each element type as the table says, and a feed of the table's numpy dtype
    runs and comes back with that dtype."""
    session = ort.InferenceSession(_identity_model(dtype), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert dtypes.ORT_TO_TENSOR[given.type] == dtype
    datatype = dtypes.ort_to_v2(given.type)
    assert datatype == dtypes.TENSOR_TO_V2[dtype]
    values: list[Any] = ["a", "b"] if dtype == "STRING" else [1, 0]
    feed = np.array(values, dtype=dtypes.numpy_dtype(datatype))
    (out,) = session.run(None, {"x": feed})
    assert dtypes.v2_datatype_of(out.dtype) == datatype
    assert out.tolist() == feed.tolist()


def test_importing_the_table_does_not_import_numpy() -> None:
    code = "import sys, volcengine_ml_platform.dtypes; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
