"""``AsyncModel``: the methods of :class:`~.model.Model` for asyncio code (FastAPI, notebooks).

Same arguments, checks, results and errors: both classes drive the same plans (:mod:`._core`), this
one on the event loop. Requests go through the generated asyncio operations
(:class:`~..async_session.AsyncSession`), so many calls can run at once on one event loop with no
thread per call. File transfers run on the transfer layer's own worker threads, hidden behind the
``await``; cancelling the awaiting task stops the transfer and cleans up as an interruption of
``Model.register`` does. Also importable as ``volcengine_ml_platform.models.model.AsyncModel``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from ..async_session import AsyncSession
from ..config import resolve_settings
from ._core import ModelCore
from ._plan import Plan, arun, async_method, async_pages
from .inference_service import AsyncInferenceService

R = TypeVar("R")


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
        self._core = ModelCore(self._session.region, self._session.credentials, self._session.scope)

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

    # The documented methods: signatures, docstrings and logic are ModelCore's (see ._core).
    # models and versions
    register = async_method(ModelCore.register)
    download = async_method(ModelCore.download)
    get_model_version = async_method(ModelCore.get_model_version)
    unregister = async_method(ModelCore.unregister)
    unregister_all_versions = async_method(ModelCore.unregister_all_versions)
    get_model = async_method(ModelCore.get_model)

    # addressing by name
    find_models = async_method(ModelCore.find_models)
    get_model_by_name = async_method(ModelCore.get_model_by_name)
    resolve_model_id = async_method(ModelCore.resolve_model_id)
    resolve_version = async_method(ModelCore.resolve_version)

    # listings
    list_models = async_method(ModelCore.list_models)
    iter_models = async_pages(ModelCore.iter_models)
    get_model_versions = async_method(ModelCore.get_model_versions)
    iter_model_versions = async_pages(ModelCore.iter_model_versions)
    update_model = async_method(ModelCore.update_model)
    update_model_version = async_method(ModelCore.update_model_version)

    # perf jobs and tasks
    create_perf_job = async_method(ModelCore.create_perf_job)
    list_perf_jobs = async_method(ModelCore.list_perf_jobs)
    iter_perf_jobs = async_pages(ModelCore.iter_perf_jobs)
    cancel_perf_job = async_method(ModelCore.cancel_perf_job)
    list_perf_tasks = async_method(ModelCore.list_perf_tasks)
    iter_perf_tasks = async_pages(ModelCore.iter_perf_tasks)
    update_perf_task = async_method(ModelCore.update_perf_task)
    calcel_perf_task = async_method(ModelCore.calcel_perf_task)
    wait_perf_job = async_method(ModelCore.wait_perf_job)

    # resources and services
    list_resources = async_method(ModelCore.list_resources)
    list_services = async_method(ModelCore.list_services)
    iter_services = async_pages(ModelCore.iter_services)

    cancel_perf_task = calcel_perf_task

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
        """As :meth:`.Model.deploy`; returns an :class:`~.inference_service.AsyncInferenceService`
        (``await service.refresh()`` reads it)."""
        created = await self._run(
            self._core.create_service(
                model_id, model_version, service_name, flavor, image_id, envs, replica, description
            )
        )
        return AsyncInferenceService(self._session, created.result.service_id, service_name)

    async def get_service(self, service_id: str) -> AsyncInferenceService:
        """The :class:`~.inference_service.AsyncInferenceService` ``service_id``, read once."""
        service = AsyncInferenceService(self._session, service_id)
        await service.refresh()
        return service
