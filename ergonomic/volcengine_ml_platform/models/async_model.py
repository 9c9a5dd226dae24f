"""``AsyncModel``: the methods of :class:`~.model.Model` for asyncio code (FastAPI, notebooks).

Same arguments, checks, results and errors; requests go through the generated asyncio operations
(:class:`~..async_session.AsyncSession`), so many calls can run at once on one event loop with no
thread per call. File transfers run on the transfer layer's own worker threads, hidden behind the
``await``: the event loop stays free while files move, and the registration steps around the upload
are the same code as ``Model.register`` (so cleanup on failure is the same too). Also importable as
``volcengine_ml_platform.models.model.AsyncModel``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ml_platform_client.models import (
    CreateModelRequest,
    CreateModelResponse,
    CreatePerfJobResponse,
    GetModelResponse,
    GetModelVersionResponse,
    JobIDResponse,
    ListModelsResponse,
    ListModelsResult,
    ListModelVersionsResponse,
    ListModelVersionsResult,
    ListPerfJobsResponse,
    ListPerfJobsResult,
    ListPerfTasksResponse,
    ListPerfTasksResult,
    ListResourceResponse,
    ListServicesResponse,
    ListServicesResult,
    ModelIDResponse,
    ModelSummary,
    ModelVersion,
    ModelVersionIDResponse,
    PerfJob,
    PerfTask,
    Service,
    ServiceIDResponse,
    TaskIDResponse,
    TOSUploadPathResult,
)

from ..async_session import AsyncSession
from ..config import Credentials, resolve_settings
from ..errors import NotFoundError, ServerError, ValidationError
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
from ._listing import MAX_PAGE_SIZE, aiterate

R = TypeVar("R")
T = TypeVar("T")


class AsyncModel:
    """The model repository of one account, for asyncio code; see :class:`~.model.Model`."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        data_dir: str | Path | None = None,
        profile: str | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        self._session = session or AsyncSession(
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
        self._store_lock = asyncio.Lock()

    @property
    def session(self) -> AsyncSession:
        return self._session

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AsyncModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: rq.Request[R]) -> R:
        return request.typed(await self._session.call(request.operation, request.body_cls, request.body))

    # ---- object storage ------------------------------------------------------------------------

    async def _upload_path(self) -> TOSUploadPathResult:
        result = (await self._send(rq.upload_path())).result
        self._store_endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        self._endpoint_known = True
        return result

    async def _object_store(self) -> ObjectStore:
        async with self._store_lock:
            fresh = self._store_expires is None or time.time() < self._store_expires - RENEW_MARGIN
            if self._store is not None and fresh:
                return self._store
            if not self._endpoint_known:
                await self._upload_path()  # the platform says where its objects are
            credentials, self._store_expires = await self._store_credentials()
            self._store = object_store_for(
                self._store_endpoint, region=self._session.region, credentials=credentials
            )
            return self._store

    async def _store_credentials(self) -> tuple[Credentials, float | None]:
        """As :meth:`Model._store_credentials`: the platform's scoped credentials for an S3 store."""
        if not platform_issues_credentials(self._store_endpoint):
            return self._session.credentials, None
        asked = time.time()
        result = (await self._send(rq.sts_token(STS_DURATION))).result
        token = result.session_token or None
        return Credentials(result.access_key_id, result.secret_access_key, token), asked + STS_DURATION

    # ---- models and versions -------------------------------------------------------------------

    async def register(
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
        """``Model.register``: upload ``local_path`` and register it (a new model or a version)."""
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
            await self.get_model(model_id)  # NotFoundError now, not after the upload
        elif model_name and policy != "create":
            model_id = _names.target_model(policy, model_name, await self.find_models(model_name))
        registration = Registration(
            local_path,
            model_id,
            *arguments,
        )
        store = await self._object_store()
        loop = asyncio.get_running_loop()

        def on_loop(coro: Coroutine[Any, Any, T]) -> T:
            # The flow runs in a worker thread; its requests still go out on this event loop.
            return asyncio.run_coroutine_threadsafe(coro, loop).result()

        resp = await asyncio.to_thread(
            register_flow,
            registration,
            body_cls=CreateModelRequest,
            upload_target=lambda: on_loop(self._upload_path()),
            object_store=lambda: store,
            send=lambda body: on_loop(self._send(rq.create(body))),
            progress=progress,
            select=select,
        )
        if not isinstance(resp, CreateModelResponse):
            raise ServerError(f"CreateModel: unexpected answer {type(resp).__name__}")
        return resp

    async def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """``Model.download``: every file of the version into ``local_path``."""
        path = (await self.get_model_version(model_id, model_version)).result.path
        store = await self._object_store()
        return await asyncio.to_thread(
            download_version, path, store, local_path, progress, overwrite=overwrite
        )

    async def get_model_version(self, model_id: str, model_version: str | int) -> GetModelVersionResponse:
        """GetModelVersion: one version (``model_version`` may be ``"latest"``)."""
        return await self._send(rq.get_version(model_id, await self.resolve_version(model_id, model_version)))

    async def unregister(self, model_id: str, model_version: str | int) -> ModelVersionIDResponse:
        """Delete one version (its number is never given again)."""
        return await self._send(rq.delete_version(model_id, model_version))

    async def unregister_all_versions(self, model_id: str) -> ModelIDResponse:
        """Delete a model and all its versions."""
        return await self._send(rq.delete(model_id))

    # ---- addressing by name ----------------------------------------------------------------------

    async def find_models(self, model_name: str) -> list[ModelSummary]:
        """Every model named exactly ``model_name``, newest first."""
        return _names.exact(model_name, [m async for m in self.iter_models(model_name_contains=model_name)])

    async def get_model_by_name(self, model_name: str) -> ModelSummary:
        """The one model named ``model_name`` (NotFoundError / ConflictError otherwise)."""
        return _names.the_one(model_name, await self.find_models(model_name))

    async def resolve_model_id(self, model: str) -> str:
        """``model`` if it is a model ID, else the ID of the one model of that name."""
        if _names.looks_like_model_id(model):
            return model
        return (await self.get_model_by_name(model)).model_id

    async def resolve_version(self, model_id: str, model_version: str | int) -> str:
        """``model_version`` as a number; ``"latest"`` is the model's highest version."""
        if str(model_version).lower() != _names.LATEST:
            return str(model_version)
        latest = (await self.get_model(model_id)).result.latest_version
        if not isinstance(latest, str):
            raise ValidationError(f"model {model_id} has no version yet", field="model_version")
        return latest

    # ---- listings ----------------------------------------------------------------------------------

    async def list_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListModelsResponse:
        """ListModels: Total and one page of models."""
        return await self._send(
            rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order)
        )

    def iter_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[ModelSummary]:
        """Every model matching the filters (``async for``), page by page."""

        async def fetch(offset: int) -> ListModelsResult:
            resp = await self.list_models(
                model_name_contains, id_contains, offset, page_size, sort_by, sort_order
            )
            return resp.result

        return aiterate(fetch)

    async def get_model_versions(
        self,
        model_id: str,
        model_version: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListModelVersionsResponse:
        """ListModelVersions: one page of the model's versions (or the one ``model_version``)."""
        if model_version is not None:
            model_version = await self.resolve_version(model_id, model_version)
        return await self._send(rq.versions(model_id, model_version, offset, page_size, sort_by, sort_order))

    def iter_model_versions(
        self,
        model_id: str,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[ModelVersion]:
        """Every version of the model (``async for``), page by page."""

        async def fetch(offset: int) -> ListModelVersionsResult:
            resp = await self.get_model_versions(model_id, None, offset, page_size, sort_by, sort_order)
            return resp.result

        return aiterate(fetch)

    async def update_model(self, model_id: str, model_name: str | None = None) -> ModelIDResponse:
        """UpdateModel: rename the model."""
        return await self._send(rq.rename(model_id, model_name))

    async def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> ModelVersionIDResponse:
        """UpdateModelVersion: description, tensor config and/or metrics."""
        return await self._send(
            rq.update_version(model_id, model_version, description, tensor_config, model_metrics)
        )

    # ---- perf jobs and tasks -------------------------------------------------------------------

    async def create_perf_job(
        self,
        model_id: str,
        model_version: str,
        tensor_config: dict[str, Any],
        job_type: str,
        job_params: list[Any],
    ) -> CreatePerfJobResponse:
        """CreatePerfJob, with the flavors checked as ``Model.create_perf_job`` checks them."""
        request = rq.perf_job(model_id, model_version, tensor_config, job_type, job_params)
        wanted = rq.flavor_ids(job_params)
        offered = list((await self._flavors()).values()) if wanted else []
        for where, flavor in wanted:
            if flavor not in offered:
                raise rq.unknown_flavor(flavor, where, offered)
        return await self._send(request)

    async def list_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListPerfJobsResponse:
        """ListPerfJobs: one page of perf jobs."""
        return await self._send(
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
    ) -> AsyncIterator[PerfJob]:
        """Every perf job matching the filters (``async for``), page by page."""

        async def fetch(offset: int) -> ListPerfJobsResult:
            resp = await self.list_perf_jobs(
                model_id, model_version, job_id, offset, page_size, sort_by, sort_order
            )
            return resp.result

        return aiterate(fetch)

    async def cancel_perf_job(self, job_id: str) -> JobIDResponse:
        """CancelPerfJob: the job and every unfinished task of it."""
        return await self._send(rq.cancel_job(job_id))

    async def list_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> ListPerfTasksResponse:
        """ListPerfTasks: one page of perf tasks."""
        return await self._send(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))

    def iter_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[PerfTask]:
        """Every perf task matching the filters (``async for``), page by page."""

        async def fetch(offset: int) -> ListPerfTasksResult:
            resp = await self.list_perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order)
            return resp.result

        return aiterate(fetch)

    async def update_perf_task(self, task_id: str, task_status: str | None = None) -> TaskIDResponse:
        """UpdatePerfTask: move a task along a valid transition."""
        return await self._send(rq.update_task(task_id, task_status))

    async def calcel_perf_task(self, task_id: str) -> TaskIDResponse:
        """CancelPerfTask (the documented spelling; :meth:`cancel_perf_task` is the same)."""
        return await self._send(rq.cancel_task(task_id))

    cancel_perf_task = calcel_perf_task

    async def wait_perf_job(
        self, job_id: str, timeout: float = 600.0, poll_interval: float = 0.5
    ) -> ListPerfTasksResponse:
        """As :meth:`Model.wait_perf_job`, without blocking the event loop while it waits."""
        if timeout < 0 or poll_interval <= 0:
            raise ValidationError("timeout must be >= 0 and poll_interval > 0", field="timeout")
        deadline = time.monotonic() + timeout
        while True:
            found = (await self.list_perf_jobs(job_id=job_id)).result
            if not found.list_:
                raise NotFoundError(f"PerfJob {job_id} does not exist", code="NotFound", status_code=404)
            job = found.list_[0]
            if job.task_count == job.ended_task_count:
                return await self.list_perf_tasks(job_id=job_id, page_size=100, sort_order="Ascend")
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"perf job {job_id} not finished after {timeout:g}s: {job.ended_task_count} of "
                    f"{job.task_count} tasks ended (status {job.job_status})"
                )
            await asyncio.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    # ---- deployment and resources ---------------------------------------------------------------

    async def _flavors(self) -> dict[str, str]:
        return rq.flavors_by_name(await self.list_resources(page_size=100))

    async def deploy(
        self,
        model_id: str,
        model_version: str,
        service_name: str,
        flavor: str = "ml.g1e.large",
        image_id: str = "machinelearning/tfserving:tf-cuda10.1",
        envs: dict[str, str] | None = None,
        replica: int | None = 1,
        description: str | None = None,
    ) -> ServiceIDResponse:
        """CreateService. Unlike ``Model.deploy`` (which returns an ``InferenceService``), this returns
        the CreateService response; control the service with the synchronous ``InferenceService``."""
        rq.check_envs(envs)
        offered = await self._flavors()
        if flavor not in offered:
            raise rq.unknown_flavor(flavor, "flavor", list(offered))
        return await self._send(
            rq.create_service_request(
                model_id, model_version, service_name, offered[flavor], image_id, envs, replica, description
            )
        )

    async def get_model(self, model_id: str) -> GetModelResponse:
        """GetModel: one model with its version count and latest version."""
        return await self._send(rq.get(model_id))

    async def list_resources(
        self, name_contains: str | None = None, offset: int = 0, page_size: int = 100
    ) -> ListResourceResponse:
        """ListResource: the compute flavors, by group."""
        return await self._send(rq.resources(name_contains, offset, page_size))

    async def list_services(
        self,
        service_name_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_order: str = "Descend",
    ) -> ListServicesResponse:
        """ListServices: one page of services."""
        return await self._send(rq.services(service_name_contains, offset, page_size, sort_order))

    def iter_services(
        self,
        service_name_contains: str | None = None,
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Service]:
        """Every service matching the filter (``async for``), page by page."""

        async def fetch(offset: int) -> ListServicesResult:
            resp = await self.list_services(service_name_contains, offset, page_size, sort_order)
            return resp.result

        return aiterate(fetch)
