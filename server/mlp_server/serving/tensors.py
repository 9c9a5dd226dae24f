"""KServe v2 tensors: datatypes, and request inputs checked against the model's metadata.

Every check names the input, so that a wrong request is a 400 the caller can act on and never an
error inside onnxruntime.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from volcengine_ml_platform.dtypes import numpy_dtype, ort_to_v2, v2_datatype_of

# numpy kinds accepted from JSON data, by the datatype's first two letters
_KINDS = {"FP": "iuf", "IN": "iu", "UI": "iu", "BO": "b"}
# The JSON values each datatype takes (Python types json gives them, checked exactly: bool is an int
# subclass), and how an error names them, by the datatype's first two letters.
_TYPES: dict[str, tuple[frozenset[type], str]] = {
    "FP": (frozenset({int, float}), "a number"),
    "IN": (frozenset({int}), "an integer"),
    "UI": (frozenset({int}), "an integer"),
    "BO": (frozenset({bool}), "true or false"),
    "BY": (frozenset({str}), "a string"),
}


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


def decode_input(
    spec: TensorSpec, tensor: dict[str, Any], binary: bytes | None, *, may_hold_bools: bool = True
) -> npt.NDArray[Any]:
    """The numpy array of one request input (JSON ``data`` or binary bytes), checked against ``spec``.

    Every JSON value must be of the datatype's kind, as Triton requires: numpy would coerce a mixed
    list (``true`` to 1 in an INT32 list, ``1`` to ``"1"`` for BYTES), and the model would answer for
    values nobody sent. ``may_hold_bools``: False when the request's JSON holds no ``true`` or
    ``false`` at all, which spares the numeric inputs a look at every value."""
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
    data = tensor["data"]
    try:
        raw = np.asarray(data, dtype=np.object_ if spec.datatype == "BYTES" else None)
    except (TypeError, ValueError):
        raise TensorError(
            f"input {spec.name!r}: data is not a (nested) list of {spec.datatype} values"
        ) from None
    if spec.datatype == "BYTES":
        # numpy keeps whatever JSON gave (and lists, for ragged data): strings only
        if raw.size and not _of_types(spec, raw.reshape(-1).tolist()):
            raise _misfit(spec, data, raw.ndim)
    elif raw.dtype == np.object_:
        raw = _from_objects(spec, data, raw)
    elif raw.size and raw.dtype.kind not in _KINDS[spec.datatype[:2]]:
        # numpy would silently truncate floats sent for an integer input, or parse strings
        raise _misfit(spec, data, raw.ndim)
    elif (
        raw.size and may_hold_bools and raw.dtype.kind != "b" and not _of_types(spec, _leaves(data, raw.ndim))
    ):
        # true or false among numbers: numpy made them 1 and 0 (a list of bools only is kind "b")
        raise _misfit(spec, data, raw.ndim)
    with np.errstate(over="ignore"):  # an overflow is refused just below, by name
        array = raw.astype(dtype, copy=False)
    if raw.size and spec.datatype != "BYTES":
        _check_range(spec, raw, array)
    if array.size != count:
        raise TensorError(
            f"input {spec.name!r}: {array.size} values for shape {list(shape)} ({count} expected)"
        )
    return array.reshape(shape)


def _of_types(spec: TensorSpec, values: list[Any]) -> bool:
    """Whether every one of ``values`` is a JSON value ``spec``'s datatype takes (a C-speed look)."""
    return set(map(type, values)) <= _TYPES[spec.datatype[:2]][0]


def _leaves(data: Any, depth: int) -> list[Any]:
    """The values of ``data``, a list nested ``depth`` deep that numpy found regular."""
    items: list[Any] = data if isinstance(data, list) else [data]
    for _ in range(depth - 1):
        items = list(itertools.chain.from_iterable(items))
    return items


def _misfit(spec: TensorSpec, data: Any, depth: int) -> TensorError:
    """The error naming the first value of ``data`` (nested ``depth`` deep) that ``spec``'s datatype
    does not take, by its position (``data[0][2]``)."""
    types, wanted = _TYPES[spec.datatype[:2]]

    def first(node: Any, path: str, depth: int) -> tuple[str, Any] | None:
        if depth > 0 and isinstance(node, list):
            for index, item in enumerate(node):
                found = first(item, f"{path}[{index}]", depth - 1)
                if found is not None:
                    return found
            return None
        return None if type(node) in types else (path, node)

    found = first(data, "", depth)
    if found is None:  # not reached: every caller saw a value that does not fit
        return TensorError(f"input {spec.name!r}: data is not a (nested) list of {spec.datatype} values")
    path, value = found
    shown = json.dumps(value, default=repr)[:80]
    return TensorError(f"input {spec.name!r}: data{path} is {shown}, not {wanted} ({spec.datatype})")


def _from_objects(spec: TensorSpec, data: Any, raw: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """numpy keeps Python objects for JSON integers beyond 64 bits (2**70) or values that are no
    numbers (null): refuse the first by value, the others by position; a big integer a float
    datatype holds goes on as a float."""
    values = raw.reshape(-1).tolist()
    if not _of_types(spec, values):
        raise _misfit(spec, data, raw.ndim)
    dtype = numpy_dtype(spec.datatype)
    if dtype.kind in "iu":
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
