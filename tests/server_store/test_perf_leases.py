"""Claims with a lease: a worker holds a task while it renews; a dead worker's task goes to the next
claimer once the lease expires; a stopping worker hands its task back; only the holder ends it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mlp_server.store import Store

from .helpers import ACCOUNT, FakeClock, lease_time_passes, perf_job, register, task_ids


@pytest.fixture
def version_id(store: Store) -> str:
    model_id, _ = register(store)
    return f"{model_id}-1"


def status_of(store: Store, task_id: str) -> str:
    return str(store.list_perf_tasks(ACCOUNT, {"TaskID": task_id})["List"][0]["TaskStatus"])


def test_a_claimed_task_is_held_until_its_lease_expires(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    perf_job(store, version_id, ["ml.c1i.large"])
    first = store.claim_next_task(worker_id="w1", lease_seconds=10)
    assert first is not None and first.attempt == 1
    lease_time_passes(store, clock, 9)
    assert store.claim_next_task(worker_id="w2", lease_seconds=10) is None  # still w1's
    lease_time_passes(store, clock, 2)  # w1 went silent: its lease has expired
    waiting = store.list_perf_tasks(ACCOUNT, {"TaskID": first.task_id})["List"][0]
    assert waiting["TaskStatus"] == "Queued"  # nothing runs it until a worker claims it again
    assert waiting["Message"].startswith("its worker stopped (lease expired ")
    assert waiting["Message"].endswith("); waiting for a worker to claim it again")
    assert store.list_perf_jobs(ACCOUNT, {"JobID": first.job_id})["List"][0]["JobStatus"] == "Running"
    again = store.claim_next_task(worker_id="w2", lease_seconds=10)
    assert again is not None and again.task_id == first.task_id and again.attempt == 2
    assert status_of(store, first.task_id) == "Running"
    # w1 comes back too late: it can neither renew nor end the task; w2 can.
    assert store.renew_lease(first.task_id, "w1", 10) is None
    assert store.finish_task(first.task_id, "Success", {"x": 1}, worker_id="w1") is False
    assert status_of(store, first.task_id) == "Running"
    assert store.finish_task(first.task_id, "Success", {"x": 2}, worker_id="w2") is True
    task = store.list_perf_tasks(ACCOUNT, {"TaskID": first.task_id})["List"][0]
    assert (task["TaskStatus"], task["Result"]) == ("Success", {"x": 2})


def test_renewing_keeps_the_task_and_reports_a_cancel(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    perf_job(store, version_id, ["ml.c1i.large"])
    claimed = store.claim_next_task(worker_id="w1", lease_seconds=10)
    assert claimed is not None
    for _ in range(3):
        lease_time_passes(store, clock, 8)
        assert store.renew_lease(claimed.task_id, "w1", 10) == "Running"
        held = store.list_perf_tasks(ACCOUNT, {"TaskID": claimed.task_id})["List"][0]
        assert (held["TaskStatus"], held.get("Message")) == ("Running", None)
    assert store.claim_next_task(worker_id="w2", lease_seconds=10) is None
    store.cancel_perf_task(ACCOUNT, {"TaskID": claimed.task_id})
    assert store.renew_lease(claimed.task_id, "w1", 10) == "Stopping"
    assert store.finish_task(claimed.task_id, "Cancelled", worker_id="w1")
    assert status_of(store, claimed.task_id) == "Cancelled"


def test_a_stopping_task_whose_worker_died_ends_cancelled(
    store: Store, version_id: str, clock: FakeClock
) -> None:
    perf_job(store, version_id, ["ml.c1i.large"])
    claimed = store.claim_next_task(worker_id="w1", lease_seconds=5)
    assert claimed is not None
    store.cancel_perf_task(ACCOUNT, {"TaskID": claimed.task_id})
    lease_time_passes(store, clock, 6)
    stopping = store.list_perf_tasks(ACCOUNT, {"TaskID": claimed.task_id})["List"][0]
    assert stopping["TaskStatus"] == "Stopping"  # no worker has looked for work since ...
    assert stopping["Message"].startswith("its worker stopped before confirming the cancel")
    assert store.claim_next_task(worker_id="w2") is None  # nothing to run ...
    assert status_of(store, claimed.task_id) == "Cancelled"  # ... and the cancel is complete


def test_a_released_task_waits_for_the_next_worker(store: Store, version_id: str, clock: FakeClock) -> None:
    job = perf_job(store, version_id, ["ml.c1i.large"])
    claimed = store.claim_next_task(worker_id="w1", lease_seconds=30)
    assert claimed is not None
    assert store.release_task(claimed.task_id, "w2") is False  # not w2's
    assert store.release_task(claimed.task_id, "w1") is True
    assert status_of(store, claimed.task_id) == "Queued"
    assert store.list_perf_jobs(ACCOUNT, {"JobID": job["JobID"]})["List"][0]["JobStatus"] == "Running"
    again = store.claim_next_task(worker_id="w2")  # at once, no lease to wait for
    assert again is not None and again.task_id == claimed.task_id and again.attempt == 2


def test_a_success_reported_after_a_cancel_ends_cancelled(store: Store, version_id: str) -> None:
    perf_job(store, version_id, ["ml.c1i.large"])
    claimed = store.claim_next_task(worker_id="w1")
    assert claimed is not None
    store.cancel_perf_task(ACCOUNT, {"TaskID": claimed.task_id})
    assert store.finish_task(claimed.task_id, "Success", {"x": 1}, worker_id="w1")
    task = store.list_perf_tasks(ACCOUNT, {"TaskID": claimed.task_id})["List"][0]
    assert task["TaskStatus"] == "Cancelled" and "cancelled" in task["Message"]


def test_perf_metrics_are_added_once_per_task(store: Store, version_id: str) -> None:
    job = perf_job(store, version_id, ["ml.c1i.large", "ml.c1i.xlarge"])
    first, second = task_ids(store, job["JobID"])
    mine = {"MetricsType": "ImageClassification", "Params": "{}", "MetricsData": '{"accuracy": 0.9}'}
    store.update_model_version(ACCOUNT, {"ModelVersionID": version_id, "MetricsList": [mine]})

    def entry(task: str, p50: float) -> dict[str, str]:
        return {
            "MetricsType": "Perf",
            "Params": json.dumps({"TaskID": task, "BatchSize": 1}),
            "MetricsData": json.dumps({"LatencyMsP50": p50}),
        }

    store.add_perf_metrics(ACCOUNT, version_id, first, [entry(first, 1.0)])
    store.add_perf_metrics(ACCOUNT, version_id, second, [entry(second, 2.0)])
    store.add_perf_metrics(ACCOUNT, version_id, first, [entry(first, 3.0)])  # a rerun replaces its own
    metrics = store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})["MetricsList"]
    assert metrics == [mine, entry(second, 2.0), entry(first, 3.0)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_leases_are_judged_by_the_databases_clock_not_each_machines(db_url: str) -> None:
    """Two worker machines whose clocks disagree by more than a lease: the one 40 s ahead does not take
    a task just claimed and renewed by the other, and the one 40 s behind still takes a task whose
    lease has run out."""
    behind = FakeClock()
    ahead = FakeClock(behind.now + timedelta(seconds=40))
    a, b = Store(db_url, clock=behind), Store(db_url, clock=ahead)
    try:
        model_id, _ = register(a)
        perf_job(a, f"{model_id}-1", ["ml.c1i.large"])
        first = a.claim_next_task(worker_id="w-a", lease_seconds=30)
        assert first is not None
        assert a.renew_lease(first.task_id, "w-a", 30) == "Running"
        assert b.claim_next_task(worker_id="w-b", lease_seconds=30) is None
        lease_time_passes(b, ahead, 31)  # w-a went silent
        again = a.claim_next_task(worker_id="w-a2", lease_seconds=30)
        assert again is not None and (again.task_id, again.attempt) == (first.task_id, 2)
    finally:
        a.close()
        b.close()
