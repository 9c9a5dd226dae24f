"""``volcengine_ml_platform.models.model.Model``: the model repository, as documented; and
``AsyncModel``, the same methods for asyncio code.

Every method returns the service's JSON response as a generated model: index it like the documented
dict (``resp["Result"]["ModelID"]``) or use typed attributes (``resp.result.model_id``). Failures
raise :mod:`volcengine_ml_platform.errors` exceptions carrying the service's Code and RequestId.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import resolve_settings
from ._core import ModelCore
from ._plan import Plan, run, sync_method, sync_pages
from .inference_service import InferenceService

if TYPE_CHECKING:
    from ..session import Session

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
        if session is None:
            # The HTTP stack (httpx, ssl, the generated client) is imported by the first Model, not by
            # importing this module: a program that only imports it (or `mlp --help`) does not pay.
            from ..session import Session

            session = Session(
                resolve_settings(
                    endpoint=endpoint,
                    access_key=access_key,
                    secret_key=secret_key,
                    region=region,
                    data_dir=data_dir,
                    profile=profile,
                )
            )
        self._session = session
        self._core = ModelCore(self._session.region, self._session.credentials, self._session.scope)

    @property
    def session(self) -> Session:
        return self._session

    def close(self) -> None:
        """Close the connections (HTTP) or let go of the embedded platform (closed with the last Model
        of its data folder). The Model cannot be used after; closing it again does nothing."""
        self._session.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, plan: Plan[R]) -> R:
        return run(
            plan, lambda request: self._session.call(request.operation, request.body_cls, request.body)
        )

    # The documented methods: signatures, docstrings and logic are ModelCore's (see ._core).
    # models and versions
    register = sync_method(ModelCore.register)
    download = sync_method(ModelCore.download)
    get_model_version = sync_method(ModelCore.get_model_version)
    unregister = sync_method(ModelCore.unregister)
    unregister_all_versions = sync_method(ModelCore.unregister_all_versions)
    get_model = sync_method(ModelCore.get_model)

    # addressing by name
    find_models = sync_method(ModelCore.find_models)
    get_model_by_name = sync_method(ModelCore.get_model_by_name)
    resolve_model_id = sync_method(ModelCore.resolve_model_id)
    resolve_version = sync_method(ModelCore.resolve_version)

    # listings
    list_models = sync_method(ModelCore.list_models)
    iter_models = sync_pages(ModelCore.iter_models)
    get_model_versions = sync_method(ModelCore.get_model_versions)
    iter_model_versions = sync_pages(ModelCore.iter_model_versions)
    update_model = sync_method(ModelCore.update_model)
    update_model_version = sync_method(ModelCore.update_model_version)

    # perf jobs and tasks
    create_perf_job = sync_method(ModelCore.create_perf_job)
    list_perf_jobs = sync_method(ModelCore.list_perf_jobs)
    iter_perf_jobs = sync_pages(ModelCore.iter_perf_jobs)
    cancel_perf_job = sync_method(ModelCore.cancel_perf_job)
    list_perf_tasks = sync_method(ModelCore.list_perf_tasks)
    iter_perf_tasks = sync_pages(ModelCore.iter_perf_tasks)
    update_perf_task = sync_method(ModelCore.update_perf_task)
    calcel_perf_task = sync_method(ModelCore.calcel_perf_task)
    wait_perf_job = sync_method(ModelCore.wait_perf_job)

    # resources and services
    list_resources = sync_method(ModelCore.list_resources)
    list_services = sync_method(ModelCore.list_services)
    iter_services = sync_pages(ModelCore.iter_services)

    cancel_perf_task = calcel_perf_task

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
        :class:`InferenceService`. The flavor is checked against ListResource first, so an unknown one
        raises ValidationError listing the available ones. ``model_version`` is a version number or
        ``"latest"``: the model's highest version now, which the service then keeps.

        On the embedded platform (no endpoint) this process serves the data folder's services from
        its first service action until it exits, unless another process (``mlp serve``) does; once
        it exits they read Pending, saying that ``mlp serve --data-dir ...`` serves them again."""
        created = self._run(
            self._core.create_service(
                model_id, model_version, service_name, flavor, image_id, envs, replica, description
            )
        )
        return InferenceService(self._session, created.result.service_id, service_name)

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
