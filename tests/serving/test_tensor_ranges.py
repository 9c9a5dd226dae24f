"""A request value the input's datatype cannot hold is refused by name (400), never wrapped (-1 as
UINT8 is 255) or turned into inf: the checks in ``decode_input`` and a real replica over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mlp_server.serving.tensors import TensorError, TensorSpec, decode_input
from volcengine_ml_platform.models.model import Model

from . import models as built
from .conftest import register
from .test_serving import wait_running


def decode(datatype: str, data: list[Any]) -> list[Any]:
    spec = TensorSpec("x", datatype, (-1, len(data)))
    return list(decode_input(spec, {"datatype": datatype, "shape": [1, len(data)], "data": [data]}, None)[0])


@pytest.mark.parametrize(
    ("datatype", "data", "bad", "allowed"),
    [
        ("UINT8", [-1, 256, 300], "-1", "(0 to 255)"),
        ("UINT8", [0, 256, 1], "256", "(0 to 255)"),
        ("INT8", [0, -129, 1], "-129", "(-128 to 127)"),
        ("INT16", [1, 40000], "40000", "(-32768 to 32767)"),
        ("UINT16", [-5], "-5", "(0 to 65535)"),
        ("INT32", [2**31], "2147483648", "(-2147483648 to 2147483647)"),
        ("UINT32", [2**32], "4294967296", "(0 to 4294967295)"),
        ("INT64", [2**63], "9223372036854775808", "(-9223372036854775808 to 9223372036854775807)"),
        ("UINT64", [-1, 0], "-1", "(0 to 18446744073709551615)"),
        ("FP16", [1, 70000], "70000", "(finite values from -65504 to 65504)"),
        ("FP32", [1e39], "1e+39", "(finite values from -3.40282e+38 to 3.40282e+38)"),
        # JSON integers beyond 64 bits: numpy keeps them as Python objects
        ("INT64", [1, 2**70], str(2**70), f"({-(2**63)} to {2**63 - 1})"),
        ("UINT64", [-(2**70), 0], str(-(2**70)), f"(0 to {2**64 - 1})"),
        ("FP16", [1, 2**70], str(2**70), "(finite values from -65504 to 65504)"),
        ("FP64", [0.5, 2**1100], str(2**1100), "(finite values from -1.79769e+308 to 1.79769e+308)"),
    ],
)
def test_a_value_out_of_the_datatypes_range_is_refused_by_name(
    datatype: str, data: list[Any], bad: str, allowed: str
) -> None:
    with pytest.raises(TensorError) as caught:
        decode(datatype, data)
    assert str(caught.value) == f"input 'x': value {bad} is out of range for {datatype} {allowed}"


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("UINT8", [0, 255]),
        ("INT8", [-128, 127]),
        ("INT32", [-(2**31), 2**31 - 1]),
        ("INT64", [-(2**63), 2**63 - 1]),
        ("FP16", [-65504, 65504, 0.5]),
        ("FP32", [float("inf"), -1e38]),  # an infinity sent is kept: only a finite value is refused
        ("FP64", [1e308, -1e308]),
    ],
)
def test_the_datatypes_limits_pass_unchanged(datatype: str, data: list[Any]) -> None:
    assert decode(datatype, data) == data


@pytest.mark.parametrize(
    ("datatype", "data", "error"),
    [
        ("INT64", [1.5, 2**70], "data[0][0] is 1.5, not an integer (INT64)"),
        ("INT32", [None, 2**70], "data[0][0] is null, not an integer (INT32)"),
        ("FP32", [1.0, None], "data[0][1] is null, not a number (FP32)"),
        ("BOOL", [True, None], "data[0][1] is null, not true or false (BOOL)"),
        ("FP32", [1, {"a": 1}], 'data[0][1] is {"a": 1}, not a number (FP32)'),
    ],
)
def test_values_that_are_no_numbers_are_refused_by_name(datatype: str, data: list[Any], error: str) -> None:
    with pytest.raises(TensorError) as caught:
        decode(datatype, data)
    assert str(caught.value) == f"input 'x': {error}"


@pytest.mark.parametrize(
    ("datatype", "data", "error"),
    [
        # numpy made each of these one list of the majority's kind: the model saw values nobody sent
        ("BYTES", ["abc", 1], "data[0][1] is 1, not a string (BYTES)"),
        ("BYTES", ["abc", None], "data[0][1] is null, not a string (BYTES)"),
        ("BYTES", ["abc", True], "data[0][1] is true, not a string (BYTES)"),
        ("INT32", [1, True], "data[0][1] is true, not an integer (INT32)"),
        ("UINT8", [False, 1], "data[0][0] is false, not an integer (UINT8)"),
        ("FP32", [1.5, True], "data[0][1] is true, not a number (FP32)"),
        ("INT64", [1, 2, 3.0], "data[0][2] is 3.0, not an integer (INT64)"),
        ("FP32", [1, "2.5"], 'data[0][1] is "2.5", not a number (FP32)'),
        ("INT32", ["1", 2], 'data[0][0] is "1", not an integer (INT32)'),
        ("BOOL", [True, 1], "data[0][1] is 1, not true or false (BOOL)"),
        ("BOOL", [True, "false"], 'data[0][1] is "false", not true or false (BOOL)'),
    ],
)
def test_a_value_of_another_kind_in_a_list_is_refused_by_its_position(
    datatype: str, data: list[Any], error: str
) -> None:
    with pytest.raises(TensorError) as caught:
        decode(datatype, data)
    assert str(caught.value) == f"input 'x': {error}"


def test_a_bool_hidden_deep_in_nested_data_is_named_by_its_position() -> None:
    spec = TensorSpec("x", "INT64", (-1, 2))
    data = [[1, 2]] * 50 + [[3, False]]
    with pytest.raises(TensorError) as caught:
        decode_input(spec, {"datatype": "INT64", "shape": [51, 2], "data": data}, None)
    assert str(caught.value) == "input 'x': data[50][1] is false, not an integer (INT64)"


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("BYTES", ["abc", "", "1"]),
        ("FP32", [1, 2.5, -3]),  # integers for a float datatype are numbers
        ("FP64", [0, 1e300]),
        ("INT32", [0, -7]),
        ("BOOL", [True, False]),
    ],
)
def test_lists_of_the_datatypes_kind_pass_unchanged(datatype: str, data: list[Any]) -> None:
    assert decode(datatype, data) == data


def test_a_big_integer_a_float_datatype_holds_is_taken_as_a_float() -> None:
    assert decode("FP32", [0.5, 2**70]) == [0.5, float(2**70)]


def test_a_replica_answers_400_for_out_of_range_values(model: Model, tmp_path: Path) -> None:
    service = model.deploy(
        register(model, built.narrow_types(tmp_path / "narrow"), "narrow"),
        "1",
        "narrow-svc",
        flavor="ml.c1i.large",
    )
    url = f"{wait_running(service)}/v2/models/narrow-svc/infer"

    def infer(u8: list[int], h: list[float]) -> httpx.Response:
        body = {
            "inputs": [
                {"name": "u8", "datatype": "UINT8", "shape": [1, 3], "data": [u8]},
                {"name": "h", "datatype": "FP16", "shape": [1, 3], "data": [h]},
            ]
        }
        return httpx.post(url, json=body, timeout=30)

    try:
        ok = infer([0, 255, 7], [1.5, -65504, 0])
        assert ok.status_code == 200, ok.text
        assert {o["name"]: o["data"] for o in ok.json()["outputs"]} == {
            "wide": [0, 255, 7],
            "hf": [1.5, -65504.0, 0.0],
        }
        wrapped = infer([-1, 256, 300], [0, 0, 0])
        assert wrapped.status_code == 400
        assert wrapped.json() == {"error": "input 'u8': value -1 is out of range for UINT8 (0 to 255)"}
        overflow = infer([1, 2, 3], [0, 1e5, 0])
        assert overflow.status_code == 400
        assert "input 'h': value 100000" in overflow.json()["error"]
        coerced = infer([1, True, 3], [0, 0, 0])  # numpy would have made true a 1
        assert coerced.status_code == 400
        assert coerced.json() == {"error": "input 'u8': data[0][1] is true, not an integer (UINT8)"}
    finally:
        service.delete()
