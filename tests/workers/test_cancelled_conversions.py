"""A conversion cancelled (or failed) after it registered its new version, while measuring it: the
version goes (its objects too) and the task's Message says so; one that cannot go (a service was
deployed of it meanwhile) stays, and the Message names it and says why."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_server.settings import ServerSettings
from mlp_server.store import ClaimedTask, Store
from mlp_server.workers.withdraw import withdraw_conversion

from . import models
from .conftest import Local, WorkerProc


def converted_and_measuring(local: Local, model_id: str) -> tuple[str, str, WorkerProc]:
    """An FP16 conversion job whose task has registered version 2 and is measuring it (5 s)."""
    job_id = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"], ConvertPrecisionList=["FP16"])
    worker = local.worker(measure="5")
    deadline = time.monotonic() + 60
    while local.model.get_model_versions(model_id).result.total < 2:
        assert time.monotonic() < deadline, local.logs()
        time.sleep(0.05)
    (task,) = local.tasks(job_id)
    return job_id, str(task["TaskID"]), worker


def onnx_objects(local: Local) -> int:
    return len(list((local.data_dir / "objects").rglob("*.onnx")))


def test_a_conversion_cancelled_while_measuring_deletes_its_version_and_says_so(
    local: Local, tmp_path: Path
) -> None:
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    job_id, task_id, _ = converted_and_measuring(local, model_id)
    assert onnx_objects(local) == 2
    local.model.cancel_perf_job(job_id)
    done = local.wait_status(task_id, {"Cancelled", "Failed", "Success"})
    assert done["TaskStatus"] == "Cancelled", done
    assert done["Message"] == (
        f"cancelled while running; the FP16 version {model_id}-2 it had registered was deleted, unmeasured"
    )
    versions = local.model.get_model_versions(model_id).to_dict()["Result"]["List"]
    assert [v["ModelVersion"] for v in versions] == [1]
    assert onnx_objects(local) == 1  # the converted model's objects were reclaimed


def test_a_conversion_cancelled_after_its_version_was_deployed_keeps_it_and_says_why(
    local: Local, tmp_path: Path
) -> None:
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    job_id, task_id, _ = converted_and_measuring(local, model_id)
    service = local.model.deploy(model_id, "2", "fp16-svc", flavor="ml.c1i.large")
    try:
        local.model.cancel_perf_job(job_id)
        done = local.wait_status(task_id, {"Cancelled", "Failed", "Success"})
        assert done["TaskStatus"] == "Cancelled", done
        assert done["Message"].startswith(
            f"cancelled while running; the FP16 version {model_id}-2 it had registered stays "
            f"(ResourceInUse: version {model_id}-2 is used by service(s) {service.service_id} (fp16-svc)"
        ), done
        assert local.model.get_model_versions(model_id).result.total == 2
    finally:
        service.delete()


def test_a_conversion_whose_runtime_crashed_while_measuring_deletes_its_version_and_says_so(
    local: Local, tmp_path: Path
) -> None:
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    _, task_id, worker = converted_and_measuring(local, model_id)
    (runner,) = worker.runners()
    os.kill(runner, signal.SIGSEGV)  # what a crashing native runtime does
    done = local.wait_status(task_id, {"Cancelled", "Failed", "Success"})
    assert done["TaskStatus"] == "Failed", done
    assert done["Message"].startswith("the runtime crashed (killed by SIGSEGV) while running the task"), done
    assert done["Message"].endswith(
        f"; the FP16 version {model_id}-2 it had registered was deleted, unmeasured"
    ), done
    assert local.model.get_model_versions(model_id).result.total == 1
    assert onnx_objects(local) == 1


def test_a_version_measured_before_the_task_ended_stays(local: Local, tmp_path: Path) -> None:
    """Cancelled between the runner's last write (the metrics) and its end: the results are kept."""
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    job_id = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"], ConvertPrecisionList=["FP16"])
    local.worker()
    (task,) = local.model.wait_perf_job(job_id, timeout=180).to_dict()["Result"]["List"]
    assert task["TaskStatus"] == "Success", (task, local.logs())
    settings = ServerSettings.from_env(local.data_dir)
    store = Store(settings.db_url)
    try:
        args = task["TaskArgs"]
        claimed = ClaimedTask(
            task_id=task["TaskID"],
            job_id=job_id,
            account_id=DEFAULT_ACCOUNT_ID,
            model_version_id=task["ModelVersionID"],
            task_type=args["TaskType"],
            flavor_id=args["FlavorID"],
            convert_type=args["ConvertType"],
            convert_precision=args["ConvertPrecision"],
            tensor_config=models.MLP_CONFIG,
            attempt=1,
        )
        left = withdraw_conversion(settings, store, claimed)
    finally:
        store.close()
    assert left == (
        f"; the FP16 version {model_id}-2 it had registered was measured before the task ended and "
        "stays, with its metrics"
    )
    assert local.model.get_model_versions(model_id).result.total == 2
