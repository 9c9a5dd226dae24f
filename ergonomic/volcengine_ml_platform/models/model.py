"""``volcengine_ml_platform.models.model.Model``: the model repository, as documented.

Every method returns the service's JSON response as a generated model: index it like the documented
dict (``resp["Result"]["ModelID"]``) or use typed attributes (``resp.result.model_id``). Failures
raise :mod:`volcengine_ml_platform.errors` exceptions carrying the service's Code and RequestId.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

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
    CreateModelResponse,
    CreatePerfJobRequest,
    CreatePerfJobResponse,
    CreateServiceRequest,
    GetModelResponse,
    GetModelVersionResponse,
    GetTOSUploadPathRequest,
    GetTOSUploadPathResponse,
    JobIDRequest,
    JobIDResponse,
    ListModelsRequest,
    ListModelsResponse,
    ListModelVersionsRequest,
    ListModelVersionsResponse,
    ListPerfJobsRequest,
    ListPerfJobsResponse,
    ListPerfTasksRequest,
    ListPerfTasksResponse,
    ListResourceRequest,
    ListResourceResponse,
    ListServicesRequest,
    ListServicesResponse,
    ModelIDRequest,
    ModelIDResponse,
    ModelSummary,
    ModelVersion,
    ModelVersionIDRequest,
    ModelVersionIDResponse,
    PerfJob,
    PerfTask,
    Service,
    ServiceIDResponse,
    TaskIDRequest,
    TaskIDResponse,
    TOSUploadPathResult,
    UpdateModelRequest,
    UpdateModelVersionRequest,
    UpdatePerfTaskRequest,
)

from ..config import resolve_settings
from ..errors import ConflictError, ServerError, ValidationError
from ..session import Session
from ..storage import object_store_for
from ..transfer.base import ObjectStore
from ..transfer.selection import file_filter
from . import _names, validation
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
from ._listing import MAX_PAGE_SIZE, iterate
from .inference_service import InferenceService

R = TypeVar("R")


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
    """The model repository of one account: register, download, update and delete models and versions,
    run perf jobs and deploy versions.

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
        profile: str | None = None,
        session: Session | None = None,
    ) -> None:
        self._session = session or Session(
            resolve_settings(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                data_dir=data_dir,
                profile=profile,
            )
        )
        self._store_endpoint: str | None = None
        self._store: ObjectStore | None = None

    @property
    def session(self) -> Session:
        return self._session

    def _call(self, operation: Any, body_cls: type[Any], body: dict[str, Any], response: type[R]) -> R:
        parsed = self._session.call(operation, body_cls, body)
        if not isinstance(parsed, response):  # the generated operation parsed another shape
            raise ServerError(f"{body_cls.__name__}: unexpected answer {type(parsed).__name__}")
        return parsed

    # ---- object storage ------------------------------------------------------------------------

    def _upload_path(self) -> TOSUploadPathResult:
        body = {"ServiceName": "modelrepo", "Path": UPLOAD_FOLDER}
        result = self._call(
            get_tos_upload_path, GetTOSUploadPathRequest, body, GetTOSUploadPathResponse
        ).result
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
        if_exists: str = "create",
        allow_patterns: Sequence[str] | None = None,
        ignore_patterns: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> CreateModelResponse:
        """Upload ``local_path`` and register it as a new model, or as the next version of ``model_id``.

        ``if_exists`` decides what a new ``model_name`` does when a model of that name exists already:
        ``"create"`` another model of the same name (the documented behaviour), add a
        ``"new_version"`` to it, or raise ``ConflictError`` (``"error"``). Several models of that name
        make ``"new_version"`` raise ConflictError too.

        ``allow_patterns`` / ``ignore_patterns`` (gitignore-style globs) pick the files of a folder;
        ``.git/``, ``__pycache__/``, ``.DS_Store`` and the patterns of a ``.mlpignore`` file are
        always left out (see :mod:`volcengine_ml_platform.transfer.selection`). A ``model_id`` that
        does not exist raises NotFoundError before any byte is uploaded.

        Returns the CreateModel response (ModelID and the new VersionInfo).
        """
        policy = _names.check_if_exists(if_exists)
        select = None
        if Path(local_path).is_dir():
            select = file_filter(Path(local_path), allow_patterns, ignore_patterns)
        if model_id is not None:
            self.get_model(model_id)  # NotFoundError now, not after the upload
        elif model_name and policy != "create":
            validation.validate_local_path(local_path)
            found = self.find_models(model_name)
            if found and policy == "error":
                _names.the_one(model_name, found)  # names them all when there are several
                raise ConflictError(
                    f"a model named {model_name!r} exists ({found[0].model_id}); "
                    "pass if_exists='new_version' to add a version to it",
                    code="ModelNameExists",
                )
            if found:
                model_id = _names.the_one(model_name, found).model_id
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
        resp = register_flow(
            registration,
            body_cls=CreateModelRequest,
            upload_target=self._upload_path,
            object_store=self._object_store,
            send=lambda body: self._call(create_model, CreateModelRequest, body, CreateModelResponse),
            progress=progress,
            select=select,
        )
        if not isinstance(resp, CreateModelResponse):
            raise ServerError(f"CreateModel: unexpected answer {type(resp).__name__}")
        return resp

    def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Download every file of the version into the folder ``local_path``; returns its files there.

        A file already in ``local_path`` with the same content is kept (not transferred again); one that
        differs raises ValidationError before anything is written, unless ``overwrite`` is true.
        ``model_version`` may be ``"latest"``.
        """
        version = self.get_model_version(model_id, model_version)
        path = version.result.path
        return download_version(path, self._object_store(), local_path, progress, overwrite=overwrite)

    def get_model_version(self, model_id: str, model_version: str | int) -> GetModelVersionResponse:
        """GetModelVersion: one version (``model_version`` may be ``"latest"``)."""
        mvid = version_id(model_id, self.resolve_version(model_id, model_version))
        return self._call(
            get_model_version, ModelVersionIDRequest, {"ModelVersionID": mvid}, GetModelVersionResponse
        )

    def unregister(self, model_id: str, model_version: str | int) -> ModelVersionIDResponse:
        """Delete one version (its number is never given again)."""
        return self._call(
            delete_model_version,
            ModelVersionIDRequest,
            {"ModelVersionID": version_id(model_id, model_version)},
            ModelVersionIDResponse,
        )

    def unregister_all_versions(self, model_id: str) -> ModelIDResponse:
        """Delete a model and all its versions."""
        return self._call(delete_model, ModelIDRequest, {"ModelID": model_id}, ModelIDResponse)

    # ---- addressing by name ----------------------------------------------------------------------

    def find_models(self, model_name: str) -> list[ModelSummary]:
        """Every model named exactly ``model_name`` (names need not be unique), newest first."""
        return _names.exact(model_name, self.iter_models(model_name_contains=model_name))

    def get_model_by_name(self, model_name: str) -> ModelSummary:
        """The one model named ``model_name``: NotFoundError if none is, ConflictError (naming their
        IDs) if several are."""
        return _names.the_one(model_name, self.find_models(model_name))

    def resolve_model_id(self, model: str) -> str:
        """``model`` if it is a model ID, else the ID of the one model of that name."""
        return model if _names.looks_like_model_id(model) else self.get_model_by_name(model).model_id

    def resolve_version(self, model_id: str, model_version: str | int) -> str:
        """``model_version`` as a number; ``"latest"`` is the model's highest version."""
        if str(model_version).lower() != _names.LATEST:
            return str(model_version)
        latest = self.get_model(model_id).result.latest_version
        if not isinstance(latest, str):
            raise ValidationError(f"model {model_id} has no version yet", field="model_version")
        return latest

    def list_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListModelsResponse:
        """ListModels: Total and one page of models (``iter_models`` pages through all of them)."""
        body = drop_none(
            {
                "ModelNameContains": model_name_contains,
                "IdContains": id_contains,
                **_page(offset, page_size, sort_by, sort_order, "ListModelsSortBy"),
            }
        )
        return self._call(list_models, ListModelsRequest, body, ListModelsResponse)

    def iter_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ModelSummary]:
        """Every model matching the filters, fetched page by page as the iteration goes."""
        return iterate(
            lambda offset: (
                self.list_models(
                    model_name_contains, id_contains, offset, page_size, sort_by, sort_order
                ).result
            )
        )

    def get_model_versions(
        self,
        model_id: str,
        model_version: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListModelVersionsResponse:
        """ListModelVersions: Total and one page of the model's versions (or the one ``model_version``,
        which may be ``"latest"``)."""
        if model_version is not None:
            model_version = self.resolve_version(model_id, model_version)
        body = drop_none(
            {
                "ModelID": model_id,
                "ModelVersion": version_number(model_version),
                **_page(offset, page_size, sort_by, sort_order, "ListModelVersionsSortBy"),
            }
        )
        return self._call(list_model_versions, ListModelVersionsRequest, body, ListModelVersionsResponse)

    def iter_model_versions(
        self,
        model_id: str,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ModelVersion]:
        """Every version of the model, fetched page by page as the iteration goes."""
        return iterate(
            lambda offset: (
                self.get_model_versions(model_id, None, offset, page_size, sort_by, sort_order).result
            )
        )

    def update_model(self, model_id: str, model_name: str | None = None) -> ModelIDResponse:
        """UpdateModel: rename the model."""
        return self._call(
            update_model,
            UpdateModelRequest,
            drop_none({"ModelID": model_id, "ModelName": model_name}),
            ModelIDResponse,
        )

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> ModelVersionIDResponse:
        """UpdateModelVersion: change the description, tensor config and/or metrics of a version."""
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
        return self._call(update_model_version, UpdateModelVersionRequest, body, ModelVersionIDResponse)

    # ---- perf jobs and tasks -------------------------------------------------------------------

    def create_perf_job(
        self,
        model_id: str,
        model_version: str,
        tensor_config: dict[str, Any],
        job_type: str,
        job_params: list[Any],
    ) -> CreatePerfJobResponse:
        """CreatePerfJob: one task per flavor (and per conversion precision for CONVERT_PERF).

        Every flavor is checked against ListResource first, the same check as :meth:`deploy`, so an
        unknown one raises ValidationError listing the available ones."""
        validation.validate_perf_job_tensor_config(tensor_config)
        validation.validate_argument("JobType", job_type, "job_type")
        self._check_flavors(job_params)
        body = {
            "ModelVersionID": version_id(model_id, model_version),
            "TensorConfig": tensor_config,
            "JobType": job_type,
            "JobParamsList": job_params,
        }
        return self._call(create_perf_job, CreatePerfJobRequest, body, CreatePerfJobResponse)

    def list_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListPerfJobsResponse:
        """ListPerfJobs: one page of perf jobs (of one version when ``model_id`` and ``model_version``
        are given)."""
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
        return self._call(list_perf_jobs, ListPerfJobsRequest, body, ListPerfJobsResponse)

    def iter_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[PerfJob]:
        """Every perf job matching the filters, fetched page by page as the iteration goes."""
        return iterate(
            lambda offset: (
                self.list_perf_jobs(
                    model_id, model_version, job_id, offset, page_size, sort_by, sort_order
                ).result
            )
        )

    def cancel_perf_job(self, job_id: str) -> JobIDResponse:
        """CancelPerfJob: cancel the job and every unfinished task of it."""
        return self._call(cancel_perf_job, JobIDRequest, {"JobID": job_id}, JobIDResponse)

    def list_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListPerfTasksResponse:
        """ListPerfTasks: one page of perf tasks (of one job, or the one ``task_id``)."""
        body = drop_none(
            {
                "TaskID": task_id,
                "JobID": job_id,
                **_page(offset, page_size, sort_by, sort_order, "CreateTimeSortBy"),
            }
        )
        return self._call(list_perf_tasks, ListPerfTasksRequest, body, ListPerfTasksResponse)

    def iter_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[PerfTask]:
        """Every perf task matching the filters, fetched page by page as the iteration goes."""
        return iterate(
            lambda offset: (
                self.list_perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order).result
            )
        )

    def update_perf_task(self, task_id: str, task_status: str | None = None) -> TaskIDResponse:
        """UpdatePerfTask: move a task to ``task_status`` (only along valid transitions)."""
        validation.validate_argument("TaskStatus", task_status, "task_status")
        return self._call(
            update_perf_task,
            UpdatePerfTaskRequest,
            drop_none({"TaskID": task_id, "Status": task_status}),
            TaskIDResponse,
        )

    def calcel_perf_task(self, task_id: str) -> TaskIDResponse:
        """CancelPerfTask (the documented spelling; :meth:`cancel_perf_task` is the same)."""
        return self._call(cancel_perf_task, TaskIDRequest, {"TaskID": task_id}, TaskIDResponse)

    cancel_perf_task = calcel_perf_task

    # ---- deployment ------------------------------------------------------------------------------

    def _flavors(self) -> dict[str, str]:
        """Flavor name -> ID, as ListResource offers them."""
        every = self.list_resources(page_size=100)
        return {
            str(item["Name"]): str(item["Id"]) for group in every["Result"]["List"].values() for item in group
        }

    @staticmethod
    def _unknown_flavor(flavor: object, field: str, offered: Iterable[str]) -> ValidationError:
        return ValidationError(
            f"{field}: {flavor!r} is not offered here; available: {', '.join(sorted(offered))}",
            field=field,
        )

    def _flavor_id(self, flavor: str) -> str:
        offered = self._flavors()
        if flavor not in offered:
            raise self._unknown_flavor(flavor, "flavor", offered)
        return offered[flavor]

    def _check_flavors(self, job_params: list[Any]) -> None:
        """The flavors of a perf job, checked like :meth:`deploy` checks its flavor."""
        if not isinstance(job_params, list):
            return  # the request schema names the problem
        offered: dict[str, str] | None = None
        for index, params in enumerate(job_params):
            flavors = params.get("FlavorIDList") if isinstance(params, dict) else None
            for flavor in flavors if isinstance(flavors, list) else []:
                offered = offered if offered is not None else self._flavors()
                if flavor not in offered.values():
                    where = f"job_params[{index}].FlavorIDList"
                    raise self._unknown_flavor(flavor, where, offered.values())

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
        """CreateService: deploy a version as an online inference service; returns an
        :class:`InferenceService`."""
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
            ServiceIDResponse,
        )
        return InferenceService(self._session, resp.result.service_id, service_name)

    # ---- beyond the documented methods (used by the `mlp` command) ------------------------------

    def get_model(self, model_id: str) -> GetModelResponse:
        """GetModel: one model with its version count and latest version."""
        return self._call(get_model, ModelIDRequest, {"ModelID": model_id}, GetModelResponse)

    def list_resources(
        self, name_contains: str | None = None, offset: int = 0, page_size: int = 100
    ) -> ListResourceResponse:
        """ListResource: the compute flavors, by group."""
        body = drop_none({"NameContains": name_contains, "Offset": offset, "Limit": page_size})
        return self._call(list_resource, ListResourceRequest, body, ListResourceResponse)

    def list_services(
        self,
        service_name_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_order: str = "Descend",
    ) -> ListServicesResponse:
        """ListServices: Total and one page of services."""
        body = drop_none(
            {
                "ServiceNameContains": service_name_contains,
                **_page(offset, page_size, "CreateTime", sort_order, "CreateTimeSortBy"),
            }
        )
        return self._call(list_services, ListServicesRequest, body, ListServicesResponse)

    def iter_services(
        self,
        service_name_contains: str | None = None,
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Service]:
        """Every service matching the filter, fetched page by page as the iteration goes."""
        return iterate(
            lambda offset: self.list_services(service_name_contains, offset, page_size, sort_order).result
        )

    def get_service(self, service_id: str) -> InferenceService:
        """The :class:`InferenceService` ``service_id`` (read once, so a missing one raises NotFoundError)."""
        service = InferenceService(self._session, service_id)
        service.refresh()
        return service
