"""KServe v2 tensors: datatypes, and request inputs checked against the model's metadata.

Every check names the input, so that a wrong request is a 400 the caller can act on and never an
error inside onnxruntime.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from volcengine_ml_platform.dtypes import numpy_dtype, ort_to_v2, v2_datatype_of

# numpy kinds accepted from JSON data, by the datatype's first two letters
_KINDS = {"FP": "iuf", "IN": "iu", "UI": "iu", "BO": "b"}


class TensorError(ValueError):
    """A request tensor that does not fit the model: answered with 400."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 for a dynamic dimension

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def spec_of(name: str, ort_type: str, ort_shape: list[Any]) -> TensorSpec:
    datatype = ort_to_v2(ort_type)
    if datatype is None:
        raise TensorError(f"tensor {name!r}: element type {ort_type} is not served")
    return TensorSpec(name, datatype, tuple(d if isinstance(d, int) and d >= 0 else -1 for d in ort_shape))


def v2_datatype(array: npt.NDArray[Any]) -> str:
    """The KServe datatype of a numpy array (strings and bytes are BYTES)."""
    datatype = v2_datatype_of(array.dtype)
    if datatype is None:
        raise TensorError(f"numpy dtype {array.dtype} has no KServe v2 datatype")
    return datatype


def check_shape(spec: TensorSpec, shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise TensorError(
            f"input {spec.name!r}: shape must be a list of non-negative integers, got {shape!r}"
        )
    fits = len(shape) == len(spec.shape) and all(m in (-1, d) for m, d in zip(spec.shape, shape, strict=True))
    if not fits:
        raise TensorError(
            f"input {spec.name!r}: shape {shape} does not match the model's {list(spec.shape)} (-1: any)"
        )
    return tuple(shape)


def decode_input(spec: TensorSpec, tensor: dict[str, Any], binary: bytes | None) -> npt.NDArray[Any]:
    """The numpy array of one request input (JSON ``data`` or binary bytes), checked against ``spec``."""
    datatype = tensor.get("datatype")
    if datatype != spec.datatype:
        raise TensorError(
            f"input {spec.name!r}: datatype {datatype!r} does not match the model's {spec.datatype}"
        )
    shape = check_shape(spec, tensor.get("shape"))
    count = math.prod(shape)
    dtype = numpy_dtype(spec.datatype)
    if binary is not None:
        if spec.datatype == "BYTES":
            raise TensorError(f"input {spec.name!r}: binary BYTES tensors are not supported; send JSON data")
        if len(binary) != count * dtype.itemsize:
            raise TensorError(
                f"input {spec.name!r}: {len(binary)} bytes of binary data for shape {list(shape)} "
                f"({count * dtype.itemsize} expected)"
            )
        return np.frombuffer(binary, dtype=dtype).reshape(shape)
    if "data" not in tensor:
        raise TensorError(f"input {spec.name!r}: no data (a 'data' list or binary_data_size)")
    try:
        raw = np.asarray(tensor["data"], dtype=np.object_ if spec.datatype == "BYTES" else None)
    except (TypeError, ValueError):
        raise TensorError(
            f"input {spec.name!r}: data is not a (nested) list of {spec.datatype} values"
        ) from None
    if raw.dtype == np.object_ and spec.datatype != "BYTES":
        raw = _from_objects(spec, raw)
    if raw.size and spec.datatype != "BYTES" and raw.dtype.kind not in _KINDS[spec.datatype[:2]]:
        # numpy would silently truncate floats sent for an integer input, or parse strings
        raise TensorError(f"input {spec.name!r}: data holds {raw.dtype} values, not {spec.datatype}")
    with np.errstate(over="ignore"):  # an overflow is refused just below, by name
        array = raw.astype(dtype, copy=False)
    if raw.size and spec.datatype != "BYTES":
        _check_range(spec, raw, array)
    if array.size != count:
        raise TensorError(
            f"input {spec.name!r}: {array.size} values for shape {list(shape)} ({count} expected)"
        )
    return array.reshape(shape)


def _from_objects(spec: TensorSpec, raw: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """numpy keeps Python objects for JSON integers beyond 64 bits (2**70) or values that are no
    numbers (null): refuse the first by value, the others by kind; a big integer a float datatype
    holds goes on as a float."""
    values = raw.reshape(-1).tolist()
    wanted, kinds = ("true or false", (bool,)) if spec.datatype == "BOOL" else ("a number", (int, float))
    odd = [v for v in values if type(v) not in kinds]
    if odd:
        shown = json.dumps(odd[0], default=repr)[:80]
        raise TensorError(f"input {spec.name!r}: value {shown} is not {wanted} ({spec.datatype})")
    dtype = numpy_dtype(spec.datatype)
    if dtype.kind in "iu":
        if any(isinstance(v, float) for v in values):
            raise TensorError(f"input {spec.name!r}: data holds float values, not {spec.datatype}")
        info = np.iinfo(dtype)
        bad = next((v for v in values if not info.min <= v <= info.max), None)
        if bad is not None:
            raise _out_of_range(spec, dtype, bad)
        return np.asarray(values, dtype=dtype).reshape(raw.shape)
    limit = float(np.finfo(dtype).max)
    bad = next((v for v in values if isinstance(v, int) and not -limit <= v <= limit), None)
    if bad is not None:
        raise _out_of_range(spec, dtype, bad)
    return np.asarray([float(v) for v in values], dtype=np.float64).reshape(raw.shape)


def _out_of_range(spec: TensorSpec, dtype: np.dtype[Any], bad: object) -> TensorError:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        allowed = f"({info.min} to {info.max})"
    else:
        limit = float(np.finfo(dtype).max)
        allowed = f"(finite values from {-limit:g} to {limit:g})"
    return TensorError(f"input {spec.name!r}: value {bad} is out of range for {spec.datatype} {allowed}")


def _check_range(spec: TensorSpec, raw: npt.NDArray[Any], array: npt.NDArray[Any]) -> None:
    """Refuse values the datatype cannot hold: numpy's cast would wrap an integer (-1 as UINT8 is 255)
    and turn a finite number too big for a float into inf, and the model would answer for values
    nobody sent. Vectorised: a min and a max of the values sent, and a mask only when they overflow."""
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            raise _out_of_range(spec, array.dtype, int(low if low < info.min else high))
    elif array.dtype.kind == "f":
        limit = float(np.finfo(array.dtype).max)
        if not (raw.max() > limit or raw.min() < -limit):  # the common case: a max and a min, no mask
            return
        overflowed = np.isinf(array) & np.isfinite(raw)  # an infinity sent stays; rounding down is fine
        if overflowed.any():
            raise _out_of_range(spec, array.dtype, raw[overflowed].flat[0])


def encode_output(name: str, array: npt.NDArray[Any], binary: bool) -> tuple[dict[str, Any], bytes | None]:
    """An output tensor as JSON data, or as its raw bytes with ``binary_data_size``."""
    datatype = v2_datatype(array)
    wire: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    if binary and datatype != "BYTES":
        raw = np.ascontiguousarray(array).tobytes()
        wire["parameters"] = {"binary_data_size": len(raw)}
        return wire, raw
    flat = array.reshape(-1)
    wire["data"] = [v.decode() if isinstance(v, bytes) else v for v in flat.tolist()]
    return wire, None
