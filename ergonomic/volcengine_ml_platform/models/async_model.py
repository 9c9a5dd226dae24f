"""``AsyncModel``: the methods of :class:`~.model.Model` for asyncio code (FastAPI, notebooks).

Same arguments, checks, results and errors: both classes drive the same plans (:mod:`._core`), this
one on the event loop. Requests go through the generated asyncio operations
(:class:`~..async_session.AsyncSession`), so many calls can run at once on one event loop with no
thread per call. File transfers run on the transfer layer's own worker threads, hidden behind the
``await``; cancelling the awaiting task stops the transfer and cleans up as an interruption of
``Model.register`` does. Also importable as ``volcengine_ml_platform.models.model.AsyncModel``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ml_platform_client.models import (
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
)

from ..async_session import AsyncSession
from ..config import resolve_settings
from . import _requests as rq
from ._common import ProgressCallback, Registration
from ._core import ModelCore, page_of
from ._listing import MAX_PAGE_SIZE, Page, aiterate
from ._plan import Plan, arun, call
from .inference_service import AsyncInferenceService

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
        self._core = ModelCore(self._session.region, self._session.credentials)

    @property
    def session(self) -> AsyncSession:
        return self._session

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AsyncModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[R]) -> R:
        return await arun(
            plan, lambda request: self._session.call(request.operation, request.body_cls, request.body)
        )

    async def _send(self, request: rq.Request[R]) -> R:
        return await self._run(call(request))

    def _pages(self, fetch: Callable[[int], Plan[Page[T]]]) -> AsyncIterator[T]:
        return aiterate(lambda offset: self._run(fetch(offset)))

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
        return await self._run(
            self._core.register(registration, if_exists, allow_patterns, ignore_patterns, progress)
        )

    async def download(
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
        return await self._run(self._core.download(model_id, model_version, local_path, overwrite, progress))

    async def get_model_version(self, model_id: str, model_version: str | int) -> GetModelVersionResponse:
        """GetModelVersion: one version (``model_version`` may be ``"latest"``)."""
        return await self._run(self._core.get_model_version(model_id, model_version))

    async def unregister(self, model_id: str, model_version: str | int) -> ModelVersionIDResponse:
        """Delete one version (its number is never given again)."""
        return await self._send(rq.delete_version(model_id, model_version))

    async def unregister_all_versions(self, model_id: str) -> ModelIDResponse:
        """Delete a model and all its versions."""
        return await self._send(rq.delete(model_id))

    # ---- addressing by name ----------------------------------------------------------------------

    async def find_models(self, model_name: str) -> list[ModelSummary]:
        """Every model named exactly ``model_name`` (names need not be unique), newest first."""
        return await self._run(self._core.find_models(model_name))

    async def get_model_by_name(self, model_name: str) -> ModelSummary:
        """The one model named ``model_name``: NotFoundError if none is, ConflictError (naming their
        IDs) if several are."""
        return await self._run(self._core.get_model_by_name(model_name))

    async def resolve_model_id(self, model: str) -> str:
        """``model`` if it is a model ID, else the ID of the one model of that name."""
        return await self._run(self._core.resolve_model_id(model))

    async def resolve_version(self, model_id: str, model_version: str | int) -> str:
        """``model_version`` as a number; ``"latest"`` is the model's highest version."""
        return await self._run(self._core.resolve_version(model_id, model_version))

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
        """ListModels: Total and one page of models (``iter_models`` pages through all of them)."""
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
        """Every model matching the filters, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(
                rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order)
            )
        )

    async def get_model_versions(
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
        plan = self._core.get_model_versions(model_id, model_version, offset, page_size, sort_by, sort_order)
        return await self._run(plan)

    def iter_model_versions(
        self,
        model_id: str,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[ModelVersion]:
        """Every version of the model, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(rq.versions(model_id, None, offset, page_size, sort_by, sort_order))
        )

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
        """UpdateModelVersion: change the description, tensor config and/or metrics of a version."""
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
        """CreatePerfJob: one task per flavor (and per conversion precision for CONVERT_PERF).

        Every flavor is checked against ListResource first, the same check as :meth:`deploy`, so an
        unknown one raises ValidationError listing the available ones."""
        return await self._run(
            self._core.create_perf_job(model_id, model_version, tensor_config, job_type, job_params)
        )

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
        """ListPerfJobs: one page of perf jobs (of one version when ``model_id`` and ``model_version``
        are given)."""
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
        """Every perf job matching the filters, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(
                rq.perf_jobs(model_id, model_version, job_id, offset, page_size, sort_by, sort_order)
            )
        )

    async def cancel_perf_job(self, job_id: str) -> JobIDResponse:
        """CancelPerfJob: cancel the job and every unfinished task of it."""
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
        """ListPerfTasks: one page of perf tasks (of one job, or the one ``task_id``)."""
        return await self._send(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))

    def iter_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[PerfTask]:
        """Every perf task matching the filters, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))
        )

    async def update_perf_task(self, task_id: str, task_status: str | None = None) -> TaskIDResponse:
        """UpdatePerfTask: move a task to ``task_status`` (only along valid transitions)."""
        return await self._send(rq.update_task(task_id, task_status))

    async def calcel_perf_task(self, task_id: str) -> TaskIDResponse:
        """CancelPerfTask (the documented spelling; :meth:`cancel_perf_task` is the same)."""
        return await self._send(rq.cancel_task(task_id))

    cancel_perf_task = calcel_perf_task

    async def wait_perf_job(
        self, job_id: str, timeout: float = 600.0, poll_interval: float = 0.5
    ) -> ListPerfTasksResponse:
        """Wait until every task of the job has ended (Success, Failed or Cancelled), then return its
        tasks: the ListPerfTasks response (up to 100 tasks, oldest first), each with its Result, or
        its Message when it failed.

        Raises ``TimeoutError`` after ``timeout`` seconds, naming how many tasks are unfinished (the job
        goes on; call again to keep waiting), and ``NotFoundError`` for an unknown job.
        """
        return await self._run(self._core.wait_perf_job(job_id, timeout, poll_interval))

    # ---- deployment ------------------------------------------------------------------------------

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
    ) -> AsyncInferenceService:
        """CreateService: deploy a version as an online inference service; returns an
        :class:`~.inference_service.AsyncInferenceService` (``await service.refresh()`` reads it)."""
        plan = self._core.deploy(
            model_id, model_version, service_name, flavor, image_id, envs, replica, description
        )
        return AsyncInferenceService(self._session, (await self._run(plan)).result.service_id, service_name)

    # ---- beyond the documented methods (used by the `mlp` command) ------------------------------

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
        """ListServices: Total and one page of services."""
        return await self._send(rq.services(service_name_contains, offset, page_size, sort_order))

    def iter_services(
        self,
        service_name_contains: str | None = None,
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Service]:
        """Every service matching the filter, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(rq.services(service_name_contains, offset, page_size, sort_order))
        )

    async def get_service(self, service_id: str) -> AsyncInferenceService:
        """The :class:`AsyncInferenceService` ``service_id`` (read once: a missing one raises
        NotFoundError)."""
        service = AsyncInferenceService(self._session, service_id)
        await service.refresh()
        return service
