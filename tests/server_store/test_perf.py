"""Perf jobs: task fan-out, the task state machine, cancelling, the derived job status, the worker side."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import FLAVOR_IDS, Store
from mlp_server.store.task_states import TRANSITIONS, job_status

from .helpers import ACCOUNT, PERF_TENSOR_CONFIG, FakeClock, lease_time_passes, perf_job, register, task_ids

STATUSES = ["Submitted", "Queued", "Running", "Stopping", "Success", "Failed", "Cancelled"]
VALID = {
    ("Submitted", "Queued"),
    ("Submitted", "Running"),
    ("Submitted", "Cancelled"),
    ("Submitted", "Failed"),
    ("Queued", "Running"),
    ("Queued", "Cancelled"),
    ("Queued", "Failed"),
    ("Running", "Success"),
    ("Running", "Failed"),
    ("Running", "Stopping"),
    ("Stopping", "Cancelled"),
    ("Stopping", "Failed"),
}
# How a fresh (Submitted) task reaches each status along valid transitions.
PATH = {
    "Submitted": [],
    "Queued": ["Queued"],
    "Running": ["Running"],
    "Stopping": ["Running", "Stopping"],
    "Success": ["Running", "Success"],
    "Failed": ["Failed"],
    "Cancelled": ["Cancelled"],
}


@pytest.fixture
def version_id(store: Store) -> str:
    model_id, _ = register(store)
    return f"{model_id}-1"


def one_task(store: Store, version_id: str) -> str:
    job = perf_job(store, version_id, ["ml.c1i.large"])
    return task_ids(store, job["JobID"])[0]


def drive(store: Store, task_id: str, status: str) -> None:
    for step in PATH[status]:
        store.update_perf_task(ACCOUNT, {"TaskID": task_id, "Status": step})


def status_of(store: Store, task_id: str) -> str:
    return str(store.list_perf_tasks(ACCOUNT, {"TaskID": task_id})["List"][0]["TaskStatus"])


def job_of(store: Store, job_id: str) -> dict[str, Any]:
    listed = store.list_perf_jobs(ACCOUNT, {"JobID": job_id})["List"]
    assert len(listed) == 1
    return dict(listed[0])


def test_the_state_machine_is_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == VALID


@pytest.mark.parametrize(("current", "target"), sorted(VALID))
def test_valid_transition_is_accepted(store: Store, version_id: str, current: str, target: str) -> None:
    task_id = one_task(store, version_id)
    drive(store, task_id, current)
    assert store.update_perf_task(ACCOUNT, {"TaskID": task_id, "Status": target}) == {"TaskID": task_id}
    assert status_of(store, task_id) == target


@pytest.mark.parametrize(
    ("current", "target"), [pair for pair in itertools.product(STATUSES, STATUSES) if pair not in VALID]
)
def test_invalid_transition_is_rejected(store: Store, version_id: str, current: str, target: str) -> None:
    task_id = one_task(store, version_id)
    drive(store, task_id, current)
    with pytest.raises(ApiError) as caught:
        store.update_perf_task(ACCOUNT, {"TaskID": task_id, "Status": target})
    assert caught.value.code == "InvalidStateTransition"
    assert caught.value.status == 409
    message = caught.value.message
    assert f"from {current} to {target}" in message
    allowed = [b for a, b in sorted(VALID) if a == current]
    assert all(name in message for name in allowed) if allowed else "terminal" in message
    assert status_of(store, task_id) == current


def test_update_without_status_changes_nothing(store: Store, version_id: str) -> None:
    task_id = one_task(store, version_id)
    assert store.update_perf_task(ACCOUNT, {"TaskID": task_id}) == {"TaskID": task_id}
    assert status_of(store, task_id) == "Submitted"


def test_unknown_status_is_invalid_parameter(store: Store, version_id: str) -> None:
    task_id = one_task(store, version_id)
    with pytest.raises(ApiError) as caught:
        store.update_perf_task(ACCOUNT, {"TaskID": task_id, "Status": "Done"})
    assert caught.value.code == "InvalidParameter"


@pytest.mark.parametrize(
    ("current", "after"),
    [("Submitted", "Cancelled"), ("Queued", "Cancelled"), ("Running", "Stopping"), ("Stopping", "Stopping")],
)
def test_cancel_task(store: Store, version_id: str, current: str, after: str) -> None:
    task_id = one_task(store, version_id)
    drive(store, task_id, current)
    assert store.cancel_perf_task(ACCOUNT, {"TaskID": task_id}) == {"TaskID": task_id}
    assert status_of(store, task_id) == after


@pytest.mark.parametrize("current", ["Success", "Failed", "Cancelled"])
def test_cancelling_an_ended_task_is_refused(store: Store, version_id: str, current: str) -> None:
    task_id = one_task(store, version_id)
    drive(store, task_id, current)
    with pytest.raises(ApiError) as caught:
        store.cancel_perf_task(ACCOUNT, {"TaskID": task_id})
    assert caught.value.code == "InvalidStateTransition"
    assert current in caught.value.message


def test_cancel_job_cancels_every_unfinished_task(store: Store, version_id: str) -> None:
    job = perf_job(store, version_id, list(FLAVOR_IDS))
    tasks = task_ids(store, job["JobID"])
    start = ["Submitted", "Queued", "Running", "Stopping", "Success"]
    for task_id, status in zip(tasks, start, strict=True):
        drive(store, task_id, status)
    assert store.cancel_perf_job(ACCOUNT, {"JobID": job["JobID"]}) == {"JobID": job["JobID"]}
    assert [status_of(store, t) for t in tasks] == [
        "Cancelled",
        "Cancelled",
        "Stopping",
        "Stopping",
        "Success",
    ]
    listed = job_of(store, job["JobID"])
    assert (listed["JobStatus"], listed["TaskCount"], listed["EndedTaskCount"]) == ("Running", 5, 3)
    # The worker acknowledges the stops; the job has then ended, cancelled.
    for task_id in tasks[2:4]:
        store.finish_task(task_id, "Cancelled")
    listed = job_of(store, job["JobID"])
    assert (listed["JobStatus"], listed["EndedTaskCount"]) == ("Cancelled", 5)
    with pytest.raises(ApiError) as caught:
        store.cancel_perf_job(ACCOUNT, {"JobID": job["JobID"]})
    assert caught.value.code == "InvalidStateTransition"


@pytest.mark.parametrize(
    ("statuses", "expected", "ended"),
    [
        (["Submitted", "Submitted"], "Submitted", 0),
        (["Queued", "Submitted"], "Running", 0),
        (["Running", "Running"], "Running", 0),
        (["Running", "Success"], "Running", 1),
        (["Stopping", "Cancelled"], "Running", 1),
        (["Submitted", "Success"], "Running", 1),
        (["Success", "Success"], "Success", 2),
        (["Success", "Cancelled"], "Cancelled", 2),
        (["Cancelled", "Cancelled"], "Cancelled", 2),
        (["Cancelled", "Failed"], "Failed", 2),
        (["Success", "Failed", "Cancelled"], "Failed", 3),
    ],
)
def test_job_status_derives_from_tasks(
    store: Store, version_id: str, statuses: list[str], expected: str, ended: int
) -> None:
    job = perf_job(store, version_id, list(FLAVOR_IDS[: len(statuses)]))
    for task_id, status in zip(task_ids(store, job["JobID"]), statuses, strict=True):
        drive(store, task_id, status)
    listed = job_of(store, job["JobID"])
    assert (listed["JobStatus"], listed["TaskCount"], listed["EndedTaskCount"]) == (
        expected,
        len(statuses),
        ended,
    )
    assert job_status(dict.fromkeys(statuses, 1)) == expected


def test_create_perf_job_result(store: Store, version_id: str, clock: FakeClock) -> None:
    params = [{"FlavorIDList": ["ml.g1e.large"]}]
    job = store.create_perf_job(
        ACCOUNT,
        {
            "ModelVersionID": version_id,
            "TensorConfig": PERF_TENSOR_CONFIG,
            "JobType": "PERF_ONLY",
            "JobParamsList": params,
        },
    )
    fields = "JobID ModelVersionID TensorConfig TensorConfigID JobParamsList JobType JobStatus CreateTime"
    assert set(job) == set(fields.split())
    assert job["JobID"].startswith("pj-20210812070750-") and job["TensorConfigID"].startswith(
        "t-20210812070750-"
    )
    assert (job["ModelVersionID"], job["TensorConfig"], job["JobParamsList"]) == (
        version_id,
        PERF_TENSOR_CONFIG,
        params,
    )
    assert (job["JobType"], job["JobStatus"], job["CreateTime"]) == (
        "PERF_ONLY",
        "Submitted",
        "2021-08-12T07:07:50+00:00",
    )
    [task] = store.list_perf_tasks(ACCOUNT, {"JobID": job["JobID"]})["List"]
    assert task["TaskID"].startswith("pf-20210812070750-")
    assert task == {
        "TaskID": task["TaskID"],
        "JobID": job["JobID"],
        "ModelVersionID": version_id,
        "TaskArgs": {
            "TaskType": "PERF_ONLY",
            "FlavorID": "ml.g1e.large",
            "ConvertType": "base",
            "ConvertPrecision": "base",
        },
        "TaskStatus": "Submitted",
        "CreateTime": "2021-08-12T07:07:50+00:00",
    }


def task_args(store: Store, job_id: str) -> list[tuple[str, str, str, str]]:
    tasks = store.list_perf_tasks(ACCOUNT, {"JobID": job_id, "Limit": 100})["List"]
    return sorted(
        (a["TaskType"], a["FlavorID"], a["ConvertType"], a["ConvertPrecision"])
        for a in (t["TaskArgs"] for t in tasks)
    )


def test_convert_perf_fans_out_per_flavor_and_precision(store: Store, version_id: str) -> None:
    body = {
        "ModelVersionID": version_id,
        "TensorConfig": PERF_TENSOR_CONFIG,
        "JobType": "CONVERT_PERF",
        "JobParamsList": [
            {
                "FlavorIDList": ["ml.g1e.large", "ml.c1i.large"],
                "ConvertType": "TensorRT",
                "ConvertPrecisionList": ["FP32", "FP16", "INT8"],
            },
            {"FlavorIDList": ["ml.g1e.xlarge"]},
        ],
    }
    job = store.create_perf_job(ACCOUNT, body)
    assert task_args(store, job["JobID"]) == sorted(
        [
            ("CONVERT_PERF", f, "TensorRT", p)
            for f in ("ml.g1e.large", "ml.c1i.large")
            for p in ("FP32", "FP16", "INT8")
        ]
        + [("CONVERT_PERF", "ml.g1e.xlarge", "base", "base")]
    )
    assert job_of(store, job["JobID"])["TaskCount"] == 7


def test_perf_only_makes_one_task_per_flavor(store: Store, version_id: str) -> None:
    job = perf_job(store, version_id, ["ml.c1i.large", "ml.g1e.large"], ConvertPrecisionList=["FP16", "INT8"])
    assert task_args(store, job["JobID"]) == [
        ("PERF_ONLY", "ml.c1i.large", "base", "base"),
        ("PERF_ONLY", "ml.g1e.large", "base", "base"),
    ]


def test_unknown_flavor_is_not_found_and_creates_nothing(store: Store, version_id: str) -> None:
    with pytest.raises(ApiError) as caught:
        perf_job(store, version_id, ["ml.c1i.large", "ml.x9.huge"])
    assert (caught.value.code, caught.value.status) == ("NotFound", 404)
    assert "ml.x9.huge" in caught.value.message
    assert all(flavor in caught.value.message for flavor in FLAVOR_IDS)
    assert store.list_perf_jobs(ACCOUNT, {})["Total"] == 0
    assert store.list_perf_tasks(ACCOUNT, {})["Total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"JobType": "PERF_AND_MORE", "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}]},
        {"JobType": "PERF_ONLY", "JobParamsList": [{"FlavorIDList": []}]},
        {"JobType": "PERF_ONLY", "JobParamsList": []},
    ],
)
def test_a_job_needs_a_type_and_a_flavor(store: Store, version_id: str, body: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        store.create_perf_job(
            ACCOUNT, {"ModelVersionID": version_id, "TensorConfig": PERF_TENSOR_CONFIG, **body}
        )
    assert caught.value.code == "InvalidParameter"


def test_a_job_needs_an_existing_version(store: Store, version_id: str) -> None:
    with pytest.raises(ApiError) as caught:
        perf_job(store, version_id[:-1] + "7", ["ml.c1i.large"])
    assert caught.value.code == "NotFound"


def test_jobs_outlive_their_model(store: Store, version_id: str) -> None:
    job = perf_job(store, version_id, ["ml.c1i.large"])
    store.delete_model(ACCOUNT, {"ModelID": version_id.rsplit("-", 1)[0]})
    assert job_of(store, job["JobID"])["ModelVersionID"] == version_id


def test_claim_takes_the_oldest_submitted_task(store: Store, version_id: str, clock: FakeClock) -> None:
    first = perf_job(store, version_id, ["ml.c1i.large"])
    clock.tick()
    second = perf_job(store, version_id, ["ml.g1e.large"])
    claimed = store.claim_next_task()
    assert claimed is not None
    assert (claimed.job_id, claimed.account_id, claimed.model_version_id) == (
        first["JobID"],
        ACCOUNT,
        version_id,
    )
    assert (claimed.task_type, claimed.flavor_id, claimed.tensor_config) == (
        "PERF_ONLY",
        "ml.c1i.large",
        PERF_TENSOR_CONFIG,
    )
    assert status_of(store, claimed.task_id) == "Running"
    assert store.claim_next_task(flavor_ids=["ml.c1i.large"]) is None
    later = store.claim_next_task(flavor_ids=["ml.g1e.large"])
    assert later is not None and later.job_id == second["JobID"]
    assert store.claim_next_task() is None


def test_a_flavor_claimed_after_a_wait_is_taken_only_once_its_task_has_waited(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    """A team worker without a GPU: CPU tasks at once, a GPU task only after it waited 600 s (for a
    worker with a GPU), however old it is compared with the CPU tasks."""
    gpu_job = perf_job(store, version_id, ["ml.g1e.large"])
    clock.tick()
    cpu_job = perf_job(store, version_id, ["ml.c1i.large"])

    def claim() -> str | None:
        claimed = store.claim_next_task(
            ["ml.c1i.large"], worker_id="cpu", waited_flavor_ids=["ml.g1e.large"], waited_seconds=600
        )
        if claimed is None:
            return None
        store.finish_task(claimed.task_id, "Success", worker_id="cpu")
        return claimed.job_id

    assert claim() == cpu_job["JobID"]
    assert claim() is None
    clock.tick(598)
    assert claim() is None  # waited 599 s
    clock.tick(1)
    assert claim() == gpu_job["JobID"]


def test_a_gpu_task_whose_worker_died_waits_again_from_the_end_of_its_lease(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    """A GPU task that ran longer than the wait, then lost its GPU worker, is not "waited" already: a
    worker without a GPU takes it only after it waited that long for another GPU worker."""
    perf_job(store, version_id, ["ml.g1e.large"])
    gpu = store.claim_next_task(None, worker_id="gpu", lease_seconds=30)
    assert gpu is not None
    for _ in range(70):  # it runs for 700 s, renewing its lease
        lease_time_passes(store, clock, 10)
        assert store.renew_lease(gpu.task_id, "gpu", 30) == "Running"
    lease_time_passes(store, clock, 31)  # the GPU machine died; its lease ran out a second ago

    def cpu_claim() -> str | None:
        claimed = store.claim_next_task(
            ["ml.c1i.large"], worker_id="cpu", waited_flavor_ids=["ml.g1e.large"], waited_seconds=600
        )
        return None if claimed is None else claimed.task_id

    assert cpu_claim() is None
    lease_time_passes(store, clock, 590)
    assert cpu_claim() is None  # waited 591 s since its lease ran out
    lease_time_passes(store, clock, 10)
    assert cpu_claim() == gpu.task_id


def test_finish_task_records_the_outcome(store: Store, version_id: str) -> None:
    task_id = one_task(store, version_id)
    claimed = store.claim_next_task()
    assert claimed is not None and claimed.task_id == task_id
    assert store.task_status(task_id) == "Running"
    store.finish_task(task_id, "Success", {"QPS": 120.5, "LatencyMs": {"P99": 9}}, "ok")
    [task] = store.list_perf_tasks(ACCOUNT, {"TaskID": task_id})["List"]
    assert (task["TaskStatus"], task["Result"], task["Message"]) == (
        "Success",
        {"QPS": 120.5, "LatencyMs": {"P99": 9}},
        "ok",
    )
    assert store.task_status("pf-20210812070750-none0") is None


def test_finish_task_follows_the_state_machine(store: Store, version_id: str) -> None:
    task_id = one_task(store, version_id)
    with pytest.raises(ApiError) as caught:
        store.finish_task(task_id, "Running")
    assert caught.value.code == "InvalidParameter"
    with pytest.raises(ApiError) as caught:
        store.finish_task(task_id, "Success")  # never ran
    assert caught.value.code == "InvalidStateTransition"
    with pytest.raises(ApiError) as caught:
        store.finish_task("pf-20210812070750-none0", "Failed")
    assert caught.value.code == "NotFound"


def test_concurrent_workers_claim_each_task_once(store: Store, version_id: str) -> None:
    for _ in range(4):
        perf_job(store, version_id, list(FLAVOR_IDS))

    def work(_: int) -> list[str]:
        claimed: list[str] = []
        while (task := store.claim_next_task()) is not None:
            claimed.append(task.task_id)
        return claimed

    with ThreadPoolExecutor(4) as pool:
        claimed = [t for batch in pool.map(work, range(4)) for t in batch]
    assert len(claimed) == len(set(claimed)) == 20
    assert store.list_perf_tasks(ACCOUNT, {"Limit": 100})["Total"] == 20


def test_workers_with_their_own_connections_claim_each_task_once(
    store: Store, version_id: str, db_url: str
) -> None:
    # As worker processes would: each its own Store (engine, pool, connections) on the same database.
    for _ in range(4):
        perf_job(store, version_id, list(FLAVOR_IDS))

    def work(_: int) -> list[str]:
        worker = Store(db_url)
        try:
            claimed: list[str] = []
            while (task := worker.claim_next_task()) is not None:
                claimed.append(task.task_id)
            return claimed
        finally:
            worker.close()

    with ThreadPoolExecutor(4) as pool:
        claimed = [t for batch in pool.map(work, range(4)) for t in batch]
    assert len(claimed) == len(set(claimed)) == 20


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_skips_a_task_another_worker_holds_locked(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    # FOR UPDATE SKIP LOCKED: a worker does not wait for (nor take) the task another one is claiming.
    (oldest,) = task_ids(store, perf_job(store, version_id, ["ml.c1i.large"])["JobID"])
    clock.tick()
    (newer,) = task_ids(store, perf_job(store, version_id, ["ml.g1e.large"])["JobID"])
    with store.engine.connect() as other:
        other.exec_driver_sql("SET lock_timeout = '5s'")
        locked = other.exec_driver_sql(
            "SELECT id FROM perf_tasks WHERE status = 'Submitted' ORDER BY create_time, id LIMIT 1 FOR UPDATE"
        ).scalar_one()
        assert locked == oldest
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(store.claim_next_task)
            try:
                claimed = waiting.result(timeout=10)  # a claim that waited for the lock would time out
            finally:
                other.rollback()
        assert claimed is not None and claimed.task_id == newer
    claimed = store.claim_next_task()
    assert claimed is not None and claimed.task_id == oldest
