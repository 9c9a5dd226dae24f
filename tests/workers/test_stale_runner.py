"""A runner whose worker lost the task's lease (a hung or cut-off machine) while the runner went on:
once another worker has claimed and finished the task, the stale runner's writes (the version's Perf
metrics) are refused in the same transaction that would make them, on SQLite and on PostgreSQL; the
new holder's record stands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mlp_server.context import Caller
from mlp_server.handlers import call_action
from mlp_server.platform import Platform, open_platform
from mlp_server.settings import ServerSettings
from mlp_server.store import ClaimedTask
from mlp_server.workers.errors import TaskError
from mlp_server.workers.runner import RunSpec, register_converted, run
from pg_testing import PgCluster
from volcengine_ml_platform.transfer.manager import upload_path

from . import models

ACCOUNT = 2100000050


def registered_mlp(platform: Platform, folder: Path) -> str:
    """The test MLP's files uploaded to the platform's object store and registered: its version id."""
    caller = Caller(ACCOUNT, 0, is_admin=False)
    asked = {"ServiceName": "modelrepo", "Path": ["m"]}
    where = call_action(platform, caller, "InnerGetTOSUploadPath", asked)
    path = upload_path(platform.objects, folder, where["Bucket"], where["KeyPrefix"])
    # Through the action, as a client registers: its manifest is written (a download checks it).
    created = call_action(
        platform,
        caller,
        "InnerCreateModel",
        {"ModelName": "m", "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": path}},
    )
    return str(created["VersionInfo"]["ModelVersionID"])


def claim_after_lapse(platform: Platform, worker_id: str) -> ClaimedTask:
    """``worker_id`` claims the task once the earlier holder's (short) lease has run out."""
    deadline = time.monotonic() + 30
    while (task := platform.store.claim_next_task(worker_id=worker_id, lease_seconds=60)) is None:
        assert time.monotonic() < deadline, "the first lease never lapsed"
        time.sleep(0.05)
    return task


def perf_entries(platform: Platform, version_id: str) -> list[Any]:
    version = platform.store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})
    return [m for m in version.get("MetricsList") or [] if m["MetricsType"] == "Perf"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_stale_runner_cannot_write_its_metrics_over_the_new_holders(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = None
    if backend == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.database("stale")
    platform = open_platform(ServerSettings(tmp_path / "platform", database_url=database_url))
    store = platform.store
    try:
        version_id = registered_mlp(platform, models.mlp(tmp_path / "mlp"))
        store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": version_id,
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
            },
        )
        stale = store.claim_next_task(worker_id="w1", lease_seconds=0.2)  # w1 then goes silent
        assert stale is not None
        fresh = claim_after_lapse(platform, "w2")
        assert (fresh.task_id, fresh.attempt) == (stale.task_id, 2)
        data_dir = str(tmp_path / "platform")
        result = run(platform, RunSpec(fresh, data_dir, database_url, 0.05))
        assert store.finish_task(fresh.task_id, "Success", result, worker_id="w2")
        recorded = perf_entries(platform, version_id)
        assert recorded and all(f'"TaskID": "{fresh.task_id}"' in m["Params"] for m in recorded)

        # w1's runner finishes its own measurement now: its write is refused, nothing is changed.
        with pytest.raises(TaskError, match="no longer holds the task"):
            run(platform, RunSpec(stale, data_dir, database_url, 0.05))
        assert perf_entries(platform, version_id) == recorded
        task = store.list_perf_tasks(ACCOUNT, {"TaskID": fresh.task_id})["List"][0]
        assert (task["TaskStatus"], task["Result"]) == ("Success", result)
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_stale_conversion_runner_registers_no_version(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The new holder's conversion ended (cancelled: its version withdrawn); the stale runner, getting
    to its registration only now, registers nothing that would be left unmeasured."""
    database_url = None
    if backend == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.database("stale_conv")
    platform = open_platform(ServerSettings(tmp_path / "platform", database_url=database_url))
    store = platform.store
    try:
        version_id = registered_mlp(platform, models.mlp(tmp_path / "mlp"))
        store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": version_id,
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "CONVERT_PERF",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
            },
        )
        stale = store.claim_next_task(worker_id="w1", lease_seconds=0.2)
        assert stale is not None
        fresh = claim_after_lapse(platform, "w2")
        store.cancel_perf_task(ACCOUNT, {"TaskID": fresh.task_id})
        assert store.finish_task(fresh.task_id, "Cancelled", worker_id="w2")
        spec = RunSpec(stale, str(tmp_path / "platform"), database_url, 0.05)
        version = store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})
        with pytest.raises(TaskError, match="no longer holds the task"):
            register_converted(platform, spec, version, models.mlp(tmp_path / "converted"))
        model_id = version_id.rsplit("-", 1)[0]
        assert store.list_model_versions(ACCOUNT, {"ModelID": model_id})["Total"] == 1
    finally:
        store.close()
