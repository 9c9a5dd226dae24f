"""Builders shared by the store tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from mlp_server.errors import ApiError
from mlp_server.store import Store

ACCOUNT = 2100000050
OTHER_ACCOUNT = 2100000051
BASE_TIME = datetime(2021, 8, 12, 7, 7, 50, tzinfo=UTC)

PERF_TENSOR_CONFIG: dict[str, Any] = {
    "Inputs": [
        {
            "TensorName": "input:0",
            "DType": "FLOAT",
            "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]},
        }
    ]
}


class FakeClock:
    """The store's clock, set by the test: exact times, ties on purpose."""

    def __init__(self, start: datetime = BASE_TIME) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def lease_time_passes(store: Store, clock: FakeClock, seconds: float) -> None:
    """``seconds`` go by for the perf leases. SQLite judges them by the store's clock; PostgreSQL by its
    own, which a test cannot move, so there every lease is moved back by as much (what the database's
    clock moving on would do to them)."""
    clock.tick(seconds)
    if store.dialect == "postgresql":
        with store._engine.begin() as conn:
            conn.execute(
                text("UPDATE perf_tasks SET lease_expires = lease_expires - make_interval(secs => :s)"),
                {"s": seconds},
            )


def version_info(**overrides: Any) -> dict[str, Any]:
    """A VersionInfo; each call a fresh Path (CreateModel is idempotent by Path)."""
    info: dict[str, Any] = {
        "ModelFormat": "SavedModel",
        "ModelType": "TensorFlow:2.4",
        "Path": f"tos://bucket/m/{uuid.uuid4().hex}/",
    }
    info.update(overrides)
    return info


def register(
    store: Store,
    account_id: int = ACCOUNT,
    *,
    name: str = "model",
    model_id: str | None = None,
    **info: Any,
) -> tuple[str, int]:
    """CreateModel; returns (ModelID, ModelVersion)."""
    body: dict[str, Any] = {"ModelName": name, "VersionInfo": version_info(**info)}
    if model_id is not None:
        body["ModelID"] = model_id
    result = store.create_model(account_id, body)
    version = result["VersionInfo"]["ModelVersion"]
    assert result["VersionInfo"]["ModelVersionID"] == f"{result['ModelID']}-{version}"
    return result["ModelID"], version


def delete_version(store: Store, model_id: str, number: int) -> None:
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{number}"})


def race_deletes_and_registrations(
    writers: Sequence[Store], model_id: str, orders: tuple[Sequence[int], Sequence[int]], registrations: int
) -> list[int]:
    """Six workers on ``writers`` in turn: two delete the same versions (each in its own order of
    ``orders``; the one that loses a version gets NotFound), four register ``registrations`` new
    versions each. Returns the numbers deleted, one entry per version that went."""
    gone: list[int] = []

    def work(k: int) -> None:
        writer = writers[k % len(writers)]
        if k % 3 == 0:
            for number in orders[k // 3]:
                try:
                    delete_version(writer, model_id, number)
                    gone.append(number)
                except ApiError as error:  # the other deleter's
                    assert error.code == "NotFound"
        else:
            for _ in range(registrations):
                register(writer, model_id=model_id)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(work, range(6)))
    return gone


def perf_job(
    store: Store,
    model_version_id: str,
    flavors: list[str],
    account_id: int = ACCOUNT,
    job_type: str = "PERF_ONLY",
    **params: Any,
) -> dict[str, Any]:
    body = {
        "ModelVersionID": model_version_id,
        "TensorConfig": PERF_TENSOR_CONFIG,
        "JobType": job_type,
        "JobParamsList": [{"FlavorIDList": flavors, **params}],
    }
    return store.create_perf_job(account_id, body)


def task_ids(store: Store, job_id: str, account_id: int = ACCOUNT) -> list[str]:
    tasks = store.list_perf_tasks(account_id, {"JobID": job_id, "Limit": 1000, "SortOrder": "Ascend"})["List"]
    return [t["TaskID"] for t in tasks]


def service_body(model_id: str, version: int, name: str = "svc", **deployment: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Replicas": 1,
        "FlavorID": "ml.g1e.large",
        "Model": {"ModelID": model_id, "ModelVersionID": f"{model_id}-{version}"},
        "ImageID": "machinelearning/tfserving:tf-cuda10.1",
        "Envs": [{"Name": "A", "Value": "1"}],
    }
    spec.update(deployment)
    return {"ServiceName": name, "ServiceDeployment": spec}


def register_many(url: str, model_id: str, count: int) -> list[int]:
    """Register ``count`` versions through a Store of its own (run in threads and processes)."""
    store = Store(url)
    try:
        return [register(store, model_id=model_id)[1] for _ in range(count)]
    finally:
        store.close()


@contextmanager
def sent_statements(
    store: Store, keep: Callable[[str], bool] = lambda statement: True
) -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of every statement ``keep`` accepts that the store sends in the block."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if keep(statement):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


def source_task(store: Store, model_version_id: str, account_id: int = ACCOUNT) -> str:
    """A perf task of ``model_version_id``: the SourceId a version converted from it may name."""
    job = perf_job(store, model_version_id, ["ml.c1i.large"], account_id)
    return task_ids(store, job["JobID"], account_id)[0]
