"""``volcengine_ml_platform.models.model.Model``: the model repository, as documented; and
``AsyncModel``, the same methods for asyncio code.

Every method returns the service's JSON response as a generated model: index it like the documented
dict (``resp["Result"]["ModelID"]``) or use typed attributes (``resp.result.model_id``). Failures
raise :mod:`volcengine_ml_platform.errors` exceptions carrying the service's Code and RequestId.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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

from ..config import resolve_settings
from ..session import Session
from . import _requests as rq
from ._common import ProgressCallback, Registration
from ._core import ModelCore, page_of
from ._listing import MAX_PAGE_SIZE, Page, iterate
from ._plan import Plan, call, run
from .inference_service import InferenceService

R = TypeVar("R")
T = TypeVar("T")


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
        self._core = ModelCore(self._session.region, self._session.credentials)

    @property
    def session(self) -> Session:
        return self._session

    def _run(self, plan: Plan[R]) -> R:
        return run(
            plan, lambda request: self._session.call(request.operation, request.body_cls, request.body)
        )

    def _send(self, request: rq.Request[R]) -> R:
        return self._run(call(request))

    def _pages(self, fetch: Callable[[int], Plan[Page[T]]]) -> Iterator[T]:
        return iterate(lambda offset: self._run(fetch(offset)))

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
        return self._run(
            self._core.register(registration, if_exists, allow_patterns, ignore_patterns, progress)
        )

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
        return self._run(self._core.download(model_id, model_version, local_path, overwrite, progress))

    def get_model_version(self, model_id: str, model_version: str | int) -> GetModelVersionResponse:
        """GetModelVersion: one version (``model_version`` may be ``"latest"``)."""
        return self._run(self._core.get_model_version(model_id, model_version))

    def unregister(self, model_id: str, model_version: str | int) -> ModelVersionIDResponse:
        """Delete one version (its number is never given again)."""
        return self._send(rq.delete_version(model_id, model_version))

    def unregister_all_versions(self, model_id: str) -> ModelIDResponse:
        """Delete a model and all its versions."""
        return self._send(rq.delete(model_id))

    # ---- addressing by name ----------------------------------------------------------------------

    def find_models(self, model_name: str) -> list[ModelSummary]:
        """Every model named exactly ``model_name`` (names need not be unique), newest first."""
        return self._run(self._core.find_models(model_name))

    def get_model_by_name(self, model_name: str) -> ModelSummary:
        """The one model named ``model_name``: NotFoundError if none is, ConflictError (naming their
        IDs) if several are."""
        return self._run(self._core.get_model_by_name(model_name))

    def resolve_model_id(self, model: str) -> str:
        """``model`` if it is a model ID, else the ID of the one model of that name."""
        return self._run(self._core.resolve_model_id(model))

    def resolve_version(self, model_id: str, model_version: str | int) -> str:
        """``model_version`` as a number; ``"latest"`` is the model's highest version."""
        return self._run(self._core.resolve_version(model_id, model_version))

    # ---- listings ----------------------------------------------------------------------------------

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
        return self._pages(
            lambda offset: page_of(
                rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order)
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
        plan = self._core.get_model_versions(model_id, model_version, offset, page_size, sort_by, sort_order)
        return self._run(plan)

    def iter_model_versions(
        self,
        model_id: str,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ModelVersion]:
        """Every version of the model, fetched page by page as the iteration goes."""
        return self._pages(
            lambda offset: page_of(rq.versions(model_id, None, offset, page_size, sort_by, sort_order))
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
        return self._run(
            self._core.create_perf_job(model_id, model_version, tensor_config, job_type, job_params)
        )

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
        return self._pages(
            lambda offset: page_of(
                rq.perf_jobs(model_id, model_version, job_id, offset, page_size, sort_by, sort_order)
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
        return self._pages(
            lambda offset: page_of(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))
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
        return self._run(self._core.wait_perf_job(job_id, timeout, poll_interval))

    # ---- deployment ------------------------------------------------------------------------------

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
        plan = self._core.deploy(
            model_id, model_version, service_name, flavor, image_id, envs, replica, description
        )
        return InferenceService(self._session, self._run(plan).result.service_id, service_name)

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
        return self._pages(
            lambda offset: page_of(rq.services(service_name_contains, offset, page_size, sort_order))
        )

    def get_service(self, service_id: str) -> InferenceService:
        """The :class:`InferenceService` ``service_id`` (read once, so a missing one raises NotFoundError)."""
        service = InferenceService(self._session, service_id)
        service.refresh()
        return service


from .async_model import AsyncModel  # noqa: E402 - the asyncio twin, importable from here as documented

__all__ = ["AsyncModel", "Model"]
