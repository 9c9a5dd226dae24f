"""A team's PostgreSQL restarted under it (stopped with ``-m fast``, which ends every session as a
restart or failover does, then started again), without restarting any server or worker: requests while
it is down get the documented, retried 503; the first requests after it are answered; a served service
comes back; a perf task keeps running through it and is recorded once. These tests stop their own
cluster, never the session's shared one."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server.helpers import Api, service_body, version_info

from iam_s3 import IamS3
from mlp_testing import mlp_script
from pg_testing import PgCluster

from .conftest import Team, start_team

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"
BODY = {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PgCluster]:
    with PgCluster() as cluster:
        yield cluster


def upload_iris(team: Team, api: Api, s3: IamS3) -> str:
    upload = api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo"})
    master = s3.client("s3", s3.access_key, s3.secret_key)
    body = (EXAMPLE / "model.onnx").read_bytes()
    master.put_object(Bucket=upload["Bucket"], Key=upload["KeyPrefix"] + "model.onnx", Body=body)
    return f"tos://{upload['Bucket']}/{upload['KeyPrefix']}"


def register_iris(api: Api, path: str, name: str) -> str:
    info = version_info(path, ModelFormat="ONNX", ModelType="ONNX:1.23")
    return str(api.ok("CreateModel", {"ModelName": name, "VersionInfo": info})["ModelID"])


def stop_all(team: Team) -> None:
    for server in team.servers:
        server.stop()


def test_requests_get_503_while_postgres_is_down_and_are_answered_once_it_is_back(
    tmp_path: Path, own_cluster: PgCluster, iam_s3: IamS3
) -> None:
    team = start_team(tmp_path, own_cluster.database("outage"), iam_s3, processes=2)
    try:
        apis = [Api(s.url, team.default_keys()) for s in team.servers]
        path = upload_iris(team, apis[0], iam_s3)
        model_id = register_iris(apis[0], path, "before")
        later = [upload_iris(team, apis[0], iam_s3) for _ in apis]  # registered once it is back
        for api in apis:  # every server's pool holds connections that the restart ends
            for _ in range(3):
                api.ok("GetModel", {"ModelID": model_id})
                api.ok("ListModels", {})
        with own_cluster.down():
            time.sleep(2.5)  # the servers' key caches (2 s) expire: the signature check asks too
            down = [(api.call("ListModels", {}), api.call("CreateModel", {"ModelName": "x"})) for api in apis]
        for answers in down:
            for r in answers:
                error = r.json()["ResponseMetadata"]["Error"]
                assert (r.status_code, error["Code"]) == (503, "ServiceUnavailableTemp"), r.text[:300]
                assert "cannot be reached" in error["Message"] and "SQL" not in error["Message"]
        # Back: the first requests on each server meet its pool's dead connections.
        answers = []
        for n, api in enumerate(apis):
            for action, body in [
                ("ListModels", {}),
                ("GetModel", {"ModelID": model_id}),
                ("ListModelVersions", {"ModelID": model_id}),
                ("GetTOSUploadPath", {"ServiceName": "modelrepo"}),
                ("CreateModel", {"ModelName": f"after-{n}", "VersionInfo": version_info(later[n])}),
            ]:
                r = api.call(action, body)
                answers.append((n, action, r.status_code, r.text[:200] if r.status_code != 200 else ""))
        assert [a for a in answers if a[2] != 200] == []
    finally:
        stop_all(team)


def predict(url: str, name: str) -> int:
    try:
        return httpx.post(f"{url}/v2/models/{name}/infer", json=BODY, timeout=5).status_code
    except httpx.HTTPError:
        return -1


def test_a_served_service_comes_back_after_a_postgres_restart(
    tmp_path: Path, own_cluster: PgCluster, iam_s3: IamS3
) -> None:
    team = start_team(tmp_path, own_cluster.database("outage_serving"), iam_s3, processes=2)
    try:
        apis = [Api(s.url, team.default_keys()) for s in team.servers]
        model_id = register_iris(apis[0], upload_iris(team, apis[0], iam_s3), "iris")
        body = service_body(model_id, f"{model_id}-1", name="outage-svc", FlavorID="ml.c1i.large")
        service_id = apis[0].ok("CreateService", body)["ServiceID"]

        def deployment() -> dict[str, Any] | None:
            r = apis[1].call("GetService", {"ServiceID": service_id})
            return r.json()["Result"]["ServiceDeployment"] if r.status_code == 200 else None

        deadline = time.monotonic() + 90
        while (dep := deployment()) is None or dep["Status"] != "Running":
            assert time.monotonic() < deadline, dep
            time.sleep(0.5)
        assert predict(dep["EndpointURL"], "outage-svc") == 200
        with own_cluster.down():
            time.sleep(1)
        back = time.monotonic()
        seen = []
        while time.monotonic() - back < 40:
            dep = deployment()
            code = predict(dep["EndpointURL"], "outage-svc") if dep and dep["EndpointURL"] else None
            seen.append((round(time.monotonic() - back, 1), dep and dep["Status"], code))
            if dep is not None and dep["Status"] == "Running" and code == 200:
                break
            time.sleep(0.5)
        # The owner's lock died with its session: a server takes it again within 5 s, waits 3.5 s
        # before it starts a replica, and brings the service back through its (pre-pinged) pool.
        assert seen[-1][1:] == ("Running", 200), seen
        assert seen[-1][0] < 20, seen
    finally:
        stop_all(team)


def test_a_perf_task_keeps_running_through_a_postgres_restart(
    tmp_path: Path, own_cluster: PgCluster, iam_s3: IamS3
) -> None:
    url = own_cluster.database("outage_worker")
    team = start_team(tmp_path, url, iam_s3, processes=1)
    log = tmp_path / "worker.log"
    worker = None
    try:
        api = Api(team.servers[0].url, team.default_keys())
        model_id = register_iris(api, upload_iris(team, api, iam_s3), "iris")
        config = json.loads((EXAMPLE / "perf_tensor_config.json").read_text())
        job = api.ok(
            "CreatePerfJob",
            {
                "ModelVersionID": f"{model_id}-1",
                "TensorConfig": config,
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
            },
        )
        env = dict(team.env, MLP_PERF_MEASURE_SECONDS="6", PYTHONUNBUFFERED="1")
        with log.open("ab") as out:
            worker = subprocess.Popen(
                [mlp_script(), "worker", "--data-dir", str(team.data_dir), "--database-url", url],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "(attempt 1)" not in log.read_text():  # the task is claimed; its runner starts
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1)
        with own_cluster.down():
            time.sleep(2)  # the worker's looks at the task fail meanwhile
        deadline = time.monotonic() + 90
        while True:
            r = api.call("ListPerfTasks", {"JobID": job["JobID"]})
            task = r.json()["Result"]["List"][0] if r.status_code == 200 else {}
            if task.get("TaskStatus") in ("Success", "Failed", "Cancelled"):
                break
            assert time.monotonic() < deadline, task
            time.sleep(0.5)
        text = log.read_text()
        assert task["TaskStatus"] == "Success", (task.get("Message"), text[-1500:])
        assert task["Result"]["Attempt"] == 1, "the healthy run was thrown away and the task run again"
        assert "the database failed" in text, "the outage was not met: the test proved nothing"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        stop_all(team)
