"""Which tasks a worker claims. A worker on a machine without a GPU leaves GPU tasks to a worker with
one (a team); on one machine (SQLite), or once a GPU task has waited MLP_PERF_GPU_WAIT_SECONDS, it
takes the task and fails it plainly rather than letting it wait forever."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_server.store.resources import CATALOGUE
from mlp_server.workers import runner
from mlp_server.workers.loop import TEAM_GPU_WAIT_SECONDS, ClaimScope, Worker, WorkerOptions, claim_scope
from pg_testing import PgCluster

from . import models

ACCOUNT = 2100000050
CPU = tuple(f.id for f in CATALOGUE["CPU"])
GPU = tuple(f.id for group, flavors in CATALOGUE.items() if group != "CPU" for f in flavors)


def gpu_task_after_the_wait(url: str, store: Store, worker: Worker) -> dict[str, object]:
    """Two minutes go by (the store's clock judges the GPU wait); ``worker`` then claims the GPU task
    and runs it: the task's record after that."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE perf_tasks SET update_time = update_time - interval '121 seconds'"))
    engine.dispose()
    gpu_task = worker.claim()
    assert gpu_task is not None and gpu_task.flavor_id == "ml.g1e.large"
    worker.run_one(gpu_task, threading.Event())
    (task,) = store.list_perf_tasks(ACCOUNT, {"TaskID": gpu_task.task_id})["List"]
    return dict(task)


def test_the_claim_scope_by_machine_and_database() -> None:
    assert GPU and all(f.gpu_num > 0 for g, fs in CATALOGUE.items() if g != "CPU" for f in fs)
    everything = ClaimScope(None)
    assert claim_scope(True, "postgresql", None) == everything  # a GPU machine runs every flavor
    assert claim_scope(False, "sqlite", None) == everything  # one machine: fail GPU tasks at once
    assert claim_scope(False, "postgresql", 0) == everything  # as asked
    assert claim_scope(False, "postgresql", None) == ClaimScope(CPU, GPU, TEAM_GPU_WAIT_SECONDS)
    assert claim_scope(False, "sqlite", 30) == ClaimScope(CPU, GPU, 30)


@pytest.mark.skipif(
    runner.gpu_unusable() is None, reason="this machine has a GPU: its worker claims GPU tasks"
)
def test_a_team_worker_without_a_gpu_leaves_gpu_tasks_then_fails_one_that_waited(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.database("gpu")
    store = Store(url)
    worker = Worker(ServerSettings(tmp_path, database_url=url), WorkerOptions(gpu_wait_seconds=120))
    try:
        created = store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/m/"},
            },
        )
        job = store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": created["VersionInfo"]["ModelVersionID"],
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.g1e.large", "ml.c1i.large"]}],
            },
        )
        cpu_task = worker.claim()
        assert cpu_task is not None and cpu_task.flavor_id == "ml.c1i.large"
        assert store.finish_task(cpu_task.task_id, "Success", worker_id=worker.worker_id)
        assert worker.claim() is None  # the GPU task waits for a worker with a GPU
        task = gpu_task_after_the_wait(url, store, worker)
        assert (task["TaskStatus"], task["Message"]) == (
            "Failed",
            "flavor ml.g1e.large needs a GPU: no worker with a GPU claimed the task within 120 s "
            "(MLP_PERF_GPU_WAIT_SECONDS), and this worker's machine has none",
        )
        assert store.list_perf_jobs(ACCOUNT, {"JobID": job["JobID"]})["List"][0]["JobStatus"] == "Failed"
    finally:
        worker.store.close()
        store.close()


def test_a_gpu_without_a_cuda_provider_makes_no_gpu_worker(
    pg_cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine shows a GPU device but its onnxruntime (a CPU-only build) has no CUDA provider: the
    worker cannot run a GPU task, so it leaves GPU tasks to a worker that can for the wait, then fails
    one plainly, naming the missing provider, as a worker without a device does."""
    import onnxruntime

    monkeypatch.setattr(runner, "has_gpu", lambda: True)  # what the machine reports: a device
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    url = pg_cluster.database("gpu_no_cuda")
    store = Store(url)
    worker = Worker(ServerSettings(tmp_path, database_url=url), WorkerOptions(gpu_wait_seconds=120))
    try:
        assert worker.scope == ClaimScope(CPU, GPU, 120)
        created = store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/m/"},
            },
        )
        store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": created["VersionInfo"]["ModelVersionID"],
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.g1e.large"]}],
            },
        )
        assert worker.claim() is None  # left for a worker that can run on a GPU
        task = gpu_task_after_the_wait(url, store, worker)
        assert (task["TaskStatus"], task["Message"]) == (
            "Failed",
            "flavor ml.g1e.large needs a GPU: no worker with a GPU claimed the task within 120 s "
            "(MLP_PERF_GPU_WAIT_SECONDS), and this platform's onnxruntime has no CUDA provider "
            "(CUDAExecutionProvider)",
        )
    finally:
        worker.store.close()
        store.close()


def test_on_one_machine_a_gpu_without_a_cuda_provider_fails_gpu_tasks_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite (no other worker could take it): the GPU task is failed at once, naming the provider."""
    import onnxruntime

    monkeypatch.setattr(runner, "has_gpu", lambda: True)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    worker = Worker(ServerSettings(tmp_path), WorkerOptions())
    try:
        assert worker.scope == ClaimScope(None)
        created = worker.store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/m/"},
            },
        )
        worker.store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": created["VersionInfo"]["ModelVersionID"],
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.g1e.large"]}],
            },
        )
        gpu_task = worker.claim()
        assert gpu_task is not None
        worker.run_one(gpu_task, threading.Event())  # no runner is started for it
        (task,) = worker.store.list_perf_tasks(ACCOUNT, {"TaskID": gpu_task.task_id})["List"]
        assert (task["TaskStatus"], task["Message"]) == (
            "Failed",
            "flavor ml.g1e.large needs a GPU; this platform's onnxruntime has no CUDA provider "
            "(CUDAExecutionProvider)",
        )
    finally:
        worker.store.close()
