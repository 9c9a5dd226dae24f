"""Tensor element types, written once for the client and the local platform.

Three vocabularies name the same element types: a TensorConfig's ``DType`` (the document's
``TensorDType`` enum), the KServe v2 / Open Inference Protocol ``datatype``, and onnxruntime's
``tensor(x)`` input types. The serving client (``models.inference``), the replicas
(``mlp_server.serving.tensors``) and the perf workers (``mlp_server.workers.measure``) all read
these tables. Like ``signing`` and ``schema``, this module imports neither side, and it imports
numpy only when a numpy dtype is asked for, so importing it costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import numpy as np

# TensorConfig DType -> KServe v2 datatype, one to one.
TENSOR_TO_V2: Final[Mapping[str, str]] = MappingProxyType(
    {
        "FLOAT16": "FP16",
        "FLOAT": "FP32",
        "DOUBLE": "FP64",
        "INT8": "INT8",
        "INT16": "INT16",
        "INT32": "INT32",
        "INT64": "INT64",
        "UINT8": "UINT8",
        "UINT16": "UINT16",
        "UINT32": "UINT32",
        "UINT64": "UINT64",
        "BOOL": "BOOL",
        "STRING": "BYTES",
    }
)
V2_TO_TENSOR: Final[Mapping[str, str]] = MappingProxyType({v: k for k, v in TENSOR_TO_V2.items()})

# The perf TensorConfig's DTypes (the document's PerfTensorDType): inputs a perf job can generate.
PERF_TENSOR_DTYPES: Final = frozenset(TENSOR_TO_V2) - {"STRING", "BOOL"}

# Other spellings of a DType: the seed's own perf job example stores "FP32" (results echo what was
# stored, so a stored config may hold them). Requests are checked against the document's enum.
DTYPE_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"FP32": "FLOAT", "FP16": "FLOAT16"})

# onnxruntime's input/output type -> TensorConfig DType.
ORT_TO_TENSOR: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tensor(float16)": "FLOAT16",
        "tensor(float)": "FLOAT",
        "tensor(double)": "DOUBLE",
        "tensor(int8)": "INT8",
        "tensor(int16)": "INT16",
        "tensor(int32)": "INT32",
        "tensor(int64)": "INT64",
        "tensor(uint8)": "UINT8",
        "tensor(uint16)": "UINT16",
        "tensor(uint32)": "UINT32",
        "tensor(uint64)": "UINT64",
        "tensor(bool)": "BOOL",
        "tensor(string)": "STRING",
    }
)

# KServe v2 datatype -> numpy type name (numpy itself is imported only by ``numpy_dtype``).
_V2_TO_NUMPY_NAME: Final[Mapping[str, str]] = MappingProxyType(
    {
        "FP16": "float16",
        "FP32": "float32",
        "FP64": "float64",
        "INT8": "int8",
        "INT16": "int16",
        "INT32": "int32",
        "INT64": "int64",
        "UINT8": "uint8",
        "UINT16": "uint16",
        "UINT32": "uint32",
        "UINT64": "uint64",
        "BOOL": "bool",
        "BYTES": "object",
    }
)
V2_DATATYPES: Final = tuple(_V2_TO_NUMPY_NAME)


def tensor_dtype(name: str) -> str | None:
    """The canonical TensorConfig DType of ``name`` (an alias such as FP32 resolved); None if unknown."""
    canonical = DTYPE_ALIASES.get(name, name)
    return canonical if canonical in TENSOR_TO_V2 else None


def ort_to_v2(ort_type: str) -> str | None:
    """The KServe v2 datatype of an onnxruntime ``tensor(x)`` type; None for one not served."""
    dtype = ORT_TO_TENSOR.get(ort_type)
    return None if dtype is None else TENSOR_TO_V2[dtype]


@cache
def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype of a KServe v2 datatype (BYTES is ``object``); KeyError if unknown."""
    import numpy as np

    return np.dtype(_V2_TO_NUMPY_NAME[datatype])


def tensor_numpy_dtype(dtype: str) -> np.dtype[Any]:
    """The numpy dtype of a TensorConfig DType (aliases accepted); KeyError if unknown."""
    canonical = tensor_dtype(dtype)
    if canonical is None:
        raise KeyError(dtype)
    return numpy_dtype(TENSOR_TO_V2[canonical])


def v2_datatype_of(dtype: np.dtype[Any]) -> str | None:
    """The KServe v2 datatype of a numpy dtype (strings, bytes and objects are BYTES); None if none."""
    if dtype.kind in "OSU":
        return "BYTES"
    for name in V2_DATATYPES:
        if name != "BYTES" and numpy_dtype(name) == dtype:
            return name
    return None
