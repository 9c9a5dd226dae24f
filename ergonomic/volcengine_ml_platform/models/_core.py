"""The documented methods of :class:`~.model.Model` and :class:`~.model.AsyncModel`, written once as
plans (:mod:`._plan`): each method's signature, docstring, checks, requests and response checks,
paging, the name lookups, register's plan, waiting for perf jobs. ``Model`` and ``AsyncModel`` are
made of these functions (``sync_method(ModelCore.list_models)`` ...), and only drive them, in the
calling thread or on an event loop; this object holds their shared state (which object store,
whose credentials, until when).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import Credentials
from ..errors import NotFoundError, ValidationError
from . import _names, validation
from . import _requests as rq
from ._common import (
    STS_DURATION,
    ProgressCallback,
    Registration,
    check_registration,
    download_plan,
    register_plan,
)
from ._listing import MAX_PAGE_SIZE, Page
from ._plan import Pages, Plan, Send, blocking, call, pause, run, sender

if TYPE_CHECKING:  # the generated models a request needs are imported when it is built (_requests)
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
        ServiceIDResponse,
        TaskIDResponse,
        TOSUploadPathResult,
    )

    from ..transfer.base import ObjectStore  # the transfer layer: loaded by the first upload/download
    from ..transfer.credentials import RenewingKeys, StoreKeys
    from ._name_lock import NameLock  # loaded by the first registration that creates a name

T = TypeVar("T")
R = TypeVar("R")


def _store_keys(credentials: Credentials, expires: float | None) -> StoreKeys:
    from ..transfer.credentials import StoreKeys

    if expires is None:  # the platform stopped issuing temporary keys: keep these until the next call
        expires = float("inf")
    return StoreKeys(credentials.access_key, credentials.secret_key, credentials.session_token, expires)


def _stand_in(version: str) -> str:
    """A checked version, or a number standing in for ``"latest"`` while the other arguments of a request
    are checked (before the GetModel that resolves it)."""
    return "1" if version == _names.LATEST else version


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

    def __init__(self, region: str, credentials: Credentials, scope: str = "") -> None:
        self.region = region
        self.credentials = credentials
        self.scope = scope  # which platform: the clients of one machine share its name locks
        self._store_endpoint: str | None = None
        self._endpoint_known = False
        self._store: ObjectStore | None = None
        self._renewing: RenewingKeys | None = None  # the store's temporary credentials, if any

    # ---- object storage ------------------------------------------------------------------------

    def upload_target(self) -> Plan[TOSUploadPathResult]:
        result = (yield from call(rq.upload_path())).result
        self._store_endpoint = result.endpoint if isinstance(result.endpoint, str) else None
        self._endpoint_known = True
        return result

    def object_store(self) -> Plan[ObjectStore]:
        # No lock: two callers racing here both ask for credentials (idempotent reads); the last wins.
        send = yield from sender()
        if self._store is not None:
            if self._renewing is not None:  # renewals go through this call's driver (its event loop)
                self._renewing.fetch = self._fetch_keys(send)
            return self._store
        if not self._endpoint_known:
            yield from self.upload_target()  # the platform says where its objects are
        credentials, expires = yield from self._store_credentials()
        from ..storage import object_store_for

        renewing = None
        if expires is not None:  # temporary: asked for again before they expire, even mid-transfer
            from ..transfer.credentials import RenewingKeys

            renewing = RenewingKeys(_store_keys(credentials, expires), self._fetch_keys(send))
        self._store = object_store_for(
            self._store_endpoint, region=self.region, credentials=credentials, renewing=renewing
        )
        self._renewing = renewing
        return self._store

    def _fetch_keys(self, send: Send) -> Callable[[], StoreKeys]:
        def fetch() -> StoreKeys:
            credentials, expires = run(self._store_credentials(), send)
            return _store_keys(credentials, expires)

        return fetch

    def _store_credentials(self) -> Plan[tuple[Credentials, float | None]]:
        """Temporary credentials of this account's bucket from the platform (Local platform:
        GetSTSToken on the open door) when it names an S3 store; else the configured keys."""
        from ..storage import platform_issues_credentials

        if not platform_issues_credentials(self._store_endpoint):
            return self.credentials, None
        from ..transfer import credentials as store_credentials

        asked = store_credentials.now()  # the clock the renewal goes by
        result = (yield from call(rq.sts_token(STS_DURATION))).result
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
    ) -> Plan[CreateModelResponse]:
        """Upload ``local_path`` and register it as a new model, or as the next version of ``model_id``.

        ``if_exists`` decides what a new ``model_name`` does when a model of that name exists already:
        ``"create"`` another model of the same name (the documented behaviour), add a
        ``"new_version"`` to it, or raise ``ConflictError`` (``"error"``). Several models of that name
        make ``"new_version"`` raise ConflictError too.

        ``allow_patterns`` / ``ignore_patterns`` (gitignore-style globs) pick the files of a folder;
        ``.git/``, ``__pycache__/``, ``.DS_Store`` and the patterns of a ``.mlpignore`` file are
        always left out (see :mod:`volcengine_ml_platform.transfer.selection`). A ``model_id`` that
        does not exist raises NotFoundError before any byte is uploaded. ``AsyncModel.register``
        cancelled during the upload stops it and removes what was uploaded.

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
        policy = _names.check_if_exists(if_exists)
        validation.validate_local_path(local_path)  # before Path(): None or 123 is a ValidationError
        local = Path(local_path)
        from ml_platform_client.models import CreateModelRequest

        from ..transfer.selection import file_filter

        select = file_filter(local, allow_patterns, ignore_patterns) if local.is_dir() else None

        # Every argument is checked before anything is sent (the lookups below are requests).
        listed = check_registration(registration, CreateModelRequest, select)
        lock: NameLock | None = None
        try:
            if model_id is not None:
                yield from call(rq.get(model_id))  # NotFoundError now, not after the upload
            elif model_name and policy != "create":
                found = yield from self.find_models(model_name)
                target = _names.target_model(policy, model_name, found)
                if target is None:
                    # No model has the name yet: this registration creates it, so a concurrent one of
                    # the same name on this machine waits, then finds it (see _name_lock).
                    from ._name_lock import NameLock

                    lock = NameLock(self.scope, self.credentials.access_key, model_name)
                    yield from blocking(lock.acquire)
                    found = yield from self.find_models(model_name)
                    target = _names.target_model(policy, model_name, found)
                registration = registration.for_model(target)
            return (
                yield from register_plan(
                    registration,
                    body_cls=CreateModelRequest,
                    upload_target=self.upload_target,
                    object_store=self.object_store,
                    create=lambda body: call(rq.create(body)),
                    progress=progress,
                    # Checked and listed above, before the lookups; a model found by name only adds its id.
                    checked=True,
                    listed=listed,
                )
            )
        finally:
            if lock is not None:
                lock.release()

    def download(
        self,
        model_id: str,
        model_version: str,
        local_path: str,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Plan[list[Path]]:
        """Download every file of the version into the folder ``local_path``; returns its files there.

        A file already in ``local_path`` with the same content is kept (not transferred again); one that
        differs raises ValidationError before anything is written, unless ``overwrite`` is true.
        ``model_version`` may be ``"latest"``.
        """
        validation.validate_destination(local_path)
        path = (yield from self.get_model_version(model_id, model_version)).result.path
        store = yield from self.object_store()
        return (yield from download_plan(path, store, local_path, progress, overwrite))

    def get_model_version(self, model_id: str, model_version: str | int) -> Plan[GetModelVersionResponse]:
        """GetModelVersion: one version (``model_version`` may be ``"latest"``)."""
        number = yield from self.resolve_version(model_id, model_version)
        return (yield from call(rq.get_version(model_id, number)))

    def unregister(self, model_id: str, model_version: str | int) -> Plan[ModelVersionIDResponse]:
        """Delete one version (its number is never given again); ``"latest"`` is the highest one now."""
        number = yield from self.resolve_version(model_id, model_version)
        return (yield from call(rq.delete_version(model_id, number)))

    def unregister_all_versions(self, model_id: str) -> Plan[ModelIDResponse]:
        """Delete a model and all its versions."""
        return call(rq.delete(model_id))

    # ---- addressing by name ----------------------------------------------------------------------

    def find_models(self, model_name: str) -> Plan[list[ModelSummary]]:
        """Every model named exactly ``model_name`` (names need not be unique), newest first."""
        if not isinstance(model_name, str) or not model_name:
            raise ValidationError(
                f"model_name: expected a model name, got {model_name!r}", field="model_name"
            )

        def fetch(offset: int) -> Plan[Page[ModelSummary]]:
            return page_of(rq.models(model_name, None, offset, MAX_PAGE_SIZE, "CreateTime", "Descend"))

        return _names.exact(model_name, (yield from every(fetch)))

    def get_model_by_name(self, model_name: str) -> Plan[ModelSummary]:
        """The one model named ``model_name``: NotFoundError if none is, ConflictError (naming their
        IDs) if several are."""
        return _names.the_one(model_name, (yield from self.find_models(model_name)))

    def resolve_model_id(self, model: str) -> Plan[str]:
        """``model`` if it is a model ID, else the ID of the one model of that name."""
        if not isinstance(model, str):
            raise ValidationError(
                f"model: expected a model ID or name, got {type(model).__name__}", field="model"
            )
        if _names.looks_like_model_id(model):
            return model
        return (yield from self.get_model_by_name(model)).model_id

    def resolve_version(self, model_id: str, model_version: str | int) -> Plan[str]:
        """``model_version`` as a number; ``"latest"`` is the model's highest version (read now: a
        version registered later is not followed). Anything else raises ValidationError."""
        number = _names.check_version(model_version)
        if number != _names.LATEST:
            return number
        latest = (yield from call(rq.get(model_id))).result.latest_version
        if not isinstance(latest, str):
            raise ValidationError(f"model {model_id} has no version yet", field="model_version")
        return latest

    def _for_version(
        self, model_id: str, model_version: str | int, build: Callable[[str], rq.Request[T]]
    ) -> Plan[T]:
        """Send ``build(version)``. Its own checks run on the version as given first, so bad arguments
        are refused before ``"latest"`` costs a GetModel."""
        given = _names.check_version(model_version)
        request = build(_stand_in(given))
        if given == _names.LATEST:
            request = build((yield from self.resolve_version(model_id, given)))
        return (yield from call(request))

    # ---- listings ----------------------------------------------------------------------------------

    def list_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Plan[ListModelsResponse]:
        """ListModels: Total and one page of models (``iter_models`` pages through all of them)."""
        return call(rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order))

    def iter_models(
        self,
        model_name_contains: str | None = None,
        id_contains: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pages[ModelSummary]:
        """Every model matching the filters, fetched page by page as the iteration goes."""
        return lambda offset: page_of(
            rq.models(model_name_contains, id_contains, offset, page_size, sort_by, sort_order)
        )

    def get_model_versions(
        self,
        model_id: str,
        model_version: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Plan[ListModelVersionsResponse]:
        """ListModelVersions: Total and one page of the model's versions (or the one ``model_version``,
        which may be ``"latest"``)."""
        if model_version is not None:
            model_version = yield from self.resolve_version(model_id, model_version)
        return (yield from call(rq.versions(model_id, model_version, offset, page_size, sort_by, sort_order)))

    def iter_model_versions(
        self,
        model_id: str,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pages[ModelVersion]:
        """Every version of the model, fetched page by page as the iteration goes."""
        return lambda offset: page_of(rq.versions(model_id, None, offset, page_size, sort_by, sort_order))

    def update_model(self, model_id: str, model_name: str | None = None) -> Plan[ModelIDResponse]:
        """UpdateModel: rename the model."""
        return call(rq.rename(model_id, model_name))

    def update_model_version(
        self,
        model_id: str,
        model_version: str,
        description: str | None = None,
        tensor_config: dict[str, Any] | None = None,
        model_metrics: list[Any] | None = None,
    ) -> Plan[ModelVersionIDResponse]:
        """UpdateModelVersion: change the description, tensor config and/or metrics of a version
        (``model_version`` may be ``"latest"``)."""

        def build(version: str) -> rq.Request[ModelVersionIDResponse]:
            return rq.update_version(model_id, version, description, tensor_config, model_metrics)

        return (yield from self._for_version(model_id, model_version, build))

    # ---- perf jobs and tasks -------------------------------------------------------------------

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
        """CreatePerfJob: one task per flavor (and per conversion precision for CONVERT_PERF).

        Every flavor is checked against ListResource first, the same check as ``deploy``, so an
        unknown one raises ValidationError listing the available ones. ``model_version`` may be
        ``"latest"``: the model's highest version when the job is created."""
        rq.perf_job(
            model_id, _stand_in(_names.check_version(model_version)), tensor_config, job_type, job_params
        )
        wanted = rq.flavor_ids(job_params)
        if wanted:
            offered = set((yield from self.flavors()).values())
            for where, flavor in wanted:
                rq.check_flavor(flavor, where, offered)

        def build(version: str) -> rq.Request[CreatePerfJobResponse]:
            return rq.perf_job(model_id, version, tensor_config, job_type, job_params)

        return (yield from self._for_version(model_id, model_version, build))

    def list_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Plan[ListPerfJobsResponse]:
        """ListPerfJobs: one page of perf jobs (of one version when ``model_id`` and ``model_version``
        are given; ``model_version`` may be ``"latest"``)."""
        version = yield from self._listed_version(
            model_id, model_version, job_id, page_size, sort_by, sort_order
        )
        return (
            yield from call(rq.perf_jobs(model_id, version, job_id, offset, page_size, sort_by, sort_order))
        )

    def iter_perf_jobs(
        self,
        model_id: str | None = None,
        model_version: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pages[PerfJob]:
        """Every perf job matching the filters, fetched page by page as the iteration goes
        (``"latest"`` is resolved once, by the first page)."""
        resolved: list[str | None] = []

        def fetch(offset: int) -> Plan[Page[PerfJob]]:
            if not resolved:
                resolved.append(
                    (
                        yield from self._listed_version(
                            model_id, model_version, job_id, page_size, sort_by, sort_order
                        )
                    )
                )
            request = rq.perf_jobs(model_id, resolved[0], job_id, offset, page_size, sort_by, sort_order)
            return (yield from page_of(request))

        return fetch

    def _listed_version(
        self,
        model_id: str | None,
        model_version: str | None,
        job_id: str | None,
        page_size: int,
        sort_by: str,
        sort_order: str,
    ) -> Plan[str | None]:
        """The version a perf job listing filters by, every argument checked first (with a number
        standing in for ``"latest"``), then ``"latest"`` resolved by a GetModel."""
        given = None if model_version is None else _names.check_version(model_version)
        rq.perf_jobs(model_id, given and _stand_in(given), job_id, 0, page_size, sort_by, sort_order)
        if model_id is None or given != _names.LATEST:
            return given
        return (yield from self.resolve_version(model_id, given))

    def cancel_perf_job(self, job_id: str) -> Plan[JobIDResponse]:
        """CancelPerfJob: cancel the job and every unfinished task of it."""
        return call(rq.cancel_job(job_id))

    def list_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
    ) -> Plan[ListPerfTasksResponse]:
        """ListPerfTasks: one page of perf tasks (of one job, or the one ``task_id``)."""
        return call(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))

    def iter_perf_tasks(
        self,
        task_id: str | None = None,
        job_id: str | None = None,
        sort_by: str = "CreateTime",
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pages[PerfTask]:
        """Every perf task matching the filters, fetched page by page as the iteration goes."""
        return lambda offset: page_of(rq.perf_tasks(task_id, job_id, offset, page_size, sort_by, sort_order))

    def update_perf_task(self, task_id: str, task_status: str | None = None) -> Plan[TaskIDResponse]:
        """UpdatePerfTask: move a task to ``task_status`` (only along valid transitions)."""
        return call(rq.update_task(task_id, task_status))

    def calcel_perf_task(self, task_id: str) -> Plan[TaskIDResponse]:
        """CancelPerfTask (the documented spelling; ``cancel_perf_task`` is the same)."""
        return call(rq.cancel_task(task_id))

    def wait_perf_job(
        self, job_id: str, timeout: float = 600.0, poll_interval: float = 0.5
    ) -> Plan[ListPerfTasksResponse]:
        """Wait until every task of the job has ended (Success, Failed or Cancelled), then return its
        tasks: the ListPerfTasks response (up to 100 tasks, oldest first), each with its Result, or
        its Message when it failed. The async API sleeps on the event loop between polls.

        Raises ``TimeoutError`` after ``timeout`` seconds, naming how many tasks are unfinished (the job
        goes on; call again to keep waiting), and ``NotFoundError`` for an unknown job.
        """
        # Checked before the first request: None listed every job, then waited for the newest one.
        validation.validate_required("JobID", job_id, "job_id")
        validation.validate_seconds(timeout, "timeout")
        validation.validate_seconds(poll_interval, "poll_interval", above_zero=True)
        deadline = time.monotonic() + timeout
        while True:
            found = (yield from self.list_perf_jobs(job_id=job_id)).result
            if not found.list_:
                raise NotFoundError(f"PerfJob {job_id} does not exist", code="NotFound", status_code=404)
            job = found.list_[0]
            if job.task_count == job.ended_task_count:
                return (yield from self.list_perf_tasks(job_id=job_id, page_size=100, sort_order="Ascend"))
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"perf job {job_id} not finished after {timeout:g}s: {job.ended_task_count} of "
                    f"{job.task_count} tasks ended (status {job.job_status})"
                )
            yield from pause(min(poll_interval, max(0.0, deadline - time.monotonic())))

    # ---- deployment and resources ----------------------------------------------------------------

    def create_service(
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
        """What ``deploy`` does before it wraps the new service: the flavor name checked and resolved
        to its ID (ListResource), ``"latest"`` resolved to the model's highest version (the service
        keeps that version), then CreateService."""
        given = _names.check_version(model_version)
        rq.check_envs(envs)
        # Every other argument checked before ListResource (the flavor ID is known only after it).
        rq.create_service_request(
            model_id, _stand_in(given), service_name, rq.PENDING_FLAVOR, image_id, envs, replica, description
        )
        offered = yield from self.flavors()
        rq.check_flavor(flavor, "flavor", offered)

        def build(version: str) -> rq.Request[ServiceIDResponse]:
            return rq.create_service_request(
                model_id, version, service_name, offered[flavor], image_id, envs, replica, description
            )

        return (yield from self._for_version(model_id, model_version, build))

    def get_model(self, model_id: str) -> Plan[GetModelResponse]:
        """GetModel: one model with its version count and latest version."""
        return call(rq.get(model_id))

    def list_resources(
        self, name_contains: str | None = None, offset: int = 0, page_size: int = 100
    ) -> Plan[ListResourceResponse]:
        """ListResource: the compute flavors, by group."""
        return call(rq.resources(name_contains, offset, page_size))

    def list_services(
        self,
        service_name_contains: str | None = None,
        offset: int = 0,
        page_size: int = 10,
        sort_order: str = "Descend",
    ) -> Plan[ListServicesResponse]:
        """ListServices: Total and one page of services."""
        return call(rq.services(service_name_contains, offset, page_size, sort_order))

    def iter_services(
        self,
        service_name_contains: str | None = None,
        sort_order: str = "Descend",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pages[Service]:
        """Every service matching the filter, fetched page by page as the iteration goes."""
        return lambda offset: page_of(rq.services(service_name_contains, offset, page_size, sort_order))
