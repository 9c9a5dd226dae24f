"""Another account sees nothing and can touch nothing: every object answers NotFound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import Store

from .helpers import ACCOUNT, OTHER_ACCOUNT, PERF_TENSOR_CONFIG, perf_job, register, service_body, task_ids

Owned = dict[str, str]


@pytest.fixture
def owned(store: Store) -> Owned:
    model_id, _ = register(store, name="private")
    job = perf_job(store, f"{model_id}-1", ["ml.c1i.large"])
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1))["ServiceID"]
    return {
        "model": model_id,
        "version": f"{model_id}-1",
        "job": job["JobID"],
        "task": task_ids(store, job["JobID"])[0],
        "service": service_id,
    }


# Every tenant-scoped action that names an object, with a body naming A's object.
ATTEMPTS: list[tuple[str, Callable[[Owned], dict[str, Any]]]] = [
    ("get_model", lambda o: {"ModelID": o["model"]}),
    ("update_model", lambda o: {"ModelID": o["model"], "ModelName": "stolen"}),
    ("delete_model", lambda o: {"ModelID": o["model"]}),
    ("get_model_next_version", lambda o: {"ModelID": o["model"]}),
    ("list_model_versions", lambda o: {"ModelID": o["model"]}),
    (
        "create_model",
        lambda o: {"ModelID": o["model"], "ModelName": "x", "VersionInfo": {"Path": "tos://b/k/"}},
    ),
    ("get_model_version", lambda o: {"ModelVersionID": o["version"]}),
    ("update_model_version", lambda o: {"ModelVersionID": o["version"], "Description": "stolen"}),
    ("delete_model_version", lambda o: {"ModelVersionID": o["version"]}),
    (
        "create_perf_job",
        lambda o: {
            "ModelVersionID": o["version"],
            "TensorConfig": PERF_TENSOR_CONFIG,
            "JobType": "PERF_ONLY",
            "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
        },
    ),
    ("cancel_perf_job", lambda o: {"JobID": o["job"]}),
    ("update_perf_task", lambda o: {"TaskID": o["task"], "Status": "Running"}),
    ("update_perf_task", lambda o: {"TaskID": o["task"]}),
    ("cancel_perf_task", lambda o: {"TaskID": o["task"]}),
    ("create_service", lambda o: service_body(o["model"], 1, name="mine")),
    ("get_service", lambda o: {"ServiceID": o["service"]}),
    ("start_service", lambda o: {"ServiceID": o["service"]}),
    ("stop_service", lambda o: {"ServiceID": o["service"]}),
    ("delete_service", lambda o: {"ServiceID": o["service"]}),
    ("update_service", lambda o: {"ServiceID": o["service"], "Replicas": 9, "ChangeType": "ScalingService"}),
]


@pytest.mark.parametrize(("action", "body"), ATTEMPTS, ids=[a for a, _ in ATTEMPTS])
def test_another_account_gets_not_found(
    store: Store, owned: Owned, action: str, body: Callable[[Owned], dict[str, Any]]
) -> None:
    before = snapshot(store)
    with pytest.raises(ApiError) as caught:
        getattr(store, action)(OTHER_ACCOUNT, body(owned))
    assert caught.value.code == "NotFound"
    assert snapshot(store) == before  # and nothing changed for the owner


def test_another_account_lists_nothing(store: Store, owned: Owned) -> None:
    empty = {"Total": 0, "List": []}
    assert store.list_models(OTHER_ACCOUNT, {}) == empty
    assert store.list_models(OTHER_ACCOUNT, {"IdContains": owned["model"]}) == empty
    assert store.list_perf_jobs(OTHER_ACCOUNT, {}) == empty
    assert store.list_perf_jobs(OTHER_ACCOUNT, {"JobID": owned["job"]}) == empty
    assert store.list_perf_jobs(OTHER_ACCOUNT, {"ModelVersionID": owned["version"]}) == empty
    assert store.list_perf_tasks(OTHER_ACCOUNT, {}) == empty
    assert store.list_perf_tasks(OTHER_ACCOUNT, {"JobID": owned["job"]}) == empty
    assert store.list_perf_tasks(OTHER_ACCOUNT, {"TaskID": owned["task"]}) == empty
    assert store.list_services(OTHER_ACCOUNT, {}) == empty
    assert store.list_services(OTHER_ACCOUNT, {"ServiceName": "svc"}) == empty
    # The owner still sees everything.
    assert store.list_models(ACCOUNT, {})["Total"] == 1
    assert store.list_perf_tasks(ACCOUNT, {})["Total"] == 1


def test_next_version_without_model_is_per_request_not_per_account(store: Store, owned: Owned) -> None:
    assert store.get_model_next_version(OTHER_ACCOUNT, {}) == {"ModelVersion": 1}


def test_the_same_service_name_is_free_in_another_account(store: Store, owned: Owned) -> None:
    other_model, _ = register(store, OTHER_ACCOUNT)
    created = store.create_service(OTHER_ACCOUNT, service_body(other_model, 1, name="svc"))
    assert created["ServiceID"] != owned["service"]


def snapshot(store: Store) -> list[Any]:
    return [
        store.list_models(ACCOUNT, {}),
        [
            store.list_model_versions(ACCOUNT, {"ModelID": m["ModelID"]})
            for m in store.list_models(ACCOUNT, {})["List"]
        ],
        store.list_perf_jobs(ACCOUNT, {}),
        store.list_perf_tasks(ACCOUNT, {}),
        store.list_services(ACCOUNT, {}),
    ]
