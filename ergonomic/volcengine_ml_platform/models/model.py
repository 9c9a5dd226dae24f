"""``volcengine_ml_platform.models.model.Model``: the model repository, as documented; and
``AsyncModel``, the same methods for asyncio code.

Every method returns the service's JSON response as a generated model: index it like the documented
dict (``resp["Result"]["ModelID"]``) or use typed attributes (``resp.result.model_id``). Failures
raise :mod:`volcengine_ml_platform.errors` exceptions carrying the service's Code and RequestId.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ml_platform_client.models import (
    CreateModelRequest,
    CreateModelResponse,
    CreatePerfJobResponse,
    GetModelResponse,
    GetModelVersionResponse,
    JobIDResponse,
    ListModelsResponse,
    ListModelVersionsResponse,
    ListPerfJobsResponse,
    ListPerfTasksResponse,
    ListResourceResponse,
    ListServicesResponse,
    ModelIDResponse,
    ModelSummary,
    ModelVersion,
    ModelVersionIDResponse,
    PerfJob,
    PerfTask,
    Service,
    TaskIDResponse,
    TOSUploadPathResult,
)

from ..config import Credentials, resolve_settings
from ..errors import NotFoundError, ServerError, ValidationError
from ..session import Session
from ..storage import object_store_for, platform_issues_credentials
from ..transfer.base import ObjectStore
from ..transfer.selection import file_filter
from . import _names
from . import _requests as rq
from ._common import (
    RENEW_MARGIN,
    STS_DURATION,
    ProgressCallback,
    Registration,
    check_registration,
    download_version,
    register_flow,
)
from ._listing import MAX_PAGE_SIZE, iterate
from .inference_service import InferenceService

R = TypeVar("R")


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
        self._endpoint_known = False
        self._store: ObjectStore | None = None
        self._store_expires: float | None = None  # when the store's temporary credentials expire
        self._store_lock = threading.Lock()

    @property
    def session(self) -> Session:
        return self._session

    def _send(self, request: rq.Request[R]) -> R:
        return request.typed(self._session.call(request.operation, request.body_cls, request.body))

    # ---- object storage ------------------------------------------------------------------------

    def _upload_path(self) -> TOSUploadPathResult:
        result = self._send(rq.upload_path()).result
        self._store_endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        self._endpoint_known = True
        return result

    def _object_store(self) -> ObjectStore:
        with self._store_lock:
            fresh = self._store_expires is None or time.time() < self._store_expires - RENEW_MARGIN
            if self._store is not None and fresh:
                return self._store
            if not self._endpoint_known:
                self._upload_path()  # the platform says where its objects are
            credentials, self._store_expires = self._store_credentials()
            self._store = object_store_for(
                self._store_endpoint, region=self._session.region, credentials=credentials
            )
            return self._store

    def _store_credentials(self) -> tuple[Credentials, float | None]:
        """Temporary credentials of this account's bucket from the platform (Local platform:
        GetSTSToken on the open door) when it names an S3 store; else the configured keys."""
        if not platform_issues_credentials(self._store_endpoint):
            return self._session.credentials, None
        asked = time.time()
        result = self._send(rq.sts_token(STS_DURATION)).result
        token = result.session_token or None
        return Credentials(result.access_key_id, result.secret_access_key, token), asked + STS_DURATION

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
        arguments = (
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
        # Every argument is checked before anything is sent (the lookups below are requests).
        check_registration(Registration(local_path, model_id, *arguments), CreateModelRequest)
        if model_id is not None:
            self.get_model(model_id)  # NotFoundError now, not after the upload
        elif model_name and policy != "create":
            model_id = _names.target_model(policy, model_name, self.find_models(model_name))
        registration = Registration(
            local_path,
            model_id,
            *arguments,
        )
        resp = register_flow(
            registration,
            body_cls=CreateModelRequest,
            upload_target=self._upload_path,
            object_store=self._object_store,
            send=lambda body: self._send(rq.create(body)),
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
        return self._send(rq.get_version(model_id, self.resolve_version(model_id, model_version)))

    def unregister(self, model_id: str, model_version: str | int) -> ModelVersionIDResponse:
        """Delete one version (its number is never given again)."""
        return self._send(rq.delete_version(model_id, model_version))

    def unregister_all_versions(self, model_id: str) -> ModelIDResponse:
        """Delete a model and all its versions."""
        return self._send(rq.delete(model_id))

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
        return self._send(rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order))

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
        return self._send(rq.versions(model_id, model_version, offset, page_size, sort_by, sort_order))

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
        return self._send(rq.rename(model_id, model_name))

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> ModelVersionIDResponse:
        """UpdateModelVersion: change the description, tensor config and/or metrics of a version."""
        return self._send(
            rq.update_version(model_id, model_version, description, tensor_config, model_metrics)
        )

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
        request = rq.perf_job(model_id, model_version, tensor_config, job_type, job_params)
        self._check_flavors(job_params)
        return self._send(request)

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
        return self._send(
            rq.perf_jobs(model_id, model_version, job_id, offset, page_size, sort_by, sort_order)
        )

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
        return self._send(rq.cancel_job(job_id))

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
        return self._send(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))

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
        return self._send(rq.update_task(task_id, task_status))

    def calcel_perf_task(self, task_id: str) -> TaskIDResponse:
        """CancelPerfTask (the documented spelling; :meth:`cancel_perf_task` is the same)."""
        return self._send(rq.cancel_task(task_id))

    cancel_perf_task = calcel_perf_task

    def wait_perf_job(
        self, job_id: str, timeout: float = 600.0, poll_interval: float = 0.5
    ) -> ListPerfTasksResponse:
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

    def _flavors(self) -> dict[str, str]:
        """Flavor name -> ID, as ListResource offers them."""
        return rq.flavors_by_name(self.list_resources(page_size=100))

    def _flavor_id(self, flavor: str) -> str:
        offered = self._flavors()
        if flavor not in offered:
            raise rq.unknown_flavor(flavor, "flavor", list(offered))
        return offered[flavor]

    def _check_flavors(self, job_params: list[Any]) -> None:
        """The flavors of a perf job, checked like :meth:`deploy` checks its flavor."""
        wanted = rq.flavor_ids(job_params)
        offered = list(self._flavors().values()) if wanted else []
        for where, flavor in wanted:
            if flavor not in offered:
                raise rq.unknown_flavor(flavor, where, offered)

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
        rq.check_envs(envs)
        flavor_id = self._flavor_id(flavor)
        resp = self._send(
            rq.create_service_request(
                model_id, model_version, service_name, flavor_id, image_id, envs, replica, description
            )
        )
        return InferenceService(self._session, resp.result.service_id, service_name)

    # ---- beyond the documented methods (used by the `mlp` command) ------------------------------

    def get_model(self, model_id: str) -> GetModelResponse:
        """GetModel: one model with its version count and latest version."""
        return self._send(rq.get(model_id))

    def list_resources(
        self, name_contains: str | None = None, offset: int = 0, page_size: int = 100
    ) -> ListResourceResponse:
        """ListResource: the compute flavors, by group."""
        return self._send(rq.resources(name_contains, offset, page_size))

    def list_services(
        self,
        service_name_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_order: str = "Descend",
    ) -> ListServicesResponse:
        """ListServices: Total and one page of services."""
        return self._send(rq.services(service_name_contains, offset, page_size, sort_order))

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


if TYPE_CHECKING:
    from .async_model import AsyncModel


def __getattr__(name: str) -> Any:
    # The asyncio twin, importable from here as documented; loaded on first use (asyncio costs ~15 ms).
    if name == "AsyncModel":
        from .async_model import AsyncModel

        return AsyncModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AsyncModel", "Model"]
