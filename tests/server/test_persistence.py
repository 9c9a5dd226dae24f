"""Data survives a restart: ``mlp serve`` on a data folder, stopped, and a new ``mlp serve`` on it.

Everything created before (models, versions, perf jobs and tasks, services, accounts, keys, tokens) is
there afterwards with the same ids and the same answers, and version numbers go on where they stopped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlp_server.platform import CREDENTIALS_FILE
from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_testing import Keys, MlpServe

from .helpers import Api, error_of, perf_job_body, service_body, upload_into, version_info

OTHER_ACCOUNT = 2100000007


def snapshot(api: Api) -> dict[str, Any]:
    """Every answer that must be the same after a restart."""
    models = api.list_all("ListModels", SortOrder="Ascend")
    state: dict[str, Any] = {"models": models}
    for model in models:
        model_id = model["ModelID"]
        state[f"model {model_id}"] = api.ok("GetModel", {"ModelID": model_id})
        state[f"versions {model_id}"] = api.list_all("ListModelVersions", ModelID=model_id)
        state[f"next {model_id}"] = api.ok("GetModelNextVersion", {"ModelID": model_id})
        for version in state[f"versions {model_id}"]:
            version_id = version["ModelVersionID"]
            state[f"version {version_id}"] = api.ok("GetModelVersion", {"ModelVersionID": version_id})
    state["jobs"] = api.list_all("ListPerfJobs")
    state["tasks"] = api.list_all("ListPerfTasks")
    state["services"] = api.list_all("ListServices")
    for service in state["services"]:
        state[f"service {service['ServiceID']}"] = api.ok("GetService", {"ServiceID": service["ServiceID"]})
    return state


def populate(api: Api, data_dir: Path) -> dict[str, str]:
    path = upload_into(data_dir, api.account_id, "modelrepo/persist/1")
    first = api.register(path, name="persisted", ModelCategory="ImageClassification")
    model_id = first["ModelID"]
    for n in range(3):
        api.register(upload_into(data_dir, api.account_id, f"modelrepo/persist/1-{n}"), model_id=model_id,
                     Description="more")  # fmt: skip
    api.ok("DeleteModelVersion", {"ModelVersionID": f"{model_id}-4"})  # the latest: 4 is never given again
    version_id = f"{model_id}-2"
    metrics = [{"MetricsType": "Perf", "Params": '{"batch": 8}', "MetricsData": '{"qps": 12.5}'}]
    api.ok(
        "UpdateModelVersion", {"ModelVersionID": version_id, "Description": "tuned", "MetricsList": metrics}
    )
    api.ok("UpdateModel", {"ModelID": model_id, "ModelName": "persisted-renamed"})
    api.register(upload_into(data_dir, api.account_id, "modelrepo/persist/second"), name="second")

    job = api.ok(
        "CreatePerfJob",
        perf_job_body(
            version_id,
            "CONVERT_PERF",
            {"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16", "INT8"]},
        ),
    )
    tasks = api.list_all("ListPerfTasks", JobID=job["JobID"])
    api.ok("UpdatePerfTask", {"TaskID": tasks[0]["TaskID"], "Status": "Running"})
    api.ok("CancelPerfTask", {"TaskID": tasks[1]["TaskID"]})

    service_id = api.ok("CreateService", service_body(model_id, version_id, name="persisted-svc"))[
        "ServiceID"
    ]
    api.ok("UpdateService", {"ServiceID": service_id, "Replicas": 3, "ChangeType": "ScalingService"})
    api.ok("StopService", {"ServiceID": service_id})
    # Stopping until the serving supervisor has seen to it; the snapshot wants the settled record.
    deadline = time.monotonic() + 30
    while api.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]["Status"] != "Stopped":
        assert time.monotonic() < deadline, "the service never became Stopped"
        time.sleep(0.05)
    return {"model": model_id, "version": version_id, "job": job["JobID"], "service": service_id}


def add_account_offline(data_dir: Path, account_id: int) -> Keys:
    """An account added beside the running server, into its database, as ``mlp account add`` does."""
    store = Store(ServerSettings(data_dir=data_dir).db_url)
    try:
        store.create_account(account_id, 1, "other", exist_ok=True)
        ak, sk = store.add_access_key(account_id, 1)
    finally:
        store.close()
    return Keys(ak, sk, account_id)


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "platform"

    with MlpServe(data_dir) as first:
        keys = first.default_keys()
        credentials = (data_dir / CREDENTIALS_FILE).read_text()
        other = add_account_offline(data_dir, OTHER_ACCOUNT)
        with Api(first.url, keys) as api, Api(first.url, other) as other_api:
            ids = populate(api, data_dir)
            other_path = upload_into(data_dir, OTHER_ACCOUNT, "modelrepo/other/1")
            other_model = other_api.register(other_path, name="other")["ModelID"]
            token = api.token_for(OTHER_ACCOUNT, ttl=3600)
            before = snapshot(api)
            other_before = snapshot(other_api)
        assert before["models"] and before["jobs"] and before["tasks"] and before["services"]

    with MlpServe(data_dir) as second:
        # Bootstrap did not run again: same default keys, same file.
        assert (data_dir / CREDENTIALS_FILE).read_text() == credentials
        assert second.default_keys() == keys
        with Api(second.url, keys) as api, Api(second.url, other) as other_api:
            assert snapshot(api) == before
            assert snapshot(other_api) == other_before
            # Tenancy holds after the restart too.
            status, code, _ = error_of(api.call("GetModel", {"ModelID": other_model}))
            assert (status, code) == (404, "NotFound")
            # A token issued before the restart still works (the token secret is kept in the folder).
            response = api.http.post(
                "/ml-platform/cn-beijing/api/InnerGetTOSUploadPath",
                params={"Token": token},
                content=json.dumps({"ServiceName": "modelrepo"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["Result"]["Bucket"].endswith(f"-{OTHER_ACCOUNT}-cn-beijing")
            # Numbers go on where they stopped: 4 was deleted before the restart and is not reused.
            model_id = ids["model"]
            assert api.ok("GetModelNextVersion", {"ModelID": model_id})["ModelVersion"] == 5
            path = upload_into(data_dir, api.account_id, "modelrepo/persist/2")
            added = api.ok("CreateModel", {"ModelID": model_id, "VersionInfo": version_info(path)})
            assert added["VersionInfo"]["ModelVersion"] == 5
            # And the restored objects are live: the service starts, the job can be cancelled.
            api.ok("StartService", {"ServiceID": ids["service"]})
            assert api.ok("GetService", {"ServiceID": ids["service"]})["ServiceDeployment"]["Status"] in (
                "Pending",
                "Deploying",
                "Failed",  # the supervisor found no ONNX model in the version
            )
            api.ok("CancelPerfJob", {"JobID": ids["job"]})
            [job] = api.list_all("ListPerfJobs", JobID=ids["job"])
            assert job["TaskCount"] == job["EndedTaskCount"] + 1  # the running task is only asked to stop
