"""The logic of :class:`~.model.Model` and :class:`~.model.AsyncModel`, written once as plans
(:mod:`._plan`): the object store's credentials, register's lookups and upload, ``latest``, names,
flavor checks, waiting for perf jobs. The two classes only drive these plans, in a thread or on an
event loop, and hold this object's state (which store, whose credentials, until when).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ml_platform_client.models import (
    CreateModelRequest,
    CreateModelResponse,
    CreatePerfJobResponse,
    GetModelVersionResponse,
    ListModelVersionsResponse,
    ListPerfTasksResponse,
    ModelSummary,
    ServiceIDResponse,
    TOSUploadPathResult,
)

from ..config import Credentials
from ..errors import NotFoundError, ValidationError
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
    download_plan,
    register_plan,
)
from ._listing import Page
from ._plan import Plan, call, pause

T = TypeVar("T")
R = TypeVar("R")


def page_of(request: rq.Request[Any]) -> Plan[Page[Any]]:
    """One page of a listing: its ``Result`` (Total and List)."""
    answer = yield from call(request)
    result: Page[Any] = answer.result
    return result


def every(fetch: Callable[[int], Plan[Page[T]]]) -> Plan[list[T]]:
    """Every item of a listing, page after page (as :func:`._listing.iterate`, all at once)."""
    items: list[T] = []
    while True:
        page = yield from fetch(len(items))
        items.extend(page.list_)
        if not page.list_ or len(items) >= page.total:
            return items


class ModelCore:
    """The plans of the public model repository, and the state they share."""

    def __init__(self, region: str, credentials: Credentials) -> None:
        self.region = region
        self.credentials = credentials
        self._store_endpoint: str | None = None
        self._endpoint_known = False
        self._store: ObjectStore | None = None
        self._store_expires: float | None = None  # when the store's temporary credentials expire

    # ---- object storage ------------------------------------------------------------------------

    def upload_target(self) -> Plan[TOSUploadPathResult]:
        result = (yield from call(rq.upload_path())).result
        self._store_endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        self._endpoint_known = True
        return result

    def object_store(self) -> Plan[ObjectStore]:
        # No lock: two callers racing here both ask for credentials (idempotent reads); the last wins.
        fresh = self._store_expires is None or time.time() < self._store_expires - RENEW_MARGIN
        if self._store is not None and fresh:
            return self._store
        if not self._endpoint_known:
            yield from self.upload_target()  # the platform says where its objects are
        credentials, expires = yield from self._store_credentials()
        self._store = object_store_for(self._store_endpoint, region=self.region, credentials=credentials)
        self._store_expires = expires
        return self._store

    def _store_credentials(self) -> Plan[tuple[Credentials, float | None]]:
        """Temporary credentials of this account's bucket from the platform (Local platform:
        GetSTSToken on the open door) when it names an S3 store; else the configured keys."""
        if not platform_issues_credentials(self._store_endpoint):
            return self.credentials, None
        asked = time.time()
        result = (yield from call(rq.sts_token(STS_DURATION))).result
        token = result.session_token or None
        return Credentials(result.access_key_id, result.secret_access_key, token), asked + STS_DURATION

    # ---- models and versions -------------------------------------------------------------------

    def register(
        self,
        registration: Registration,
        if_exists: str,
        allow_patterns: Sequence[str] | None,
        ignore_patterns: Sequence[str] | None,
        progress: ProgressCallback | None,
    ) -> Plan[CreateModelResponse]:
        policy = _names.check_if_exists(if_exists)
        local = Path(registration.local_path)
        select = file_filter(local, allow_patterns, ignore_patterns) if local.is_dir() else None
        # Every argument is checked before anything is sent (the lookups below are requests).
        check_registration(registration, CreateModelRequest)
        model_id, name = registration.model_id, registration.model_name
        if model_id is not None:
            yield from call(rq.get(model_id))  # NotFoundError now, not after the upload
        elif name and policy != "create":
            found = yield from self.find_models(name)
            registration = registration.for_model(_names.target_model(policy, name, found))
        return (
            yield from register_plan(
                registration,
                body_cls=CreateModelRequest,
                upload_target=self.upload_target,
                object_store=self.object_store,
                create=lambda body: call(rq.create(body)),
                progress=progress,
                select=select,
            )
        )

    def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        overwrite: bool,
        progress: ProgressCallback | None,
    ) -> Plan[list[Path]]:
        path = (yield from self.get_model_version(model_id, model_version)).result.path
        store = yield from self.object_store()
        return (yield from download_plan(path, store, local_path, progress, overwrite))

    def get_model_version(self, model_id: str, model_version: str | int) -> Plan[GetModelVersionResponse]:
        number = yield from self.resolve_version(model_id, model_version)
        return (yield from call(rq.get_version(model_id, number)))

    def get_model_versions(
        self,
        model_id: str,
        model_version: str | None,
        offset: int,
        page_size: int,
        sort_by: str,
        sort_order: str,
    ) -> Plan[ListModelVersionsResponse]:
        if model_version is not None:
            model_version = yield from self.resolve_version(model_id, model_version)
        return (yield from call(rq.versions(model_id, model_version, offset, page_size, sort_by, sort_order)))

    # ---- addressing by name ----------------------------------------------------------------------

    def find_models(self, model_name: str) -> Plan[list[ModelSummary]]:
        def fetch(offset: int) -> Plan[Page[ModelSummary]]:
            return page_of(rq.models(model_name, None, offset, 100, "CreateTime", "Descend"))

        return _names.exact(model_name, (yield from every(fetch)))

    def get_model_by_name(self, model_name: str) -> Plan[ModelSummary]:
        return _names.the_one(model_name, (yield from self.find_models(model_name)))

    def resolve_model_id(self, model: str) -> Plan[str]:
        if _names.looks_like_model_id(model):
            return model
        return (yield from self.get_model_by_name(model)).model_id

    def resolve_version(self, model_id: str, model_version: str | int) -> Plan[str]:
        if str(model_version).lower() != _names.LATEST:
            return str(model_version)
        latest = (yield from call(rq.get(model_id))).result.latest_version
        if not isinstance(latest, str):
            raise ValidationError(f"model {model_id} has no version yet", field="model_version")
        return latest

    # ---- perf jobs -------------------------------------------------------------------------------

    def flavors(self) -> Plan[dict[str, str]]:
        """Flavor name -> ID, as ListResource offers them."""
        return rq.flavors_by_name((yield from call(rq.resources(None, 0, 100))))

    def create_perf_job(
        self,
        model_id: str,
        model_version: str,
        tensor_config: dict[str, Any],
        job_type: str,
        job_params: list[Any],
    ) -> Plan[CreatePerfJobResponse]:
        request = rq.perf_job(model_id, model_version, tensor_config, job_type, job_params)
        wanted = rq.flavor_ids(job_params)
        if wanted:  # checked like deploy checks its flavor, before the job exists
            offered = set((yield from self.flavors()).values())
            for where, flavor in wanted:
                rq.check_flavor(flavor, where, offered)
        return (yield from call(request))

    def wait_perf_job(self, job_id: str, timeout: float, poll_interval: float) -> Plan[ListPerfTasksResponse]:
        if timeout < 0 or poll_interval <= 0:
            raise ValidationError("timeout must be >= 0 and poll_interval > 0", field="timeout")
        deadline = time.monotonic() + timeout
        while True:
            found = (yield from call(rq.perf_jobs(None, None, job_id, 0, 10, "CreateTime", "Descend"))).result
            if not found.list_:
                raise NotFoundError(f"PerfJob {job_id} does not exist", code="NotFound", status_code=404)
            job = found.list_[0]
            if job.task_count == job.ended_task_count:
                return (yield from call(rq.perf_tasks(None, job_id, 0, 100, "CreateTime", "Ascend")))
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"perf job {job_id} not finished after {timeout:g}s: {job.ended_task_count} of "
                    f"{job.task_count} tasks ended (status {job.job_status})"
                )
            yield from pause(min(poll_interval, max(0.0, deadline - time.monotonic())))

    # ---- deployment ------------------------------------------------------------------------------

    def deploy(
        self,
        model_id: str,
        model_version: str,
        service_name: str,
        flavor: str,
        image_id: str,
        envs: dict[str, str] | None,
        replica: int | None,
        description: str | None,
    ) -> Plan[ServiceIDResponse]:
        rq.check_envs(envs)
        offered = yield from self.flavors()
        rq.check_flavor(flavor, "flavor", offered)
        request = rq.create_service_request(
            model_id, model_version, service_name, offered[flavor], image_id, envs, replica, description
        )
        return (yield from call(request))
