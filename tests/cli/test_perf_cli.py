"""Perf jobs from the command line, run for real: ``mlp perf create --wait`` on the embedded platform
(the ``mlp`` process starts its own worker) and on ``mlp serve --perf-workers 1``; a job left unfinished
when its process exits is handed back and finished by the next process that runs work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_testing import MlpServe

from ._support import EXAMPLE, Peer, clean_env

PERF_CONFIG = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [8, 4]}}
    ]
}
FAST = {"MLP_PERF_MEASURE_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def perf_embedded(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    root = tmp_path_factory.mktemp("cli-perf-embedded")
    data_dir = root / "platform"
    return Peer("embedded", clean_env(root, VOLC_ML_PLATFORM_DATA_DIR=str(data_dir), **FAST), data_dir)


@pytest.fixture(scope="module")
def perf_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("cli-perf-served")
    server = MlpServe(root / "platform", env=clean_env(root, **FAST), perf_workers=1).start()
    creds = json.loads((server.data_dir / "credentials.json").read_text(encoding="utf-8"))
    env = {
        **server.env,
        "VOLC_ML_PLATFORM_ENDPOINT": server.url,
        "VOLC_ACCESSKEY": creds["ak"],
        "VOLC_SECRETKEY": creds["sk"],
    }
    try:
        yield Peer("served", env, server.data_dir, server.url)
    finally:
        server.stop()


@pytest.fixture(params=["perf_embedded", "perf_served"])
def perf_peer(request: pytest.FixtureRequest) -> Peer:
    peer: Peer = request.getfixturevalue(request.param)
    return peer


def register(peer: Peer, name: str) -> str:
    done = peer.run(
        "models", "register", str(EXAMPLE), "--name", name, "--format", "ONNX", "--type", "ONNX:1.23"
    )
    return done.ok().kv()["ModelID"]


def test_perf_create_wait_prints_the_figures(perf_peer: Peer) -> None:
    model_id = register(perf_peer, "iris-cli-perf")
    create = ("perf", "create", model_id, "1", "--tensor-config", json.dumps(PERF_CONFIG))
    table = perf_peer.run(*create, "--flavor", "ml.c1i.large", "--wait", timeout=180).ok().table()
    (row,) = table.rows
    assert row["STATUS"] == "Success" and row["FLAVOR"] == "ml.c1i.large", table
    assert row["VERSION"] == f"{model_id}-1"
    p50 = dict(pair.split(":") for pair in row["BATCH:P50 MS"].split())
    assert set(p50) == {"1", "8"} and all(float(v) > 0 for v in p50.values()), row

    # JSON: the ListPerfTasks envelope; a GPU flavor fails (exit 1) and says why
    failed = perf_peer.run(*create, "--flavor", "ml.g1e.large", "--wait", "-o", "json", timeout=180)
    assert failed.code == 1, failed
    (task,) = failed.envelope("ListPerfTasks")["List"]
    assert task["TaskStatus"] == "Failed"
    assert task["Message"].startswith("flavor ml.g1e.large needs a GPU; this platform has none")
    assert "ended with tasks Failed" in failed.err

    shown = perf_peer.run("-o", "json", "versions", "show", model_id, "1").ok().json()["Result"]
    perf = [json.loads(m["Params"]) for m in shown["MetricsList"] if m["MetricsType"] == "Perf"]
    assert {(p["FlavorID"], p["BatchSize"], p["Precision"]) for p in perf} == {
        ("ml.c1i.large", 1, "FP32"),
        ("ml.c1i.large", 8, "FP32"),
    }


def test_a_job_unfinished_at_exit_is_finished_by_the_next_process(
    perf_embedded: Peer, tmp_path: Path
) -> None:
    model_id = register(perf_embedded, "iris-cli-handback")
    # A Python process creates a long job on the embedded platform and exits while it runs: its worker
    # is stopped at exit and hands the task back.
    script = f"""
import sys, time
from volcengine_ml_platform.models.model import Model
model = Model()
params = [{{"FlavorIDList": ["ml.c1i.large"]}}]
job = model.create_perf_job({model_id!r}, "1", {PERF_CONFIG!r}, "PERF_ONLY", params)
job_id = job.result.job_id
print(job_id, flush=True)
deadline = time.monotonic() + 60
while model.list_perf_tasks(job_id=job_id).result.list_[0].task_status != "Running":
    assert time.monotonic() < deadline
    time.sleep(0.05)
time.sleep(1.0)
"""
    env = {**perf_embedded.env, "MLP_PERF_MEASURE_SECONDS": "60"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 60  # it did not wait for the 60-second measurement
    job_id = done.stdout.strip()
    tasks = (
        perf_embedded.run("-o", "json", "perf", "tasks", "--job-id", job_id).ok().envelope("ListPerfTasks")
    )
    assert [t["TaskStatus"] for t in tasks["List"]] == ["Queued"]  # handed back, nothing runs it now
    leftover = [
        pid for pid in os.listdir("/proc") if pid.isdigit() and _is_worker_of(pid, perf_embedded.data_dir)
    ]
    assert leftover == []  # the exiting process took its worker (and runner) with it
    waited = (
        perf_embedded.run("-o", "json", "perf", "wait", job_id, timeout=180).ok().envelope("ListPerfTasks")
    )
    (task,) = waited["List"]
    assert task["TaskStatus"] == "Success" and task["Result"]["Attempt"] == 2, task


def _is_worker_of(pid: str, data_dir: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "mlp_server.workers" in argv and str(data_dir) in argv


def test_perf_create_without_wait_on_the_embedded_platform_says_what_runs_the_job(
    perf_embedded: Peer, perf_served: Peer
) -> None:
    """An ``mlp`` command ends at once and runs no perf work: without --wait, the embedded platform's job
    stays Submitted until something runs work on the folder. The command says so, naming the command
    that runs it; a served platform runs it itself, so there is nothing to say."""
    create = ("perf", "create", "iris-cli-nowait", "1", "--tensor-config", json.dumps(PERF_CONFIG))
    register(perf_embedded, "iris-cli-nowait")
    created = perf_embedded.run(*create, "--flavor", "ml.c1i.large").ok()
    job_id = created.kv()["JobID"]
    tasks = (
        perf_embedded.run("-o", "json", "perf", "tasks", "--job-id", job_id).ok().envelope("ListPerfTasks")
    )
    assert [t["TaskStatus"] for t in tasks["List"]] == ["Submitted"]  # nothing ran it
    assert f"`mlp perf wait {job_id}`" in created.err, created
    assert f"mlp serve --data-dir {perf_embedded.data_dir}" in created.err, created
    as_json = perf_embedded.run("-o", "json", *create, "--flavor", "ml.c1i.large").ok()
    assert as_json.json()["Result"]["JobID"].startswith("pj-") and "mlp perf wait" in as_json.err
    waited = perf_embedded.run("perf", "wait", job_id, timeout=180).ok().table()
    assert [row["STATUS"] for row in waited.rows] == ["Success"], waited

    register(perf_served, "iris-cli-nowait")
    served = perf_served.run(*create, "--flavor", "ml.c1i.large").ok()
    assert "note" not in served.err, served
