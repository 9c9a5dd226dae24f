"""Deployed services against the KServe v2 / Open Inference Protocol: models with several inputs and
outputs of many datatypes compared with onnxruntime run directly, server metadata, the versioned
paths, JSON error bodies, malformed ``parameters`` / ``outputs``, non-finite outputs, and
``service.predict`` refusing (by name) values a datatype cannot hold instead of casting them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton

from volcengine_ml_platform.errors import InvalidParameterError
from volcengine_ml_platform.models.inference_service import InferenceService
from volcengine_ml_platform.models.model import Model

from . import models as built
from .conftest import register
from .test_serving import wait_running

BUILDERS = {"many-types": built.many_types, "log-of": built.log_of, "int-and-half": built.int_and_half}


@pytest.fixture(scope="module")
def services(model: Model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, InferenceService]]:
    root = tmp_path_factory.mktemp("kserve-models")
    out = {}
    for name, build in BUILDERS.items():
        out[name] = model.deploy(register(model, build(root / name), name), "1", name, flavor="ml.c1i.large")
    for service in out.values():
        wait_running(service)
    yield out
    for service in out.values():
        service.delete()


def url_of(service: InferenceService) -> str:
    return str(service.refresh().result.service_deployment.endpoint_url)


@pytest.fixture
def client(services: dict[str, InferenceService]) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(url=url_of(services["many-types"]).removeprefix("http://"))
    yield c
    c.close()


def test_predict_equals_onnxruntime_run_directly(
    services: dict[str, InferenceService], tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    feeds = {
        "x": rng.standard_normal((4, 3)).astype(np.float32),
        "ids": rng.integers(-5, 5, (4, 2)).astype(np.int64),
        "flag": np.array([True, False, True, True]),
    }
    direct = ort.InferenceSession(str(built.many_types(tmp_path) / "model.onnx")).run(None, feeds)
    got = services["many-types"].predict(feeds)
    for name, want in zip(("y", "count", "notflag", "h"), direct, strict=True):
        assert (got[name].dtype, got[name].shape) == (want.dtype, want.shape), name
        np.testing.assert_array_equal(got[name], want)
    # nested lists go as they are and are read with the datatypes the metadata declares
    listed = services["many-types"].predict({k: v.tolist() for k, v in feeds.items()})
    for name, want in zip(("y", "count", "notflag", "h"), direct, strict=True):
        np.testing.assert_array_equal(listed[name], want)


def test_binary_tensors_through_tritonclient_equal_onnxruntime(
    client: triton.InferenceServerClient, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    feeds = {
        "x": rng.standard_normal((5, 3)).astype(np.float32),
        "ids": rng.integers(-9, 9, (5, 2)).astype(np.int64),
        "flag": rng.integers(0, 2, 5).astype(bool),
    }
    inputs = []
    for name, datatype in (("x", "FP32"), ("ids", "INT64"), ("flag", "BOOL")):
        tensor = triton.InferInput(name, list(feeds[name].shape), datatype)
        tensor.set_data_from_numpy(feeds[name], binary_data=True)
        inputs.append(tensor)
    names = ("y", "count", "notflag", "h")
    result = client.infer(
        "many-types", inputs, outputs=[triton.InferRequestedOutput(n, binary_data=True) for n in names]
    )
    direct = ort.InferenceSession(str(built.many_types(tmp_path) / "model.onnx")).run(None, feeds)
    for name, want in zip(names, direct, strict=True):
        got = result.as_numpy(name)
        assert (got.dtype, got.shape) == (want.dtype, want.shape), name
        np.testing.assert_array_equal(got, want)
    meta = client.get_model_metadata("many-types")
    assert [o["datatype"] for o in meta["outputs"]] == ["FP32", "INT64", "BOOL", "FP16"]


def test_server_metadata_names_the_server_its_version_and_extensions(
    services: dict[str, InferenceService], client: triton.InferenceServerClient
) -> None:
    expected = {
        "name": "mlp-serving",
        "version": metadata.version("volcengine-ml-platform-models"),  # what pip installed
        "extensions": ["binary_tensor_data"],
    }
    answer = httpx.get(url_of(services["many-types"]) + "/v2")
    assert answer.status_code == 200 and answer.json() == expected
    assert client.get_server_metadata() == expected


def test_the_versioned_paths_serve_the_deployed_version_only(services: dict[str, InferenceService]) -> None:
    base = url_of(services["int-and-half"]) + "/v2/models/int-and-half/versions/"
    assert httpx.get(base + "1").json()["versions"] == ["1"]
    assert httpx.get(base + "1/ready").json() == {"name": "int-and-half", "ready": True}
    body = {
        "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": [1], "data": [3]},
            {"name": "f", "datatype": "FP16", "shape": [1], "data": [0.5]},
        ]
    }
    answer = httpx.post(base + "1/infer", json=body)
    assert answer.status_code == 200, answer.text
    assert {o["name"]: o["data"] for o in answer.json()["outputs"]} == {"y": [3], "g": [0.5]}
    for wrong in (
        httpx.get(base + "2"),
        httpx.get(base + "2/ready"),
        httpx.post(base + "2/infer", json=body),
    ):
        assert wrong.status_code == 404
        assert wrong.json() == {"error": "unknown version '2' of model 'int-and-half'; it serves version '1'"}


def test_unknown_paths_and_methods_are_json_errors(services: dict[str, InferenceService]) -> None:
    url = url_of(services["int-and-half"])
    missing = httpx.get(url + "/v2/repository/index")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such path: GET /v2/repository/index"}
    wrong = httpx.get(url + "/v2/models/int-and-half/infer")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json() == {"error": "method not allowed: GET /v2/models/int-and-half/infer"}


INPUTS: list[dict[str, Any]] = [
    {"name": "ids", "datatype": "INT64", "shape": [1], "data": [3]},
    {"name": "f", "datatype": "FP16", "shape": [1], "data": [0.5]},
]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"inputs": [{**INPUTS[0], "parameters": [1]}, INPUTS[1]]},
            "input 'ids': 'parameters' must be a JSON object, got [1]",
        ),
        ({"inputs": INPUTS, "parameters": "x"}, "the request's 'parameters' must be a JSON object, got 'x'"),
        (
            {"inputs": INPUTS, "parameters": {"binary_data_output": "yes"}},
            "the request's parameters.binary_data_output must be true or false, got 'yes'",
        ),
        ({"inputs": INPUTS, "outputs": 5}, "'outputs' must be a list of objects with a 'name', got 5"),
        ({"inputs": INPUTS, "outputs": ["y"]}, "each of 'outputs' must be an object with a 'name', got 'y'"),
        (
            {"inputs": INPUTS, "outputs": [{"name": "y", "parameters": "yes"}]},
            "output 'y': 'parameters' must be a JSON object, got 'yes'",
        ),
        (
            {"inputs": INPUTS, "outputs": [{"name": "y", "parameters": {"binary_data": 1}}]},
            "output 'y': parameters.binary_data must be true or false, got 1",
        ),
    ],
    ids=[
        "input-parameters-list",
        "request-parameters-string",
        "binary-data-output-string",
        "outputs-int",
        "outputs-of-strings",
        "output-parameters-string",
        "binary-data-int",
    ],
)
def test_malformed_parameters_and_outputs_are_400s_naming_the_field(
    services: dict[str, InferenceService], body: dict[str, Any], error: str
) -> None:
    answer = httpx.post(url_of(services["int-and-half"]) + "/v2/models/int-and-half/infer", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"error": error}


def test_non_finite_outputs_are_written_as_triton_writes_them(services: dict[str, InferenceService]) -> None:
    """log([1, 0, -1]) = [0, -inf, NaN]: JSON data has no such numbers; like Triton (rapidjson's
    kWriteNanAndInfFlag) the answer writes -Infinity and NaN, which Python's json and tritonclient
    read. The binary tensor data extension gives them to a strict JSON parser."""
    url = url_of(services["log-of"])
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1.0, 0.0, -1.0]}]}
    answer = httpx.post(url + "/v2/models/log-of/infer", json=body)
    assert answer.status_code == 200
    assert '"data":[0.0,-Infinity,NaN]' in answer.text
    c = triton.InferenceServerClient(url=url.removeprefix("http://"))
    try:
        for binary in (False, True):
            x = triton.InferInput("x", [3], "FP32")
            x.set_data_from_numpy(np.array([1.0, 0.0, -1.0], np.float32), binary_data=binary)
            out = triton.InferRequestedOutput("y", binary_data=binary)
            y = c.infer("log-of", [x], outputs=[out]).as_numpy("y")
            assert y[0] == 0 and np.isneginf(y[1]) and np.isnan(y[2]), (binary, y)
    finally:
        c.close()
    strict = {**body, "parameters": {"binary_data_output": True}}
    answer = httpx.post(url + "/v2/models/log-of/infer", json=strict)
    split = int(answer.headers["inference-header-content-length"])

    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    head = json.loads(answer.content[:split], parse_constant=refuse)
    assert head["outputs"][0]["parameters"] == {"binary_data_size": 12}
    y = np.frombuffer(answer.content[split:], np.float32)
    assert y[0] == 0 and np.isneginf(y[1]) and np.isnan(y[2])


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        # a cast in the client made 1.7 into 1 and the model answered for a value nobody sent
        ({"ids": [1.7, 2.9], "f": [0.5, 0.5]}, "input 'ids': data[0] is 1.7, not an integer (INT64)"),
        # ... made 1e5 into an FP16 inf (then a raw ValueError), and 2**70 a raw OverflowError
        (
            {"ids": [1], "f": [1e5]},
            "input 'f': value 100000.0 is out of range for FP16 (finite values from -65504 to 65504)",
        ),
        (
            {"ids": [2**70], "f": [0.5]},
            f"input 'ids': value {2**70} is out of range for INT64 ({-(2**63)} to {2**63 - 1})",
        ),
        ({"ids": [None], "f": [0.5]}, "input 'ids': data[0] is null, not an integer (INT64)"),
    ],
    ids=["float-for-int64", "fp16-overflow", "beyond-64-bits", "null"],
)
def test_predict_sends_nested_lists_uncast_and_the_service_refuses_by_name(
    services: dict[str, InferenceService], inputs: dict[str, Any], error: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        services["int-and-half"].predict(inputs)
    assert str(caught.value) == f"inference on int-and-half: {error} (HTTP 400)"
    exact = services["int-and-half"].predict({"ids": [2**62, -7], "f": [65504, 0.1]})
    assert exact["y"].tolist() == [2**62, -7]
    assert exact["g"].tolist() == [65504.0, float(np.float16(0.1))]
