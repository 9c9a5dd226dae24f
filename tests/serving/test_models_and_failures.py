"""Models built in the tests (two inputs, int64), models that cannot be served, and a platform restart
through ``mlp serve`` (with ``mlp services predict``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort

from mlp_testing import MlpServe, clean_env, mlp_script, read_default_keys
from volcengine_ml_platform.models.model import Model

from . import models as built
from .conftest import EXAMPLE, register
from .helpers import replica_pids


def local_run(folder: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, feeds
    )


def test_two_inputs_and_int64_models(model: Model, tmp_path: Path) -> None:
    two = built.two_inputs(tmp_path / "two")
    ints = built.int64_sum(tmp_path / "ints")
    two_svc = model.deploy(register(model, two, "two"), "1", "two-svc", flavor="ml.c1i.large")
    int_svc = model.deploy(register(model, ints, "ints"), "1", "ints-svc", flavor="ml.c1i.large", replica=2)
    for service in (two_svc, int_svc):
        assert service.wait_for("Running", "Failed", timeout=60, interval=0.05) == "Running"
        assert (
            "served on the CPU" not in service.last.result.service_deployment.status_message
        )  # a CPU flavor
    rng = np.random.default_rng(7)
    for batch in (1, 5):  # dynamic batch
        a = rng.standard_normal((batch, 3)).astype(np.float32)
        b = rng.standard_normal((batch, 3)).astype(np.float32)
        got = two_svc.predict({"a": a, "b": b})["y"]
        np.testing.assert_allclose(got, local_run(two, {"a": a, "b": b})[0], rtol=1e-6)
        x = rng.integers(-(2**40), 2**40, size=(batch, 4), dtype=np.int64)
        total = int_svc.predict({"x": x})["total"]
        assert total.dtype == np.int64
        np.testing.assert_array_equal(total, local_run(ints, {"x": x})[0])

    url = two_svc.last.result.service_deployment.endpoint_url
    only_a = {"inputs": [{"name": "a", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}
    response = httpx.post(f"{url}/v2/models/two-svc/infer", json=only_a)
    assert response.status_code == 400 and "'b' is missing" in response.json()["error"]
    url = int_svc.last.result.service_deployment.endpoint_url
    floats = {"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 4], "data": [1.5, 2, 3, 4]}]}
    response = httpx.post(f"{url}/v2/models/ints-svc/infer", json=floats)
    assert response.status_code == 400 and "'x'" in response.json()["error"]
    two_svc.delete()
    int_svc.delete()


def test_a_model_that_cannot_load_makes_the_service_failed(model: Model, tmp_path: Path) -> None:
    service = model.deploy(register(model, built.broken(tmp_path / "broken"), "broken"), "1", "broken-svc",
                           flavor="ml.c1i.large")  # fmt: skip
    assert service.wait_for("Failed", "Running", timeout=60, interval=0.1) == "Failed"
    deployment = service.last.result.service_deployment
    assert "onnxruntime cannot load model.onnx" in deployment.status_message
    assert "gave up after 3 failures" in deployment.status_message
    assert deployment.endpoint_url == ""
    assert replica_pids("broken-svc") == []

    nothing = tmp_path / "no-model"
    nothing.mkdir()
    (nothing / "weights.bin").write_bytes(b"\0" * 64)
    service = model.deploy(register(model, nothing, "no-model"), "1", "no-model-svc", flavor="ml.c1i.large")
    assert service.wait_for("Failed", "Running", timeout=30, interval=0.05) == "Failed"
    assert "no .onnx file" in service.last.result.service_deployment.status_message


def test_running_services_come_back_after_a_platform_restart(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    data_dir = tmp_path / "platform"
    features = [[5.1, 3.5, 1.4, 0.2]]
    with MlpServe(data_dir, env=env) as server:
        keys = read_default_keys(data_dir)
        model = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
        service = model.deploy(register(model, EXAMPLE, "iris"), "1", "back-svc", flavor="ml.c1i.large")
        assert service.wait_for("Running", "Failed", timeout=60, interval=0.05) == "Running"
        url = service.last.result.service_deployment.endpoint_url
        before = service.predict({"features": features})["probabilities"]
        cli_env = {**env, "VOLC_ML_PLATFORM_ENDPOINT": server.url, "VOLC_ACCESSKEY": keys.ak,
                   "VOLC_SECRETKEY": keys.sk}  # fmt: skip
        done = subprocess.run(
            [mlp_script(), "-o", "json", "services", "predict", service.service_id, "--input",
             json.dumps({"features": features})],
            env=cli_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        np.testing.assert_allclose(json.loads(done.stdout)["outputs"]["probabilities"], before)
        # the values go as given: 1e39 is refused by name, where a cast to FP32 made it inf
        refused = subprocess.run(
            [mlp_script(), "services", "predict", service.service_id, "--input",
             json.dumps({"features": [[1e39, 3.5, 1.4, 0.2]]})],
            env=cli_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert refused.returncode == 1 and refused.stdout == "", refused
        assert "input 'features': value 1e+39 is out of range for FP32" in refused.stderr
    assert replica_pids("back-svc", data_dir) == []  # stopping the platform stopped its replicas

    with MlpServe(data_dir, env=env) as server:
        model = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
        service = model.get_service(service.service_id)
        assert service.wait_for("Running", "Failed", timeout=60, interval=0.05) == "Running"
        assert service.last.result.service_deployment.endpoint_url == url  # the same endpoint
        np.testing.assert_allclose(service.predict({"features": features})["probabilities"], before)
        service.delete()
