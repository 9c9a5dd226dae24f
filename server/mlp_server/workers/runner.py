"""One perf task, run in a process of its own
(``python -m mlp_server.workers.runner SPEC RESULT WORKER_PID``).

The worker loop starts a runner per task, so a runtime that crashes or leaks takes only its task
down, a cancel is a signal to this process, and peak memory is the task's own. The runner fetches the
version's files; for CONVERT_PERF a child process of its own converts and checks (conversion.py: the
runner's peak memory is then the converted model's alone), and the runner registers the converted
version through the inner CreateModel action with its lineage. It measures with onnxruntime and
records a Perf MetricsList entry on the measured version. It writes ``{"Status": "Success",
"Result": {...}}`` or ``{"Status": "Failed", "Message": ...}`` to RESULT; the worker loop ends the
task in the store.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..context import Caller, Platform
from ..errors import ApiError
from ..storage_errors import DATABASE_ERRORS, database_trouble, storage_error
from ..store import ClaimedTask
from ..store.perf import BASE, CONVERT_PERF
from ..store.resources import CATALOGUE, Flavor
from .errors import INSTALL_HINT, TaskError
from .precision import recorded_precision

log = logging.getLogger("mlp_server.workers")

RUNS_ONNX = "the local platform runs ONNX models (onnxruntime)"
CONVERT_TYPES = (BASE, "ONNX")
# How long a runner waits out a database that fails (a restart, a failover) before it fails its task;
# its worker kills it sooner when the task's lease lapses meanwhile.
DATABASE_PATIENCE = 30.0
# CreateModel's answer when the storage sweep took the upload (lifecycle.check_not_swept): nothing was,
# nor will be, registered under that Path; the runner uploads the converted model again, once.
UPLOAD_REMOVED = "UploadRemoved"

_T = TypeVar("_T")


def patiently(what: str, call: Callable[[], _T], patience: float = DATABASE_PATIENCE) -> _T:
    """``call()`` (idempotent database work), tried again with backoff while the database fails."""
    deadline, delay = time.monotonic() + patience, 0.1
    while True:
        try:
            return call()
        except DATABASE_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("cannot %s now (%s); again in %.1fs", what, database_trouble(exc), delay)
            time.sleep(delay)
            delay = min(2.0, delay * 2)


@dataclass(frozen=True)
class RunSpec:
    task: ClaimedTask
    data_dir: str
    database_url: str | None
    measure_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "Task": self.task.__dict__,
            "DataDir": self.data_dir,
            "DatabaseURL": self.database_url,
            "MeasureSeconds": self.measure_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        return cls(ClaimedTask(**data["Task"]), data["DataDir"], data["DatabaseURL"], data["MeasureSeconds"])


def flavor(flavor_id: str) -> Flavor:
    for group in CATALOGUE.values():
        for item in group:
            if item.id == flavor_id:
                return item
    raise TaskError(f"flavor {flavor_id!r} is not in this platform's catalogue")


def has_gpu() -> bool:
    """A CUDA device is visible to this process (what the machine reports; onnxruntime's CUDA provider
    needs one to be of any use)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def has_cuda_provider() -> bool:
    """This onnxruntime can run on a GPU (a CPU-only build, the usual wheel, cannot)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


NO_GPU = "this platform has none"
NO_CUDA = "this platform's onnxruntime has no CUDA provider (CUDAExecutionProvider)"


def gpu_unusable() -> str | None:
    """Why this machine cannot run a GPU flavor (:data:`NO_GPU`, :data:`NO_CUDA`); None when it can:
    a device visible AND onnxruntime's CUDA provider."""
    if not has_gpu():
        return NO_GPU
    if not has_cuda_provider():
        return NO_CUDA
    return None


def pick_provider(item: Flavor, available: list[str]) -> str:
    """CPU flavors run on the CPU provider; a GPU flavor needs the CUDA provider and a GPU, or fails:
    figures measured on a CPU are never reported as a GPU flavor's."""
    if item.gpu_num == 0:
        return "CPUExecutionProvider"
    if "CUDAExecutionProvider" in available and has_gpu():
        return "CUDAExecutionProvider"
    message = f"flavor {item.id} needs a GPU; this platform has none"
    if "CUDAExecutionProvider" not in available:
        message += " (nor onnxruntime's CUDA provider)"
    raise TaskError(message)


def precheck(task: ClaimedTask) -> str | None:
    """Why the task cannot run here, when that is known without starting a runner (a GPU flavor on a
    machine with no GPU it can use); None otherwise."""
    try:
        item = flavor(task.flavor_id)
    except TaskError as exc:
        return exc.message
    if item.gpu_num > 0 and (why := gpu_unusable()) is not None:
        return f"flavor {item.id} needs a GPU; {why}"
    return None


def run(platform: Platform, spec: RunSpec, scratch: Path | None = None) -> dict[str, Any]:
    task = spec.task
    item = flavor(task.flavor_id)
    version = patiently(
        "read the version",
        lambda: platform.store.get_model_version(task.account_id, {"ModelVersionID": task.model_version_id}),
    )
    if version["ModelFormat"] != "ONNX":
        raise TaskError(
            f"ModelFormat {version['ModelFormat']} cannot run here: {RUNS_ONNX}; register an ONNX export"
        )
    if task.task_type == CONVERT_PERF and task.convert_type not in CONVERT_TYPES:
        raise TaskError(
            f"ConvertType {task.convert_type!r} is not available: {RUNS_ONNX} and converts to ONNX at "
            f"another precision (ConvertType ONNX, or omit it)"
        )
    try:
        import onnxruntime as ort

        from . import measure
    except ImportError as exc:
        raise TaskError(f"the perf runtime is not installed ({exc.name}): {INSTALL_HINT}") from None
    provider = pick_provider(item, ort.get_available_providers())
    threads = max(1, min(item.vcpu, measure.machine_cores()))
    # In the worker's locked task folder (``scratch``): a runner killed mid-task (lease lost, worker
    # stopping) leaves its copies there, and the worker removes that folder.
    converting = task.task_type == CONVERT_PERF and task.convert_precision != BASE
    with tempfile.TemporaryDirectory(prefix="mlp-perf-", dir=scratch) as tmp:
        source = fetch_model(platform, version["Path"], Path(tmp) / "source")
        check: dict[str, Any] | None = None
        measured_model = source
        if converting:
            from .conversion import convert_apart

            # In a process of its own: this runner's peak memory is then the converted model's.
            target_dir = Path(tmp) / "converted" / f"{task.convert_precision.lower()}"
            target_dir.mkdir(parents=True)
            measured_model = target_dir / "model.onnx"
            check = convert_apart(
                source,
                measured_model,
                task.convert_precision,
                task.tensor_config,
                threads,
                provider,
                work=Path(tmp),
            )
        session = measure.open_session(measured_model, threads, provider)
        batch = measure.check_config(task.tensor_config, session)
        pts = measure.points(task.tensor_config, batch)
        result: dict[str, Any] = {
            "FlavorID": item.id,
            # PERF_ONLY: what the model holds (an FP16 or INT8 model is not measured as FP32); a
            # conversion's: what was asked, which convert.check_precision found in the graph
            "Precision": (
                task.convert_precision
                if converting
                else patiently(
                    "read the version's lineage",
                    lambda: recorded_precision(platform.store, task.account_id, version, source),
                )
            ),
            "ExecutionProvider": provider,
            "OnnxRuntimeVersion": ort.__version__,
            "CPUModel": measure.cpu_model(),
            "IntraOpThreads": threads,
            "FlavorVCPU": item.vcpu,
            "MachineCores": measure.machine_cores(),
            "Attempt": task.attempt,
        }
        measured_version = task.model_version_id
        if check is not None:
            result["Check"] = check
            measured_version = register_converted(platform, spec, version, measured_model.parent)
            result["ModelVersionID"] = measured_version
            result["BaseModelVersionID"] = task.model_version_id
        else:
            for point in pts:
                measure.run_once(session, point.feeds)  # runs at all (else a clear failure before timing)
            result["ModelVersionID"] = measured_version
        result["Measurements"] = [measure.benchmark(session, p, spec.measure_seconds) for p in pts]
        result["PeakMemoryMiB"] = measure.peak_memory_mib()
    entries = metrics_entries(task, result)
    # A rerun of the task replaces its own entries: safe to send again. Written only while this
    # runner's worker still holds the task (checked in the write's own transaction).
    recorded = patiently(
        "record the metrics",
        lambda: platform.store.add_perf_metrics(
            task.account_id, measured_version, task.task_id, entries, holder=_holder(task)
        ),
    )
    if not recorded:
        raise TaskError(lost_lease(task))
    return result


def _holder(task: ClaimedTask) -> ClaimedTask | None:
    """The claim to check writes against: a task claimed by a worker (a runner's), else none (a
    task built by hand, for a test or a tool, writes unconditionally)."""
    return task if task.worker_id is not None else None


def lost_lease(task: ClaimedTask) -> str:
    return (
        f"worker {task.worker_id} no longer holds the task (attempt {task.attempt}): its lease ran out "
        "and another worker claimed it, so this runner's results were not recorded"
    )


def metrics_entries(task: ClaimedTask, result: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``Perf`` entry per measured batch size; Params and MetricsData are JSON strings."""
    shared = {k: result[k] for k in ("ExecutionProvider", "OnnxRuntimeVersion", "CPUModel", "IntraOpThreads")}
    entries: list[dict[str, Any]] = []
    for m in result["Measurements"]:
        params = {
            "FlavorID": task.flavor_id,
            "TaskID": task.task_id,
            "JobID": task.job_id,
            "BatchSize": m["BatchSize"],
            "Precision": result["Precision"],
            **shared,
        }
        data = {k: v for k, v in m.items() if k != "BatchSize"} | {"PeakMemoryMiB": result["PeakMemoryMiB"]}
        entries.append({"MetricsType": "Perf", "Params": json.dumps(params), "MetricsData": json.dumps(data)})
    return entries


def fetch_model(platform: Platform, path: str, folder: Path) -> Path:
    """Download the version's files; the model is its one ``.onnx`` file (or ``model.onnx``)."""
    from volcengine_ml_platform.transfer.manager import download_prefix

    try:
        download_prefix(platform.objects, path, folder)
    except Exception as exc:
        raise TaskError(f"could not fetch the model files at {path}: {exc}") from None
    found = sorted(folder.rglob("*.onnx"))
    if len(found) > 1:
        found = [p for p in found if p.name == "model.onnx"] or found
    if not found:
        raise TaskError(f"no .onnx file under {path}: {RUNS_ONNX}")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found)
        raise TaskError(f"several .onnx files under {path} ({names}) and none is model.onnx")
    return found[0]


def register_converted(platform: Platform, spec: RunSpec, version: dict[str, Any], folder: Path) -> str:
    """The converted model as a new version of the same model (inner CreateModel: SourceType Perf,
    BaseModelVersionID = the source version, SourceId = the task). A rerun of the task reuses the
    version it registered before, even one racing this runner (the task's conversion lock)."""
    with platform.store.conversion_lock(spec.task.task_id):
        # Under the lock, so that a later holder's runner (waiting on it) finds what this one registers;
        # a runner whose claim has gone registers nothing (the task may have ended, its version withdrawn).
        holder = _holder(spec.task)
        if holder is not None and not platform.store.holds_task(holder):
            raise TaskError(lost_lease(spec.task))
        return _register_once(platform, spec, version, folder)


def _register_once(platform: Platform, spec: RunSpec, version: dict[str, Any], folder: Path) -> str:
    task = spec.task
    model_id = task.model_version_id.rsplit("-", 1)[0]
    existing = platform.store.version_from_task(task.account_id, model_id, task.task_id)
    if existing is not None:
        return existing
    caller = Caller(task.account_id, 0, is_admin=False)
    info: dict[str, Any] = {
        "ModelFormat": "ONNX",
        "ModelType": version["ModelType"],
        "SourceType": "Perf",
        "Description": (
            f"{task.convert_precision} conversion of {task.model_version_id} by perf task {task.task_id}"
        ),
        "BaseModelVersionID": task.model_version_id,
        "SourceId": task.task_id,
    }
    if (version.get("TensorConfig") or {}).get("Inputs"):
        info["TensorConfig"] = version["TensorConfig"]
    try:
        return _upload_and_create(platform, caller, model_id, info, folder)
    except ApiError as exc:
        if exc.code != UPLOAD_REMOVED:
            raise
        # Nothing was registered, nor will be, under that Path (its files are given back): upload the
        # converted model again to a new Path and register that, once, as the client's register does.
        log.warning("perf task %s: %s; uploading the converted model again to a new Path", task.task_id, exc)
    try:
        return _upload_and_create(platform, caller, model_id, info, folder)
    except ApiError as exc:
        if exc.code != UPLOAD_REMOVED:
            raise
        raise TaskError(
            f"the storage sweep removed the {task.convert_precision} conversion's upload before it could "
            "be registered, twice (it was uploaded again to a new Path once); nothing was registered. "
            "The sweep's grace period (mlp gc --grace, MLP_GC_GRACE) is shorter than the upload takes: "
            "make it longer, then create the perf job again"
        ) from None


def _upload_and_create(
    platform: Platform, caller: Caller, model_id: str, info: dict[str, Any], folder: Path
) -> str:
    """Upload ``folder`` to a new upload Path and register it as a version of ``model_id`` (``info``
    without its Path)."""
    from volcengine_ml_platform.transfer.manager import upload_path

    from ..handlers import call_action

    where = call_action(
        platform, caller, "InnerGetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["from-perf"]}
    )
    bucket, prefix = where["Bucket"], where["KeyPrefix"]
    try:
        path = upload_path(platform.objects, folder, bucket, prefix)
    except BaseException:
        platform.objects.delete_prefix(bucket, prefix)
        raise
    try:
        created = call_action(
            platform, caller, "InnerCreateModel", {"ModelID": model_id, "VersionInfo": {**info, "Path": path}}
        )
    except BaseException as exc:
        # Only a registration known not to have happened gives its files back. One whose commit may
        # have landed (the connection lost during COMMIT, the runner stopped mid-call) keeps them: a
        # retry finds its version (version_from_task), or the storage sweep removes them unreferenced.
        if _refused(exc):
            platform.objects.delete_prefix(bucket, prefix)
        raise
    return str(created["VersionInfo"]["ModelVersionID"])


def _refused(exc: BaseException) -> bool:
    """Whether InnerCreateModel's failure ``exc`` promises that nothing was registered: a refusal
    (4xx), or a storage failure answered before the commit (StorageUnavailable, a database locked or
    unreachable: :func:`storage_error` gives no code for a commit whose outcome is unknown)."""
    if isinstance(exc, ApiError):
        return exc.status < 500 or exc.code == "StorageUnavailable"
    return isinstance(exc, Exception) and storage_error(exc) is not None


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """End this runner when its worker (pid ``parent``, given by the worker: it may have died before
    this process could ask) is gone. SIGKILL leaves no one to stop the runner; the task's lease then
    brings the task to another worker, which must not find this one still writing."""

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="mlp-runner-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    spec_path, result_path = Path(args[0]), Path(args[1])
    exit_with_parent(int(args[2]) if len(args) > 2 else os.getppid())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = RunSpec.from_json(json.loads(spec_path.read_text(encoding="utf-8")))
    outcome: dict[str, Any]
    try:
        from ..platform import open_platform
        from ..settings import ServerSettings

        overrides = {"database_url": spec.database_url} if spec.database_url else {}
        settings = ServerSettings.from_env(Path(spec.data_dir), **overrides)
        platform = patiently("open the platform", lambda: open_platform(settings))
        try:
            outcome = {"Status": "Success", "Result": run(platform, spec, result_path.parent)}
        finally:
            platform.store.close()
    except TaskError as exc:
        outcome = {"Status": "Failed", "Message": exc.message}
    except ApiError as exc:
        outcome = {"Status": "Failed", "Message": f"{exc.code}: {exc.message}"}
    except Exception as exc:  # a bug or an environment problem: still a clear, recorded failure
        log.exception("perf task %s failed", spec.task.task_id)
        outcome = {"Status": "Failed", "Message": f"internal error: {type(exc).__name__}: {exc}"}
    tmp = result_path.with_name(result_path.name + ".tmp")
    tmp.write_text(json.dumps(outcome), encoding="utf-8")
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
