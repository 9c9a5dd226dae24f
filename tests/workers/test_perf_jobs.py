"""Perf and conversion tasks run for real by ``mlp worker`` processes: figures, conversions with lineage,
clear failures for bad models, a crashed runtime, cancel, and a killed worker's lease."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from mlp_server.workers.convert import TOLERANCES
from mlp_server.workers.measure import points

from . import models
from .conftest import Local

GPU_MESSAGE = "flavor ml.g1e.large needs a GPU; this platform has none"


def check_figures(result: dict[str, Any], batches: list[int]) -> None:
    assert result["ExecutionProvider"] == "CPUExecutionProvider"
    assert result["OnnxRuntimeVersion"] == ort.__version__
    assert result["CPUModel"] and result["PeakMemoryMiB"] > 10
    assert result["IntraOpThreads"] == min(result["FlavorVCPU"], len(os.sched_getaffinity(0)))
    assert [m["BatchSize"] for m in result["Measurements"]] == batches
    for m in result["Measurements"]:
        assert 0 < m["LatencyMsP50"] <= m["LatencyMsP90"] <= m["LatencyMsP99"]
        assert m["Iterations"] >= 10
        # throughput is what the timed loop did: runs / seconds, and single-stream runs cannot
        # overlap, so runs x mean latency fits in the measured time (and fills most of it)
        assert (
            abs(m["InferencesPerSecond"] - m["Iterations"] / m["MeasuredSeconds"])
            <= 0.02 * m["InferencesPerSecond"]
        )
        busy = m["InferencesPerSecond"] * m["LatencyMsMean"] / 1000
        assert 0.5 < busy <= 1.01, m
        assert (
            abs(m["SamplesPerSecond"] - m["InferencesPerSecond"] * m["BatchSize"])
            <= 0.01 * m["SamplesPerSecond"] + 0.01
        )


def perf_entries(
    local: Local, model_id: str, version: str, task_id: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    info = local.model.get_model_versions(model_id, version).to_dict()["Result"]["List"][0]
    return [
        (json.loads(m["Params"]), json.loads(m["MetricsData"]))
        for m in info.get("MetricsList", [])
        if m["MetricsType"] == "Perf" and json.loads(m["Params"])["TaskID"] == task_id
    ]


def test_perf_only_measures_each_model_and_refuses_a_gpu_flavor(local: Local, tmp_path: Path) -> None:
    cases = [
        (models.mlp(tmp_path / "mlp"), models.MLP_CONFIG, [1, 8]),
        (models.two_inputs(tmp_path / "two"), models.TWO_INPUTS_CONFIG, [2, 4]),
        (models.int64_ids(tmp_path / "ids"), models.INT64_CONFIG, [1, 3]),
    ]
    jobs = []
    for folder, config, batches in cases:
        model_id = local.register(folder)
        flavors = ["ml.c1i.large", "ml.g1e.large"] if folder.name == "mlp" else ["ml.c1i.xlarge"]
        jobs.append((model_id, local.job(model_id, config, flavors), batches))
    local.worker()
    for model_id, job_id, batches in jobs:
        done = local.model.wait_perf_job(job_id, timeout=180).to_dict()["Result"]["List"]
        for task in done:
            flavor = task["TaskArgs"]["FlavorID"]
            if flavor == "ml.g1e.large":  # never measured on a CPU and reported as a GPU's
                assert task["TaskStatus"] == "Failed" and task["Message"].startswith(GPU_MESSAGE), task
                assert "Result" not in task
                continue
            assert task["TaskStatus"] == "Success", (task, local.logs())
            result = task["Result"]
            check_figures(result, batches)
            assert (result["FlavorID"], result["Precision"], result["ModelVersionID"]) == (
                flavor,
                "FP32",
                f"{model_id}-1",
            )
            entries = perf_entries(local, model_id, "1", task["TaskID"])
            assert [(p["FlavorID"], p["BatchSize"], p["Precision"]) for p, _ in entries] == [
                (flavor, b, "FP32") for b in batches
            ]
            assert [d["LatencyMsP50"] for _, d in entries] == [
                m["LatencyMsP50"] for m in result["Measurements"]
            ]
    statuses = {
        job_id: local.model.list_perf_jobs(job_id=job_id).result.list_[0].job_status for _, job_id, _ in jobs
    }
    assert list(statuses.values()) == ["Failed", "Success", "Success"]  # the mlp job had the GPU task


def test_convert_perf_registers_fp16_and_int8_versions_with_lineage(local: Local, tmp_path: Path) -> None:
    source = models.mlp(tmp_path / "mlp")
    model_id = local.register(source)
    job_id = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"], ConvertPrecisionList=["FP16", "INT8"])
    local.worker()
    tasks = local.model.wait_perf_job(job_id, timeout=180).to_dict()["Result"]["List"]
    assert [t["TaskStatus"] for t in tasks] == ["Success", "Success"], (tasks, local.logs())
    reference = ort.InferenceSession(str(source / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = [p.feeds for p in points(models.MLP_CONFIG)]
    seen = set()
    for task in tasks:
        precision, result = task["TaskArgs"]["ConvertPrecision"], task["Result"]
        new_version_id = result["ModelVersionID"]
        assert new_version_id != f"{model_id}-1" and result["BaseModelVersionID"] == f"{model_id}-1"
        seen.add(new_version_id)
        number = new_version_id.rsplit("-", 1)[1]
        version = local.model.get_model_version(model_id, number).to_dict()["Result"]
        assert (version["SourceType"], version["BaseModelVersionID"], version["SourceId"]) == (
            "Perf",
            f"{model_id}-1",
            task["TaskID"],
        )
        assert version["ModelFormat"] == "ONNX"
        check_figures(result, [1, 8])
        assert [p["Precision"] for p, _ in perf_entries(local, model_id, number, task["TaskID"])] == [
            precision
        ] * 2
        assert perf_entries(local, model_id, "1", task["TaskID"]) == []  # measured on the new version
        # The registered files are the converted model: same inputs and outputs, close answers.
        files = local.model.download(model_id, number, str(tmp_path / f"got-{precision}"))
        (onnx_file,) = [f for f in files if f.suffix == ".onnx"]
        converted = onnx.load(str(onnx_file))
        kinds = {init.data_type for init in converted.graph.initializer}
        assert (onnx.TensorProto.FLOAT16 if precision == "FP16" else onnx.TensorProto.INT8) in kinds
        session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(float)"  # keep_io_types: same inputs as before
        tol = TOLERANCES[precision]
        for feed in feeds:
            (want,), (got,) = reference.run(None, feed), session.run(None, feed)
            scale = max(1.0, float(np.abs(want).max()))
            assert np.all(np.abs(got - want) <= tol.atol * scale + tol.rtol * np.abs(want))
        assert result["Check"]["MaxShape"]["Outputs"]["y"]["MaxAbsDiff"] >= 0
    assert len(seen) == 2
    assert local.model.get_model_versions(model_id).result.total == 3
    # PERF_ONLY of a converted version records the precision its model holds, not FP32.
    remeasured = {}
    for task in tasks:
        number = task["Result"]["ModelVersionID"].rsplit("-", 1)[1]
        job = local.model.create_perf_job(
            model_id, number, models.MLP_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}]
        )
        (done,) = local.model.wait_perf_job(job.result.job_id, timeout=180).to_dict()["Result"]["List"]
        assert done["TaskStatus"] == "Success", (done, local.logs())
        remeasured[task["TaskArgs"]["ConvertPrecision"]] = done["Result"]["Precision"]
        assert {p["Precision"] for p, _ in perf_entries(local, model_id, number, done["TaskID"])} == {
            task["TaskArgs"]["ConvertPrecision"]
        }
    assert remeasured == {"FP16": "FP16", "INT8": "INT8"}


def test_bad_models_fail_with_the_cause_and_the_worker_goes_on(local: Local, tmp_path: Path) -> None:
    mlp_id = local.register(models.mlp(tmp_path / "mlp"))
    two_id = local.register(models.two_inputs(tmp_path / "two"))
    torch_dir = tmp_path / "torch"
    torch_dir.mkdir()
    (torch_dir / "model.pt").write_bytes(b"PK\x03\x04 not really a TorchScript archive")
    cases = {
        "format": (local.register(torch_dir, "TorchScript"), models.MLP_CONFIG, {}),
        "not-onnx": (local.register(models.not_onnx(tmp_path / "garbage")), models.MLP_CONFIG, {}),
        "name": (mlp_id, models.config("input_ids", "FLOAT", [1, 16], [2, 16]), {}),
        "rank": (mlp_id, models.config("x", "FLOAT", [1, 16, 1], [2, 16, 1]), {}),
        "dtype": (
            two_id,
            {
                "Inputs": [
                    models.TWO_INPUTS_CONFIG["Inputs"][0],
                    {**models.TWO_INPUTS_CONFIG["Inputs"][1], "DType": "INT64"},
                ]
            },
            {},
        ),
        "fixed-dim": (mlp_id, models.config("x", "FLOAT", [1, 12], [2, 12]), {}),
        "missing-input": (two_id, {"Inputs": models.TWO_INPUTS_CONFIG["Inputs"][:1]}, {}),
        "run-time": (
            local.register(models.fails_at_run_time(tmp_path / "reshape")),
            models.config("x", "FLOAT", [2, 4], [2, 4]),
            {},
        ),
        "precision": (mlp_id, models.MLP_CONFIG, {"ConvertPrecisionList": ["BF16"]}),
        "convert-type": (
            mlp_id,
            models.MLP_CONFIG,
            {"ConvertType": "TensorRT", "ConvertPrecisionList": ["FP16"]},
        ),
    }
    jobs = {
        case: local.job(model_id, config, ["ml.c1i.large"], **params)
        for case, (model_id, config, params) in cases.items()
    }
    good = local.job(mlp_id, models.MLP_CONFIG, ["ml.c1i.large"])  # after every bad one
    worker = local.worker()
    expected = {
        "format": "ModelFormat TorchScript cannot run here: the local platform runs ONNX models",
        "not-onnx": "the ONNX model model.onnx does not load in onnxruntime",
        "name": (
            "TensorConfig input 'input_ids' is not an input of the model; "
            "the model's inputs are x (FLOAT, rank 2)"
        ),
        "rank": "TensorConfig input 'x' MinShape [1, 16, 1] has rank 3, the model expects rank 2",
        "dtype": "TensorConfig input 'mask' has DType INT64, the model expects INT32",
        "fixed-dim": "TensorConfig input 'x' MinShape [1, 12]: dimension 1 is 12, the model fixes it to 16",
        "missing-input": "TensorConfig has no input 'mask'",
        "run-time": "onnxruntime failed to run the model:",
        "precision": (
            "ConvertPrecision 'BF16' is not supported here; the local platform converts to FP16, INT8"
        ),
        "convert-type": "ConvertType 'TensorRT' is not available",
    }
    for case, job_id in jobs.items():
        (task,) = local.model.wait_perf_job(job_id, timeout=120).to_dict()["Result"]["List"]
        assert task["TaskStatus"] == "Failed", (case, task)
        assert task["Message"].startswith(expected[case]), (case, task["Message"])
    (task,) = local.model.wait_perf_job(good, timeout=120).to_dict()["Result"]["List"]
    assert task["TaskStatus"] == "Success", (task, local.logs())
    assert worker.alive()
    assert local.model.get_model_versions(mlp_id).result.total == 1  # no failed conversion registered


def test_a_crashed_runtime_fails_its_task_and_cancel_stops_a_running_one(
    local: Local, tmp_path: Path
) -> None:
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    crash = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"])
    cancel = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"])
    after = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"])
    worker = local.worker(measure="60")  # long enough to catch each task running
    (crash_task,) = local.tasks(crash)
    local.wait_status(crash_task["TaskID"], {"Running"})
    deadline = time.monotonic() + 30
    while not worker.runners() and time.monotonic() < deadline:
        time.sleep(0.05)
    (runner,) = worker.runners()
    os.kill(runner, signal.SIGSEGV)  # what a crashing native runtime does
    failed = local.wait_status(crash_task["TaskID"], {"Failed"}, timeout=10)
    assert failed["Message"].startswith("the runtime crashed (killed by SIGSEGV) while running the task"), (
        failed
    )
    assert worker.alive()

    (cancel_task,) = local.tasks(cancel)
    local.wait_status(cancel_task["TaskID"], {"Running"})
    time.sleep(1.0)  # well into the task
    asked = time.monotonic()
    local.model.cancel_perf_job(cancel)
    done = local.wait_status(cancel_task["TaskID"], {"Cancelled"}, timeout=5)
    # A second or two on an idle machine (the worker polls every 0.2 s and kills the runner); the
    # bound leaves room for a loaded CI machine and still fails if the 60 s measurement ran on.
    assert time.monotonic() - asked < 5, done
    assert local.model.list_perf_jobs(job_id=cancel).result.list_[0].job_status == "Cancelled"
    (next_task,) = local.tasks(after)
    local.wait_status(next_task["TaskID"], {"Running"}, timeout=30)  # the worker went on to the next
    local.model.cancel_perf_job(after)
    local.wait_status(next_task["TaskID"], {"Cancelled"}, timeout=5)
    assert worker.alive()


def test_a_killed_workers_task_goes_to_the_next_worker_after_its_lease(local: Local, tmp_path: Path) -> None:
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    job_id = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"])
    (task,) = local.tasks(job_id)
    first = local.worker(lease=2.0, measure="60")
    local.wait_status(task["TaskID"], {"Running"})
    deadline = time.monotonic() + 30
    while not first.runners() and time.monotonic() < deadline:
        time.sleep(0.05)
    orphan = first.runners()[0]
    first.kill()  # SIGKILL: no chance to hand the task back
    killed_at = time.monotonic()
    # Once its lease has expired, with no other worker yet, the task reads as it is: waiting.
    waiting = local.wait_status(task["TaskID"], {"Queued"}, timeout=30)
    assert "its worker stopped" in waiting["Message"] and time.monotonic() - killed_at >= 1.0
    assert local.model.list_perf_jobs(job_id=job_id).result.list_[0].job_status == "Running"
    second = local.worker(lease=2.0)
    done = local.model.wait_perf_job(job_id, timeout=120).to_dict()["Result"]["List"][0]
    assert done["TaskStatus"] == "Success", (done, local.logs())
    assert done["Result"]["Attempt"] == 2  # run again from the start by the second worker
    assert time.monotonic() - killed_at >= 1.5  # not before the lease expired
    assert (
        not Path(f"/proc/{orphan}").exists() or "zombie" in Path(f"/proc/{orphan}/status").read_text().lower()
    )
    assert second.alive()
    assert len(perf_entries(local, model_id, "1", task["TaskID"])) == 2  # the rerun did not add twice


def test_a_pool_worker_stops_when_its_owner_is_killed(local: Local) -> None:
    local.model.list_models()  # the platform exists (schema, keys)
    owner_script = (
        "import os, subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-m', 'mlp_server.workers', '--data-dir', sys.argv[1],"
        " '--owner-pid', str(os.getpid())])\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", owner_script, str(local.data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    worker_pid = int(owner.stdout.readline())
    time.sleep(1.0)
    assert Path(f"/proc/{worker_pid}").exists()
    owner.kill()  # SIGKILL: the owner cannot stop its worker itself
    owner.wait()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{worker_pid}").exists(), "the worker outlived its owner"
