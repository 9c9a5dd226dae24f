"""Perf jobs and tasks, the flavor catalogue and inference services through the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from .helpers import (
    CPU_FLAVORS,
    GPU_FLAVORS,
    PERF_TENSOR_CONFIG,
    Api,
    LiveServer,
    error_of,
    perf_job_body,
    service_body,
)

OTHER_ACCOUNT = 2100000009


@pytest.fixture
def version(server: LiveServer, admin: Api) -> tuple[str, str]:
    """(ModelID, ModelVersionID) of a registered version of the default account."""
    path = server.upload(admin.account_id, "modelrepo/perf/1")
    created = admin.register(path, name="perf-model", ModelType="TensorFlow:2.4")
    return created["ModelID"], created["VersionInfo"]["ModelVersionID"]


def create_job(api: Api, version_id: str, *flavors: str) -> str:
    """A PERF_ONLY job on these flavors (default: one); returns its JobID."""
    params = {"FlavorIDList": list(flavors or CPU_FLAVORS[:1])}
    job_id: str = api.ok("CreatePerfJob", perf_job_body(version_id, "PERF_ONLY", params))["JobID"]
    return job_id


def tasks_of(api: Api, job_id: str) -> list[dict[str, Any]]:
    return api.list_all("ListPerfTasks", JobID=job_id, SortOrder="Ascend")


def job_of(api: Api, job_id: str) -> dict[str, Any]:
    [job] = api.list_all("ListPerfJobs", JobID=job_id)
    return job


def statuses(api: Api, job_id: str) -> list[str]:
    return [t["TaskStatus"] for t in tasks_of(api, job_id)]


def update(api: Api, task_id: str, status: str) -> None:
    assert api.ok("UpdatePerfTask", {"TaskID": task_id, "Status": status}) == {"TaskID": task_id}


def refused(api: Api, action: str, body: dict[str, Any], status: int, code: str) -> str:
    got_status, got_code, message = error_of(api.call(action, body))
    assert (got_status, got_code) == (status, code), message
    return message


# ---------------------------------------------------------------------------------------------------
# Perf jobs: fan-out


def test_perf_only_job_has_one_submitted_task_per_flavor(admin: Api, version: tuple[str, str]) -> None:
    flavors = [CPU_FLAVORS[0], CPU_FLAVORS[2], GPU_FLAVORS[0]]
    job = admin.ok("CreatePerfJob", perf_job_body(version[1], "PERF_ONLY", {"FlavorIDList": flavors}))
    assert job["JobID"].startswith("pj-") and job["TensorConfigID"].startswith("t-")
    assert (job["ModelVersionID"], job["JobType"], job["JobStatus"]) == (version[1], "PERF_ONLY", "Submitted")
    assert job["JobParamsList"] == [{"FlavorIDList": flavors}]
    assert job["TensorConfig"] == PERF_TENSOR_CONFIG

    tasks = tasks_of(admin, job["JobID"])
    assert sorted(t["TaskArgs"]["FlavorID"] for t in tasks) == sorted(flavors)
    for task in tasks:
        assert task["TaskID"].startswith("pf-")
        assert (task["JobID"], task["ModelVersionID"], task["TaskStatus"]) == (
            job["JobID"],
            version[1],
            "Submitted",
        )
        assert task["TaskArgs"]["TaskType"] == "PERF_ONLY"
        assert (task["TaskArgs"]["ConvertType"], task["TaskArgs"]["ConvertPrecision"]) == ("base", "base")
    listed = job_of(admin, job["JobID"])
    assert (listed["JobStatus"], listed["TaskCount"], listed["EndedTaskCount"]) == ("Submitted", 3, 0)


def test_convert_perf_job_has_one_task_per_flavor_and_precision(admin: Api, version: tuple[str, str]) -> None:
    body = perf_job_body(
        version[1],
        "CONVERT_PERF",
        {
            "FlavorIDList": list(CPU_FLAVORS[:2]),
            "ConvertType": "TensorRT",
            "ConvertPrecisionList": ["FP16", "INT8"],
        },
        {"FlavorIDList": [GPU_FLAVORS[0]]},  # no precisions: one task of precision "base"
    )
    job = admin.ok("CreatePerfJob", body)
    assert job["JobType"] == "CONVERT_PERF" and job["JobStatus"] == "Submitted"
    combos = sorted(
        (t["TaskArgs"]["FlavorID"], t["TaskArgs"]["ConvertType"], t["TaskArgs"]["ConvertPrecision"])
        for t in tasks_of(admin, job["JobID"])
    )
    assert combos == sorted(
        [
            (CPU_FLAVORS[0], "TensorRT", "FP16"),
            (CPU_FLAVORS[0], "TensorRT", "INT8"),
            (CPU_FLAVORS[1], "TensorRT", "FP16"),
            (CPU_FLAVORS[1], "TensorRT", "INT8"),
            (GPU_FLAVORS[0], "base", "base"),
        ]
    )
    assert {t["TaskStatus"] for t in tasks_of(admin, job["JobID"])} == {"Submitted"}
    assert {t["TaskArgs"]["TaskType"] for t in tasks_of(admin, job["JobID"])} == {"CONVERT_PERF"}
    assert job_of(admin, job["JobID"])["TaskCount"] == 5


def test_perf_job_with_an_unknown_flavor_or_version_is_refused(admin: Api, version: tuple[str, str]) -> None:
    body = perf_job_body(version[1], "PERF_ONLY", {"FlavorIDList": ["ml.nope.large"]})
    assert "JobParamsList[0].FlavorIDList" in refused(admin, "CreatePerfJob", body, 404, "NotFound")
    refused(admin, "CreatePerfJob", perf_job_body(f"{version[0]}-99"), 404, "NotFound")
    assert admin.ok("ListPerfJobs", {}) == {"Total": 0, "List": []}


IMPOSSIBLE_RANGES = {
    "min above max": (
        {"MinShape": [8, 4], "MaxShape": [1, 4]},
        "TensorConfig.Inputs[0].Shape.MinShape: [8, 4] exceeds MaxShape [1, 4] in dimension 0",
    ),
    "ranks differ": (
        {"MinShape": [1], "MaxShape": [8, 4, 4]},
        "TensorConfig.Inputs[0].Shape.MinShape: [1] has 1 dimension(s), MaxShape [8, 4, 4] has 3",
    ),
    "dynamic dim": (
        {"MinShape": [-1, 4], "MaxShape": [8, 4]},
        "TensorConfig.Inputs[0].Shape.MinShape[0]: -1 is less than the minimum of 0",
    ),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE_RANGES))
def test_a_shape_range_no_job_can_measure_is_refused_at_create_time(
    admin: Api, version: tuple[str, str], case: str
) -> None:
    """Knowable from the request alone, so refused then, not accepted and failed later by the worker."""
    shape, says = IMPOSSIBLE_RANGES[case]
    body = perf_job_body(version[1])
    body["TensorConfig"] = {"Inputs": [{"TensorName": "input", "DType": "FLOAT", "Shape": shape}]}
    assert refused(admin, "CreatePerfJob", body, 400, "InvalidParameter").startswith(says)
    assert admin.ok("ListPerfJobs", {"ModelVersionID": version[1]})["Total"] == 0


def test_perf_jobs_are_listed_by_version_and_id(
    server: LiveServer, admin: Api, version: tuple[str, str]
) -> None:
    other_version = admin.register(server.upload(admin.account_id, "modelrepo/perf/2"))["VersionInfo"]
    first = create_job(admin, version[1])
    second = create_job(admin, version[1])
    third = create_job(admin, other_version["ModelVersionID"])
    assert {j["JobID"] for j in admin.list_all("ListPerfJobs", ModelVersionID=version[1])} == {first, second}
    assert [j["JobID"] for j in admin.list_all("ListPerfJobs", JobID=third)] == [third]
    page = admin.ok("ListPerfJobs", {"Limit": 2, "Offset": 0, "SortOrder": "Ascend"})
    assert page["Total"] == 3 and len(page["List"]) == 2
    task = tasks_of(admin, first)[0]["TaskID"]
    assert [t["TaskID"] for t in admin.list_all("ListPerfTasks", TaskID=task)] == [task]


# ---------------------------------------------------------------------------------------------------
# Perf tasks: the state machine, and the job status that follows it


def test_valid_transitions_pass_and_the_job_follows(admin: Api, version: tuple[str, str]) -> None:
    job_id = create_job(admin, version[1], *CPU_FLAVORS)
    a, b, c = (t["TaskID"] for t in tasks_of(admin, job_id))

    # Without Status nothing changes.
    assert admin.ok("UpdatePerfTask", {"TaskID": a}) == {"TaskID": a}
    assert job_of(admin, job_id)["JobStatus"] == "Submitted"

    update(admin, a, "Queued")
    assert job_of(admin, job_id)["JobStatus"] == "Running"
    update(admin, a, "Running")
    update(admin, a, "Success")
    update(admin, b, "Running")
    update(admin, b, "Stopping")
    update(admin, b, "Failed")
    job = job_of(admin, job_id)
    assert (job["JobStatus"], job["TaskCount"], job["EndedTaskCount"]) == ("Running", 3, 2)

    update(admin, c, "Failed")  # Submitted -> Failed is allowed too
    job = job_of(admin, job_id)
    assert (job["JobStatus"], job["EndedTaskCount"]) == ("Failed", 3)
    assert statuses(admin, job_id) == ["Success", "Failed", "Failed"]


def test_all_tasks_successful_make_a_successful_job(admin: Api, version: tuple[str, str]) -> None:
    job_id = create_job(admin, version[1], *GPU_FLAVORS)
    for task in tasks_of(admin, job_id):
        update(admin, task["TaskID"], "Running")
        update(admin, task["TaskID"], "Success")
    job = job_of(admin, job_id)
    assert (job["JobStatus"], job["TaskCount"], job["EndedTaskCount"]) == ("Success", 2, 2)
    message = refused(admin, "CancelPerfJob", {"JobID": job_id}, 409, "InvalidStateTransition")
    assert job_id in message


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "Success"),  # Submitted -> Success
        ([], "Stopping"),  # Submitted -> Stopping
        ([], "Submitted"),  # no self-transition
        (["Queued"], "Submitted"),
        (["Running"], "Queued"),
        (["Running", "Success"], "Running"),  # terminal
        (["Cancelled"], "Queued"),  # terminal
        (["Running", "Stopping"], "Success"),
    ],
)
def test_an_invalid_transition_is_409(
    admin: Api, version: tuple[str, str], path: list[str], target: str
) -> None:
    job_id = create_job(admin, version[1])
    [task] = tasks_of(admin, job_id)
    for status in path:
        update(admin, task["TaskID"], status)
    before = statuses(admin, job_id)
    message = refused(
        admin, "UpdatePerfTask", {"TaskID": task["TaskID"], "Status": target}, 409, "InvalidStateTransition"
    )
    assert task["TaskID"] in message
    assert statuses(admin, job_id) == before


def test_cancel_perf_job_cancels_the_unfinished_tasks(admin: Api, version: tuple[str, str]) -> None:
    flavors = [*CPU_FLAVORS, GPU_FLAVORS[0]]
    job_id = create_job(admin, version[1], *flavors)
    submitted, queued, running, done = (t["TaskID"] for t in tasks_of(admin, job_id))
    update(admin, queued, "Queued")
    update(admin, running, "Running")
    update(admin, done, "Running")
    update(admin, done, "Success")

    assert admin.ok("CancelPerfJob", {"JobID": job_id}) == {"JobID": job_id}

    by_id = {t["TaskID"]: t["TaskStatus"] for t in tasks_of(admin, job_id)}
    # Waiting tasks end at once, a running one is asked to stop, a finished one stays.
    assert by_id == {submitted: "Cancelled", queued: "Cancelled", running: "Stopping", done: "Success"}
    job = job_of(admin, job_id)
    assert (job["JobStatus"], job["TaskCount"], job["EndedTaskCount"]) == ("Running", 4, 3)

    update(admin, running, "Cancelled")  # the worker ends the stopping task
    job = job_of(admin, job_id)
    assert (job["JobStatus"], job["EndedTaskCount"]) == ("Cancelled", 4)
    refused(admin, "CancelPerfJob", {"JobID": job_id}, 409, "InvalidStateTransition")


def test_cancel_perf_task(admin: Api, version: tuple[str, str]) -> None:
    job_id = create_job(admin, version[1], *CPU_FLAVORS[:2])
    waiting, running = (t["TaskID"] for t in tasks_of(admin, job_id))
    update(admin, running, "Running")
    assert admin.ok("CancelPerfTask", {"TaskID": waiting}) == {"TaskID": waiting}
    assert admin.ok("CancelPerfTask", {"TaskID": running}) == {"TaskID": running}
    assert statuses(admin, job_id) == ["Cancelled", "Stopping"]
    admin.ok("CancelPerfTask", {"TaskID": running})  # already stopping: nothing more to do
    refused(admin, "CancelPerfTask", {"TaskID": waiting}, 409, "InvalidStateTransition")
    refused(admin, "CancelPerfTask", {"TaskID": "pf-20210914105554-zzzzz"}, 404, "NotFound")
    refused(admin, "CancelPerfJob", {"JobID": "pj-20210914105554-zzzzz"}, 404, "NotFound")


def test_perf_objects_are_invisible_to_another_account(
    admin: Api, version: tuple[str, str], new_account: Callable[..., Api]
) -> None:
    job_id = create_job(admin, version[1])
    [task] = tasks_of(admin, job_id)
    other = new_account(OTHER_ACCOUNT)
    assert other.ok("ListPerfJobs", {}) == {"Total": 0, "List": []}
    assert other.ok("ListPerfTasks", {"JobID": job_id}) == {"Total": 0, "List": []}
    refused(other, "UpdatePerfTask", {"TaskID": task["TaskID"], "Status": "Queued"}, 404, "NotFound")
    refused(other, "CancelPerfJob", {"JobID": job_id}, 404, "NotFound")
    assert statuses(admin, job_id) == ["Submitted"]


# ---------------------------------------------------------------------------------------------------
# The flavor catalogue


def flavor_ids(result: dict[str, Any]) -> list[str]:
    return [flavor["Id"] for flavors in result["List"].values() for flavor in flavors]


def test_list_resource_lists_the_local_flavors(admin: Api) -> None:
    result = admin.ok("ListResource", {})
    assert set(result["List"]) == {"CPU", "GPU"}
    assert flavor_ids(result) == [*CPU_FLAVORS, *GPU_FLAVORS]
    for group in result["List"].values():
        for flavor in group:
            assert flavor["Name"] == flavor["Id"]
            assert isinstance(flavor["vCPU"], int) and isinstance(flavor["GPUNum"], int)
            assert isinstance(flavor["Memory"], int) and flavor["Memory"] >= 1024  # MiB, as documented
    assert {f["GPUNum"] for f in result["List"]["GPU"]} == {1}
    assert {f["GPUNum"] for f in result["List"]["CPU"]} == {0}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Name": GPU_FLAVORS[0]}, [GPU_FLAVORS[0]]),
        ({"Name": "ml.g1e"}, []),
        ({"NameContains": "XLARGE"}, ["ml.c1i.xlarge", "ml.c1i.2xlarge", "ml.g1e.xlarge"]),
        ({"Type": "GPU"}, list(GPU_FLAVORS)),
        ({"Tag": "cpu"}, list(CPU_FLAVORS)),
        ({"Offset": 2, "Limit": 2}, [CPU_FLAVORS[2], GPU_FLAVORS[0]]),
    ],
)
def test_list_resource_filters(admin: Api, body: dict[str, Any], expected: list[str]) -> None:
    assert flavor_ids(admin.ok("ListResource", body)) == expected


@pytest.mark.parametrize(
    ("body", "total"),
    [
        ({}, len(CPU_FLAVORS + GPU_FLAVORS)),
        ({"Offset": 2, "Limit": 2}, len(CPU_FLAVORS + GPU_FLAVORS)),
        ({"Type": "GPU", "Limit": 1}, len(GPU_FLAVORS)),
        ({"Name": "ml.g1e"}, 0),
    ],
)
def test_list_resource_total_counts_every_matching_flavor(
    admin: Api, body: dict[str, Any], total: int
) -> None:
    """As the document says: ``Total`` counts all matching flavors, not only the page's."""
    result = admin.ok("ListResource", body)
    assert result["Total"] == total, result


# ---------------------------------------------------------------------------------------------------
# Services


def service_status(api: Api, service_id: str) -> str:
    status: str = api.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]["Status"]
    return status


def wait_status(api: Api, service_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    """The deployment once the serving supervisor has brought it to ``wanted``."""
    deadline = time.monotonic() + timeout
    while True:
        deployment: dict[str, Any] = api.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]
        if deployment["Status"] == wanted or time.monotonic() > deadline:
            assert deployment["Status"] == wanted, deployment
            return deployment
        time.sleep(0.05)


def test_service_lifecycle(admin: Api, version: tuple[str, str]) -> None:
    model_id, version_id = version
    body = service_body(model_id, version_id, name="svc-life", Envs=[{"Name": "MODE", "Value": "fast"}])
    service_id = admin.ok("CreateService", body)["ServiceID"]

    got = admin.ok("GetService", {"ServiceID": service_id})
    assert (got["ServiceID"], got["ServiceName"]) == (service_id, "svc-life")
    deployment = got["ServiceDeployment"]
    assert deployment["Model"] == {
        "ModelID": model_id,
        "ModelVersionID": version_id,
        "Version": "1",
        "Type": "TensorFlow:2.4",
        "Path": deployment["Model"]["Path"],
        "Name": "perf-model",
    }
    assert deployment["Model"]["Path"].startswith("tos://")
    assert deployment["Replicas"] == 1
    # The version holds no ONNX model: the supervisor says so rather than leaving it Pending.
    assert deployment["Status"] in ("Pending", "Deploying", "Failed")
    failed = wait_status(admin, service_id, "Failed")
    assert "no .onnx file" in failed["StatusMessage"] and failed["EndpointURL"] == ""
    assert deployment["Envs"] == [{"Name": "MODE", "Value": "fast"}]
    assert (deployment["FlavorID"], deployment["ImageID"]) == (
        "ml.g1e.large",
        "machinelearning/tfserving:tf-cuda10.1",
    )

    assert admin.ok("StopService", {"ServiceID": service_id}) == {"ServiceID": service_id}
    assert service_status(admin, service_id) == "Stopped"
    assert admin.ok("StartService", {"ServiceID": service_id}) == {"ServiceID": service_id}
    assert service_status(admin, service_id) in ("Pending", "Deploying", "Failed")
    wait_status(admin, service_id, "Failed")

    scale = {"ServiceID": service_id, "Replicas": 3, "ChangeType": "ScalingService"}
    assert admin.ok("UpdateService", scale) == {"ServiceID": service_id}
    assert admin.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]["Replicas"] == 3

    # A renamed model shows its new name.
    admin.ok("UpdateModel", {"ModelID": model_id, "ModelName": "renamed"})
    assert (
        admin.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]["Model"]["Name"] == "renamed"
    )

    assert admin.ok("DeleteService", {"ServiceID": service_id}) == {"ServiceID": service_id}
    for action in ("GetService", "StartService", "StopService", "DeleteService"):
        refused(admin, action, {"ServiceID": service_id}, 404, "NotFound")
    assert admin.ok("ListServices", {}) == {"Total": 0, "List": []}


def test_list_services_filters(admin: Api, version: tuple[str, str]) -> None:
    model_id, version_id = version
    ids = {name: admin.ok("CreateService", service_body(model_id, version_id, name=name))["ServiceID"]
           for name in ("alpha-one", "alpha-two", "beta")}  # fmt: skip
    assert {s["ServiceID"] for s in admin.list_all("ListServices")} == set(ids.values())
    assert [s["ServiceID"] for s in admin.list_all("ListServices", ServiceName="beta")] == [ids["beta"]]
    assert {s["ServiceName"] for s in admin.list_all("ListServices", ServiceNameContains="ALPHA")} == {
        "alpha-one",
        "alpha-two",
    }
    [listed] = admin.list_all("ListServices", ServiceName="alpha-one")
    assert listed == admin.ok("GetService", {"ServiceID": ids["alpha-one"]})


def test_create_service_checks_its_references(
    server: LiveServer, admin: Api, version: tuple[str, str]
) -> None:
    model_id, version_id = version
    admin.ok("CreateService", service_body(model_id, version_id, name="taken"))
    refused(admin, "CreateService", service_body(model_id, version_id, name="taken"), 409, "Conflict")
    unknown_flavor = service_body(model_id, version_id, name="x", FlavorID="ml.nope.large")
    assert "ServiceDeployment.FlavorID" in refused(admin, "CreateService", unknown_flavor, 404, "NotFound")
    # A ModelID that is not the version's (no such model, or another of the account's models: found by
    # the schemathesis run, whose pool paired one model's id with another's version) names a version
    # that model does not have: a reference to what does not exist is 404 NotFound (the document's
    # rule; 400 is for what the schema rejects), naming the field.
    other_model = admin.register(server.upload(admin.account_id, "modelrepo/perf/2"), name="other")["ModelID"]
    for wrong in ("m-20210812150750-w54j6", other_model):
        message = refused(admin, "CreateService", service_body(wrong, version_id, name="y"), 404, "NotFound")
        assert "ServiceDeployment.Model.ModelID" in message and version_id in message, message
    refused(admin, "CreateService", service_body(model_id, f"{model_id}-99", name="z"), 404, "NotFound")
    assert [s["ServiceName"] for s in admin.list_all("ListServices")] == ["taken"]


def test_a_tenant_cannot_ask_one_machine_for_unbounded_replicas(
    server: LiveServer, new_account: Callable[..., Api]
) -> None:
    """Replicas is at most 100 per service, but 20 such services would be 2,000 local processes: the
    default budget (16 per account, MLP_MAX_REPLICAS_PER_ACCOUNT) refuses each, saying what is left."""
    tenant = new_account(2100000555)
    created = tenant.register(server.upload(tenant.account_id, "modelrepo/budget/1"), name="m")
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
    for i in range(20):
        body = service_body(model_id, version_id, name=f"svc{i}", Replicas=100)
        message = refused(tenant, "CreateService", body, 409, "Conflict")
        assert message.startswith("Replicas: 100 "), message
        assert "budget is 16 (MLP_MAX_REPLICAS_PER_ACCOUNT), live services hold 0, 16 left" in message
    assert tenant.ok("ListServices", {}) == {"Total": 0, "List": []}
    tenant.ok("CreateService", service_body(model_id, version_id, name="fits", Replicas=16))


def test_services_are_invisible_to_another_account(
    admin: Api, version: tuple[str, str], new_account: Callable[..., Api]
) -> None:
    service_id = admin.ok("CreateService", service_body(*version, name="private"))["ServiceID"]
    other = new_account(OTHER_ACCOUNT)
    assert other.ok("ListServices", {}) == {"Total": 0, "List": []}
    assert other.ok("ListServices", {"ServiceName": "private"}) == {"Total": 0, "List": []}
    for action, body in [
        ("GetService", {"ServiceID": service_id}),
        ("StartService", {"ServiceID": service_id}),
        ("StopService", {"ServiceID": service_id}),
        ("UpdateService", {"ServiceID": service_id, "Replicas": 5, "ChangeType": "ScalingService"}),
        ("DeleteService", {"ServiceID": service_id}),
    ]:
        refused(other, action, body, 404, "NotFound")
    # Nor can it deploy the default account's version.
    refused(other, "CreateService", service_body(*version, name="mine-now"), 404, "NotFound")
    got = admin.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]
    assert got["Replicas"] == 1 and got["Status"] in ("Pending", "Deploying", "Failed")
