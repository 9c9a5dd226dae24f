"""Deployed services really serve: the example model on the embedded platform, end to end.

The tests of this module share one platform and one service of the example model and run in order;
each leaves the service Running with one replica.
"""

from __future__ import annotations

import os
import signal
import socket
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

from .conftest import EXAMPLE, register
from .helpers import SteadyClient, environ_of, pid_alive, replica_pids, wait_until

FEATURES = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]], dtype=np.float32)


def local_run(folder: Path, feeds: dict[str, Any]) -> list[Any]:
    """The floor: the same model in this process."""
    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, feeds
    )


def wait_running(service: InferenceService, timeout: float = 60) -> str:
    status = service.wait_for("Running", "Failed", timeout=timeout, interval=0.05)
    deployment = service.last.result.service_deployment
    assert status == "Running", f"{status}: {deployment.status_message}"
    return str(deployment.endpoint_url)


@pytest.fixture(scope="module")
def iris(model: Model) -> InferenceService:
    model_id = register(model, EXAMPLE, "iris")
    # The documented deploy default is a GPU flavor; Envs and ImageID as a user would give them.
    service = model.deploy(model_id, "1", "iris-svc", envs={"IRIS_GREETING": "hello replica"})
    wait_running(service)
    return service


def infer_body(features: np.ndarray) -> dict[str, Any]:
    return {"inputs": [{"name": "features", "datatype": "FP32", "shape": list(features.shape),
                        "data": features.tolist()}]}  # fmt: skip


def test_deployed_example_answers_like_onnxruntime(iris: InferenceService) -> None:
    deployment = iris.refresh().result.service_deployment
    url = deployment.endpoint_url
    assert url.startswith("http://127.0.0.1:")
    # A GPU flavor served on the CPU says so; the image is recorded and said not to run.
    assert deployment.flavor_id == "ml.g1e.large"
    assert "served on the CPU" in deployment.status_message
    assert "does not run container images" in deployment.status_message
    assert deployment.image_id
    (expected,) = local_run(EXAMPLE, {"features": FEATURES})

    got = iris.predict({"features": FEATURES})
    np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-6)
    from_lists = iris.predict({"features": FEATURES.tolist()})  # lists take the model's datatype
    np.testing.assert_allclose(from_lists["probabilities"], expected, rtol=1e-6)

    with httpx.Client(timeout=10) as client:  # one kept-alive connection through the proxy
        assert client.head(f"{url}/v2/health/ready").status_code == 200  # a length, but no body
        assert client.get(f"{url}/v2/health/ready").json() == {"ready": True}
    meta = httpx.get(f"{url}/v2/models/iris-svc").json()
    assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    answer = httpx.post(f"{url}/v2/models/iris-svc/infer", json={**infer_body(FEATURES), "id": "r1"}).json()
    assert answer["id"] == "r1" and answer["outputs"][0]["shape"] == [3, 3]
    np.testing.assert_allclose(np.array(answer["outputs"][0]["data"]).reshape(3, 3), expected, rtol=1e-6)


def test_a_real_kserve_v2_client_talks_to_the_endpoint(iris: InferenceService) -> None:
    host = iris.refresh().result.service_deployment.endpoint_url.removeprefix("http://")
    (expected,) = local_run(EXAMPLE, {"features": FEATURES})
    client = triton.InferenceServerClient(url=host)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("iris-svc")
        meta = client.get_model_metadata("iris-svc")
        assert meta["outputs"][0]["name"] == "probabilities"
        for binary in (False, True):  # JSON tensors, and the binary tensor data extension
            tensor = triton.InferInput("features", list(FEATURES.shape), "FP32")
            tensor.set_data_from_numpy(FEATURES, binary_data=binary)
            wanted = triton.InferRequestedOutput("probabilities", binary_data=binary)
            result = client.infer("iris-svc", [tensor], outputs=[wanted])
            np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-6)
        with pytest.raises(triton.InferenceServerException, match="features"):
            bad = triton.InferInput("features", [1, 3], "FP32")
            bad.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32), binary_data=False)
            client.infer("iris-svc", [bad])
    finally:
        client.close()


@pytest.mark.parametrize(
    ("tensor", "named"),
    [
        ({"name": "petals", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}, "'petals'"),
        ({"name": "features", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}, "datatype"),
        ({"name": "features", "datatype": "FP32", "shape": [1, 5], "data": [1, 2, 3, 4, 5]}, "shape"),
        ({"name": "features", "datatype": "FP32", "shape": [2, 4], "data": [1, 2, 3, 4]}, "4 values"),
        ({"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ["a", "b", "c", "d"]}, "FP32"),
        ({"name": "features", "datatype": "FP32", "shape": "1x4", "data": [1, 2, 3, 4]}, "shape"),
    ],
)
def test_wrong_inputs_are_400s_naming_the_input(
    iris: InferenceService, tensor: dict[str, Any], named: str
) -> None:
    url = iris.refresh().result.service_deployment.endpoint_url
    response = httpx.post(f"{url}/v2/models/iris-svc/infer", json={"inputs": [tensor]})
    assert response.status_code == 400
    message = response.json()["error"]
    assert named in message and (tensor["name"] in message)
    # the replica is still there and answering
    assert httpx.post(f"{url}/v2/models/iris-svc/infer", json=infer_body(FEATURES)).status_code == 200


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # last-wins would have run the second tensor, not the one the sender meant
        (
            b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4],'
            b' "data": [9, 9, 9, 9]}]}',
            "inputs[0].data: the key appears more than once in its object; send each key once",
        ),
        (
            b'{"inputs": [], "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4],'
            b' "data": [1, 2, 3, 4]}]}',
            "inputs: the key appears more than once in its object; send each key once",
        ),
        (
            b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "the request nests objects and arrays too deeply",
        ),
    ],
    ids=["in a tensor", "top", "too deep"],
)
def test_a_request_with_a_duplicated_key_or_too_deep_is_a_400_naming_it(
    iris: InferenceService, content: bytes, expected: str
) -> None:
    url = iris.refresh().result.service_deployment.endpoint_url
    response = httpx.post(
        f"{url}/v2/models/iris-svc/infer", content=content, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, {"error": expected})


def test_predict_with_a_wrong_dtype_is_an_invalid_parameter(iris: InferenceService) -> None:
    with pytest.raises(InvalidParameterError, match="features"):
        iris.predict({"features": FEATURES.astype(np.float64)})


def test_envs_reach_the_replica(iris: InferenceService) -> None:
    (pid,) = replica_pids("iris-svc")
    assert environ_of(pid)["IRIS_GREETING"] == "hello replica"


def replica_files(platform_dir: Path, service_id: str) -> list[str]:
    """The hello and log files of ``service_id``'s replicas in the data folder."""
    serving = platform_dir / "serving"
    return sorted(
        path.relative_to(serving).as_posix()
        for folder in ("run", "logs")
        if (serving / folder).is_dir()
        for path in (serving / folder).iterdir()
        if path.name.startswith(f"{service_id}-")
    )


def test_scale_up_and_down_drops_no_request(iris: InferenceService, platform_dir: Path) -> None:
    url = iris.refresh().result.service_deployment.endpoint_url
    with SteadyClient(f"{url}/v2/models/iris-svc/infer", infer_body(FEATURES)) as client:
        wait_until(lambda: client.ok > 5, what="first answers")
        iris.scale(3)
        assert wait_running(iris) == url  # one endpoint, whatever the replica count
        assert len(replica_pids("iris-svc")) == 3
        seen = client.ok
        wait_until(lambda: client.ok > seen + 30, what="answers from three replicas")
        iris.scale(1)
        wait_running(iris)
        wait_until(lambda: len(replica_pids("iris-svc")) == 1, what="two replicas gone")
        sid = iris.service_id
        # The retired replicas' hello and log files went with them.
        wait_until(
            lambda: replica_files(platform_dir, sid) == [f"logs/{sid}-0.log", f"run/{sid}-0.json"],
            what="the retired replicas' files removed",
        )
        seen = client.ok
        wait_until(lambda: client.ok > seen + 10, what="answers after scaling down")
    assert client.failures == []
    assert iris.refresh().result.service_deployment.replicas == 1


def test_a_killed_replica_is_restarted(iris: InferenceService) -> None:
    (pid,) = replica_pids("iris-svc")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid) or replica_pids("iris-svc") != [pid], what="the replica to die")
    wait_until(lambda: replica_pids("iris-svc") not in ([], [pid]), what="a new replica")
    wait_running(iris)
    (new_pid,) = replica_pids("iris-svc")
    assert new_pid != pid
    np.testing.assert_allclose(
        iris.predict({"features": FEATURES})["probabilities"], local_run(EXAMPLE, {"features": FEATURES})[0]
    )


def test_stop_start_delete(model: Model, iris: InferenceService, platform_dir: Path) -> None:
    url = iris.refresh().result.service_deployment.endpoint_url
    port = int(url.rsplit(":", 1)[1])
    iris.stop()
    assert iris.wait_for("Stopped", timeout=30, interval=0.05) == "Stopped"
    assert iris.last.result.service_deployment.endpoint_url == ""
    assert replica_pids("iris-svc") == []
    assert replica_files(platform_dir, iris.service_id) == []  # went with the replicas
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/health/live")
    iris.start()
    wait_running(iris)
    assert iris.predict({"features": FEATURES})["probabilities"].shape == (3, 3)
    url = iris.last.result.service_deployment.endpoint_url
    port = int(url.rsplit(":", 1)[1])
    iris.delete()
    assert replica_pids("iris-svc") == []
    assert replica_files(platform_dir, iris.service_id) == []
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
