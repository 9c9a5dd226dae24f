"""A local platform per test (its own data folder, so no other worker takes its tasks), driven through
the documented ``Model`` API on the embedded platform with no worker of its own, and perf workers run
as ``mlp worker`` processes the tests start, kill and replace."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlp_server.store import Store
from mlp_server.workers.runner import RunSpec
from mlp_testing import clean_env, mlp_script, stop_process
from volcengine_ml_platform.models.model import Model

from . import models

FAST_MEASURE = "0.2"


class WorkerProc:
    """``mlp worker --data-dir D`` in a subprocess."""

    def __init__(self, data_dir: Path, log: Path, *, lease: float = 5.0, measure: str = FAST_MEASURE) -> None:
        env = clean_env(MLP_PERF_MEASURE_SECONDS=measure, PYTHONUNBUFFERED="1")
        argv = [mlp_script(), "worker", "--data-dir", str(data_dir), "--lease-seconds", str(lease)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.log = log

    def runners(self) -> list[int]:
        """The pids of this worker's runner processes (at most one)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc, 15)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Local:
    """One platform: its data folder, a Model on it, and the workers a test started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "platform"
        self.model = Model(data_dir=str(self.data_dir))
        self.workers: list[WorkerProc] = []

    def worker(self, **kwargs: Any) -> WorkerProc:
        proc = WorkerProc(self.data_dir, self.root / f"worker-{len(self.workers)}.log", **kwargs)
        self.workers.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(w.log.read_text(errors="replace") for w in self.workers if w.log.exists())

    def register(self, folder: Path, model_format: str = "ONNX") -> str:
        resp = self.model.register(
            str(folder), model_name=folder.name, model_format=model_format, model_type="ONNX:1.23"
        )
        return str(resp["Result"]["ModelID"])

    def job(self, model_id: str, config: dict[str, Any], flavors: list[str], **params: Any) -> str:
        job_type = "CONVERT_PERF" if "ConvertPrecisionList" in params else "PERF_ONLY"
        resp = self.model.create_perf_job(
            model_id, "1", config, job_type, [{"FlavorIDList": flavors, **params}]
        )
        return str(resp["Result"]["JobID"])

    def tasks(self, job_id: str) -> list[dict[str, Any]]:
        listed = self.model.list_perf_tasks(job_id=job_id, page_size=100, sort_order="Ascend")
        return list(listed.to_dict()["Result"]["List"])

    def wait_status(self, task_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.model.list_perf_tasks(task_id=task_id).to_dict()["Result"]["List"][0]
            if task["TaskStatus"] in statuses or time.monotonic() > deadline:
                assert task["TaskStatus"] in statuses, f"{task}\n{self.logs()}"
                return dict(task)
            time.sleep(0.05)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Local]:
    for name in list(os.environ):
        if name.startswith(("VOLC_", "VOLCENGINE_", "MLP_")) or name == "ML_PLATFORM_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(tmp_path / "no-such-config"))
    monkeypatch.setenv("MLP_PERF_WORKERS", "0")  # the tests start the workers themselves
    platform = Local(tmp_path)
    yield platform
    for worker in platform.workers:
        worker.stop()


def claimed_conversion(
    store: Store, run_dir: Path, database_url: str | None = None
) -> tuple[str, RunSpec, dict[str, Any]]:
    """A model whose version asks one FP16 CONVERT_PERF task, claimed by worker ``w``: (the ModelID,
    the runner's spec for the task, the source version) - what ``register_converted`` takes."""
    account = 2100000050
    body = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/m/"}
    created = store.create_model(account, {"ModelName": "m", "VersionInfo": body})
    model_id, source = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
    store.create_perf_job(
        account,
        {
            "ModelVersionID": source,
            "TensorConfig": models.MLP_CONFIG,
            "JobType": "CONVERT_PERF",
            "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
        },
    )
    task = store.claim_next_task(worker_id="w")
    assert task is not None
    spec = RunSpec(task, str(run_dir), database_url, 0.1)
    return model_id, spec, store.get_model_version(account, {"ModelVersionID": source})
