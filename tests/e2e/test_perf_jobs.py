"""Perf jobs that really run, through the documented ``Model`` API: on the embedded platform (its
worker process started on demand) and on ``mlp serve --perf-workers 1``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_testing import MlpServe, clean_env, read_default_keys

from .conftest import _embedded_peer
from .helpers import Api, Peer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"
IRIS_PERF_CONFIG = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [16, 4]}}
    ]
}
FAST = {"MLP_PERF_MEASURE_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def perf_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("perf-embedded")
    peer = _embedded_peer("perf-embedded", root / "platform", root / "home", MLP_PERF_WORKERS="1", **FAST)
    yield peer
    peer.close()


@pytest.fixture(scope="module")
def perf_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("perf-served")
    server = MlpServe(root / "platform", env=clean_env(root / "home", **FAST), perf_workers=1).start()
    try:
        peer = Peer("perf-http", server.data_dir, server.url, read_default_keys(server.data_dir))
        yield peer
        peer.close()
    finally:
        server.stop()


@pytest.fixture(params=["perf_embedded", "perf_http"])
def perf_peer(request: pytest.FixtureRequest, api: Api) -> Peer:
    peer: Peer = request.getfixturevalue(request.param)
    return peer.using(api)


def test_a_perf_job_runs_and_its_figures_land_on_the_version(perf_peer: Peer) -> None:
    model = perf_peer.model()
    registered = model.register(
        str(EXAMPLE), model_name="iris-perf", model_format="ONNX", model_type="ONNX:1.23"
    )
    model_id = registered.result.model_id
    job = model.create_perf_job(
        model_id,
        "1",
        IRIS_PERF_CONFIG,
        "CONVERT_PERF",
        [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
    )
    assert job["Result"]["JobStatus"] == "Submitted"  # answered at once; the work runs elsewhere
    perf = model.create_perf_job(
        model_id, "1", IRIS_PERF_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.xlarge"]}]
    )
    converted = model.wait_perf_job(job.result.job_id, timeout=180)
    (task,) = converted.result.list_
    assert task.task_status == "Success", task
    new_version = task["Result"]["ModelVersionID"]
    measured = model.wait_perf_job(perf.result.job_id, timeout=180).result.list_[0]
    assert measured.task_status == "Success", measured
    assert model.list_perf_jobs(job_id=perf.result.job_id).result.list_[0].job_status == "Success"

    versions = {
        v["ModelVersionID"]: v for v in model.get_model_versions(model_id).to_dict()["Result"]["List"]
    }
    assert set(versions) == {f"{model_id}-1", new_version}
    lineage = versions[new_version]
    assert (lineage["SourceType"], lineage["BaseModelVersionID"], lineage["SourceId"]) == (
        "Perf",
        f"{model_id}-1",
        task.task_id,
    )
    for version_id, task_id, precision, flavor in (
        (f"{model_id}-1", measured.task_id, "FP32", "ml.c1i.xlarge"),
        (new_version, task.task_id, "FP16", "ml.c1i.large"),
    ):
        entries = [m for m in versions[version_id]["MetricsList"] if m["MetricsType"] == "Perf"]
        params = [json.loads(m["Params"]) for m in entries]
        assert [(p["TaskID"], p["FlavorID"], p["Precision"], p["BatchSize"]) for p in params] == [
            (task_id, flavor, precision, 1),
            (task_id, flavor, precision, 16),
        ]
        data = [json.loads(m["MetricsData"]) for m in entries]
        assert all(0 < d["LatencyMsP50"] <= d["LatencyMsP99"] for d in data)


def test_waiting_for_an_unknown_job_is_not_found(perf_peer: Peer) -> None:
    from volcengine_ml_platform.errors import NotFoundError

    with pytest.raises(NotFoundError):
        perf_peer.model().wait_perf_job("pj-20200101000000-zzzzz", timeout=1)


def test_wait_times_out_naming_the_job(perf_embedded: Peer, api: Api) -> None:
    model = perf_embedded.using(api).model()
    model_id = model.register(
        str(EXAMPLE), model_name=f"iris-wait-{api}", model_format="ONNX", model_type="ONNX:1.23"
    ).result.model_id
    job = model.create_perf_job(
        model_id, "1", IRIS_PERF_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}]
    )
    with pytest.raises(TimeoutError, match=f"perf job {job.result.job_id} not finished after 0s: 0 of 1"):
        model.wait_perf_job(job.result.job_id, timeout=0)
    assert model.wait_perf_job(job.result.job_id, timeout=180).result.list_[0].task_status == "Success"


def _children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads started them."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return sorted(found)


def test_mlp_serve_replaces_a_worker_that_died(tmp_path: Path) -> None:
    server = MlpServe(tmp_path / "platform", env=clean_env(tmp_path / "home", **FAST), perf_workers=2).start()
    try:
        assert server.proc is not None
        deadline = time.monotonic() + 30
        while len(workers := _children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(server.proc.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        assert workers[1] in now and len(now) == 2 and workers[0] not in now, now
        peer = Peer("pool", server.data_dir, server.url, read_default_keys(server.data_dir))
        model = peer.model()
        model_id = model.register(
            str(EXAMPLE), model_name="iris-pool", model_format="ONNX", model_type="ONNX:1.23"
        )
        job = model.create_perf_job(
            model_id.result.model_id, "1", IRIS_PERF_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}]
        )
        assert model.wait_perf_job(job.result.job_id, timeout=180).result.list_[0].task_status == "Success"
        peer.close()
    finally:
        server.stop()
    assert all(not Path(f"/proc/{pid}").exists() for pid in now)  # stopping the server stopped its workers
