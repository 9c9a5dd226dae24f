"""``volcengine_ml_platform.models.model.Model``: the model repository, as documented.

Every method returns the service's JSON response as a generated model: index it like the documented
dict (``resp["Result"]["ModelID"]``) or use typed attributes (``resp.result.model_id``). Failures
raise :mod:`volcengine_ml_platform.errors` exceptions carrying the service's Code and RequestId.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ml_platform_client.api.models import create_model, delete_model, get_model, list_models, update_model
from ml_platform_client.api.perf import (
    cancel_perf_job,
    cancel_perf_task,
    create_perf_job,
    list_perf_jobs,
    list_perf_tasks,
    update_perf_task,
)
from ml_platform_client.api.resources import list_resource
from ml_platform_client.api.services import create_service, list_services
from ml_platform_client.api.storage import get_tos_upload_path
from ml_platform_client.api.versions import (
    delete_model_version,
    get_model_version,
    list_model_versions,
    update_model_version,
)
from ml_platform_client.models import (
    CreateModelRequest,
    CreatePerfJobRequest,
    CreateServiceRequest,
    GetTOSUploadPathRequest,
    JobIDRequest,
    ListModelsRequest,
    ListModelVersionsRequest,
    ListPerfJobsRequest,
    ListPerfTasksRequest,
    ListResourceRequest,
    ListServicesRequest,
    ModelIDRequest,
    ModelVersionIDRequest,
    TaskIDRequest,
    UpdateModelRequest,
    UpdateModelVersionRequest,
    UpdatePerfTaskRequest,
)

from ..config import resolve_settings
from ..errors import NotFoundError, ValidationError
from ..session import Session
from ..storage import object_store_for
from ..transfer.base import ObjectStore
from . import validation
from ._common import (
    UPLOAD_FOLDER,
    ProgressCallback,
    Registration,
    download_version,
    drop_none,
    register_flow,
    version_id,
    version_number,
)
from .inference_service import InferenceService


def _page(offset: int, page_size: int, sort_by: str, sort_order: str, sort_schema: str) -> dict[str, Any]:
    """The paging fields, checked first so that errors name the Python arguments."""
    for schema_name, value, argument in (
        ("Offset", offset, "offset"),
        ("Limit", page_size, "page_size"),
        (sort_schema, sort_by, "sort_by"),
        ("SortOrder", sort_order, "sort_order"),
    ):
        validation.validate_argument(schema_name, value, argument)
    return {"Offset": offset, "Limit": page_size, "SortBy": sort_by, "SortOrder": sort_order}


class Model:
    """Model类封装了模型仓库相关的一些操作: register, download, update, delete models and versions, run
    perf jobs and deploy versions.

    With no arguments the platform comes from configuration (arguments > env > ``~/.volc/config``): no
    endpoint means the embedded local platform in ``~/.volc/ml_platform``.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        data_dir: str | Path | None = None,
        session: Session | None = None,
    ) -> None:
        self._session = session or Session(
            resolve_settings(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                data_dir=data_dir,
            )
        )
        self._store_endpoint: str | None = None
        self._store: ObjectStore | None = None

    @property
    def session(self) -> Session:
        return self._session

    def _call(self, operation: Any, body_cls: type[Any], body: dict[str, Any]) -> Any:
        return self._session.call(operation, body_cls, body)

    # ---- object storage ------------------------------------------------------------------------

    def _upload_path(self) -> Any:
        body = {"ServiceName": "modelrepo", "Path": UPLOAD_FOLDER}
        result = self._call(get_tos_upload_path, GetTOSUploadPathRequest, body).result
        self._store_endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        return result

    def _object_store(self) -> ObjectStore:
        if self._store is None:
            if self._store_endpoint is None:
                self._upload_path()  # the platform says where its objects are
            self._store = object_store_for(
                self._store_endpoint, region=self._session.region, credentials=self._session.credentials
            )
        return self._store

    # ---- models and versions -------------------------------------------------------------------

    def register(
        self,
        local_path: str,
        model_id: str | None = None,
        model_name: str | None = None,
        model_format: str | None = None,
        model_type: str | None = None,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
        model_category: str | None = None,
        dataset_id: str | None = None,
        source_type: str | None = "TOS",
        model_tags: list[Any] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> Any:
        """注册模型到模型仓库: upload ``local_path`` and register it as a new model, or as the next
        version of ``model_id``. Returns the CreateModel response (ModelID, VersionInfo)."""
        registration = Registration(
            local_path,
            model_id,
            model_name,
            model_format,
            model_type,
            description,
            tensor_config,
            model_metrics,
            model_category,
            dataset_id,
            source_type,
            model_tags,
        )
        return register_flow(
            registration,
            body_cls=CreateModelRequest,
            upload_target=self._upload_path,
            object_store=self._object_store,
            send=lambda body: self._call(create_model, CreateModelRequest, body),
            progress=progress,
        )

    def download(
        self, model_id: str, model_version: str, local_path: str, *, progress: ProgressCallback | None = None
    ) -> list[Path]:
        """下载模型到本地: every file of the version into ``local_path``; returns the files written."""
        version = self.get_model_version(model_id, model_version)
        return download_version(version.result.path, self._object_store(), local_path, progress)

    def get_model_version(self, model_id: str, model_version: str) -> Any:
        """GetModelVersion (the public twin of ``inner_model.Model.get_model_version``)."""
        return self._call(
            get_model_version, ModelVersionIDRequest, {"ModelVersionID": version_id(model_id, model_version)}
        )

    def unregister(self, model_id: str, model_version: str) -> Any:
        """删除模型版本 (its number is never given again)."""
        return self._call(
            delete_model_version,
            ModelVersionIDRequest,
            {"ModelVersionID": version_id(model_id, model_version)},
        )

    def unregister_all_versions(self, model_id: str) -> Any:
        """删除模型及其所有模型版本."""
        return self._call(delete_model, ModelIDRequest, {"ModelID": model_id})

    def list_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Any:
        """获取模型列表: Total and one page of models."""
        body = drop_none(
            {
                "ModelNameContains": model_name_contains,
                "IdContains": id_contains,
                **_page(offset, page_size, sort_by, sort_order, "ListModelsSortBy"),
            }
        )
        return self._call(list_models, ListModelsRequest, body)

    def get_model_versions(
        self,
        model_id: str,
        model_version: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Any:
        """获取模型版本: Total and one page of the model's versions (or the one ``model_version``)."""
        body = drop_none(
            {
                "ModelID": model_id,
                "ModelVersion": version_number(model_version),
                **_page(offset, page_size, sort_by, sort_order, "ListModelVersionsSortBy"),
            }
        )
        return self._call(list_model_versions, ListModelVersionsRequest, body)

    def update_model(self, model_id: str, model_name: str | None = None) -> Any:
        """更新模型 (rename it)."""
        return self._call(
            update_model, UpdateModelRequest, drop_none({"ModelID": model_id, "ModelName": model_name})
        )

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> Any:
        """更新模型版本: description, tensor config and/or metrics."""
        if tensor_config is not None:
            validation.validate_model_tensor_config(tensor_config)
        if model_metrics is not None:
            validation.validate_metrics(model_metrics)
        body = drop_none(
            {
                "ModelVersionID": version_id(model_id, model_version),
                "Description": description,
                "TensorConfig": tensor_config,
                "MetricsList": model_metrics,
            }
        )
        return self._call(update_model_version, UpdateModelVersionRequest, body)

    # ---- perf jobs and tasks -------------------------------------------------------------------

    def create_perf_job(
        self,
        model_id: str,
        model_version: str,
        tensor_config: dict[str, Any],
        job_type: str,
        job_params: list[Any],
    ) -> Any:
        """创建模型评测/转换Job: one task per flavor (and per conversion precision for CONVERT_PERF)."""
        validation.validate_perf_job_tensor_config(tensor_config)
        validation.validate_argument("JobType", job_type, "job_type")
        body = {
            "ModelVersionID": version_id(model_id, model_version),
            "TensorConfig": tensor_config,
            "JobType": job_type,
            "JobParamsList": job_params,
        }
        return self._call(create_perf_job, CreatePerfJobRequest, body)

    def list_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Any:
        """获取评测/转换任务Job列表 (of one version when ``model_id`` and ``model_version`` are given)."""
        if (model_id is None) != (model_version is None):
            raise ValidationError("model_id and model_version go together", field="model_version")
        mvid = (
            version_id(model_id, model_version)
            if model_id is not None and model_version is not None
            else None
        )
        body = drop_none(
            {
                "ModelVersionID": mvid,
                "JobID": job_id,
                **_page(offset, page_size, sort_by, sort_order, "CreateTimeSortBy"),
            }
        )
        return self._call(list_perf_jobs, ListPerfJobsRequest, body)

    def cancel_perf_job(self, job_id: str) -> Any:
        """取消评测/转换Job, and every unfinished task of it."""
        return self._call(cancel_perf_job, JobIDRequest, {"JobID": job_id})

    def list_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Any:
        """获取评测/转换任务Task列表."""
        body = drop_none(
            {
                "TaskID": task_id,
                "JobID": job_id,
                **_page(offset, page_size, sort_by, sort_order, "CreateTimeSortBy"),
            }
        )
        return self._call(list_perf_tasks, ListPerfTasksRequest, body)

    def update_perf_task(self, task_id: str, task_status: str | None = None) -> Any:
        """更新评测/转换Task: move it to ``task_status`` (only along valid transitions)."""
        validation.validate_argument("TaskStatus", task_status, "task_status")
        return self._call(
            update_perf_task, UpdatePerfTaskRequest, drop_none({"TaskID": task_id, "Status": task_status})
        )

    def calcel_perf_task(self, task_id: str) -> Any:
        """取消评测/转换Task (the documented spelling; :meth:`cancel_perf_task` is the same)."""
        return self._call(cancel_perf_task, TaskIDRequest, {"TaskID": task_id})

    cancel_perf_task = calcel_perf_task

    def wait_perf_job(self, job_id: str, timeout: float = 600.0, poll_interval: float = 0.5) -> Any:
        """Wait until every task of the job has ended (Success, Failed or Cancelled), then return its
        tasks: the ListPerfTasks response (up to 100 tasks, oldest first), each with its Result, or
        its Message when it failed.

        Raises ``TimeoutError`` after ``timeout`` seconds, naming how many tasks are unfinished (the job
        goes on; call again to keep waiting), and ``NotFoundError`` for an unknown job.
        """
        if timeout < 0 or poll_interval <= 0:
            raise ValidationError("timeout must be >= 0 and poll_interval > 0", field="timeout")
        deadline = time.monotonic() + timeout
        while True:
            found = self.list_perf_jobs(job_id=job_id).result
            if not found.list_:
                raise NotFoundError(f"PerfJob {job_id} does not exist", code="NotFound", status_code=404)
            job = found.list_[0]
            if job.task_count == job.ended_task_count:
                return self.list_perf_tasks(job_id=job_id, page_size=100, sort_order="Ascend")
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"perf job {job_id} not finished after {timeout:g}s: {job.ended_task_count} of "
                    f"{job.task_count} tasks ended (status {job.job_status})"
                )
            time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    # ---- deployment ------------------------------------------------------------------------------

    def _flavor_id(self, flavor: str) -> str:
        found = self._call(list_resource, ListResourceRequest, {"Name": flavor, "Limit": 100})
        for group in found["Result"]["List"].values():
            for item in group:
                if item.get("Name") == flavor:
                    return str(item["Id"])
        every = self._call(list_resource, ListResourceRequest, {"Limit": 100})
        names = sorted({item["Name"] for group in every["Result"]["List"].values() for item in group})
        raise ValidationError(
            f"flavor: {flavor!r} is not offered here; available: {', '.join(names)}", field="flavor"
        )

    def deploy(
        self,
        model_id: str,
        model_version: str,
        service_name: str,
        flavor: str = "ml.g1e.large",
        image_id: str = "machinelearning/tfserving:tf-cuda10.1",
        envs: dict[str, str] | None = None,
        replica: int | None = 1,
        description: str | None = None,
    ) -> InferenceService:
        """将模型部署为在线推理服务: returns an :class:`InferenceService`."""
        if envs is not None and not isinstance(envs, dict):
            raise ValidationError("envs: expected a dict of environment variables", field="envs")
        deployment = drop_none(
            {
                "Replicas": 1 if replica is None else replica,
                "FlavorID": self._flavor_id(flavor),
                "Model": {"ModelID": model_id, "ModelVersionID": version_id(model_id, model_version)},
                "ImageID": image_id,
                "Envs": [{"Name": k, "Value": str(v)} for k, v in (envs or {}).items()],
                "Description": description,
            }
        )
        resp = self._call(
            create_service,
            CreateServiceRequest,
            {"ServiceName": service_name, "ServiceDeployment": deployment},
        )
        return InferenceService(self._session, resp.result.service_id, service_name)

    # ---- beyond the documented methods (used by the `mlp` command) ------------------------------

    def get_model(self, model_id: str) -> Any:
        """GetModel: one model with its version count and latest version."""
        return self._call(get_model, ModelIDRequest, {"ModelID": model_id})

    def list_resources(self, name_contains: str | None = None, offset: int = 0, page_size: int = 100) -> Any:
        """ListResource: the compute flavors, by group."""
        body = drop_none({"NameContains": name_contains, "Offset": offset, "Limit": page_size})
        return self._call(list_resource, ListResourceRequest, body)

    def list_services(
        self,
        service_name_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_order: str = "Descend",
    ) -> Any:
        """ListServices: Total and one page of services."""
        body = drop_none(
            {
                "ServiceNameContains": service_name_contains,
                **_page(offset, page_size, "CreateTime", sort_order, "CreateTimeSortBy"),
            }
        )
        return self._call(list_services, ListServicesRequest, body)

    def get_service(self, service_id: str) -> InferenceService:
        """The :class:`InferenceService` ``service_id`` (read once, so a missing one raises NotFoundError)."""
        service = InferenceService(self._session, service_id)
        service.refresh()
        return service
