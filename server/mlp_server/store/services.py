"""Inference services: the deployment record. Serving itself is the serving supervisor's job.

Status: a created or started service is Pending; the supervisor moves it to Deploying, then Running
once every replica answers its readiness check, or Failed with a reason (``StatusMessage``).
StopService makes a live service Stopping, and the supervisor Stopped once its replicas are gone.
Scaling a Running service makes it Deploying until the new replica count is ready. The supervisor's
changes are compare-and-set (:meth:`ServicesMixin.service_transition`), so a request that changed
the record meanwhile always wins. Service names are unique per account (a second CreateService with
the name -> Conflict).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError, invalid, not_found

from .base import Body, Result, StoreBase, insert_with_new_id
from .deploy_locks import Intent, lock_model, lock_version
from .ids import new_id, wire_time
from .models import owned_version
from .paging import Page, SortKeys, chunked, contains, fetch_page
from .replica_budget import ReplicaBudget
from .resources import require_flavor
from .schema import ModelRow, ServiceRow, VersionRow

PENDING = "Pending"
DEPLOYING = "Deploying"
RUNNING = "Running"
STOPPING = "Stopping"
STOPPED = "Stopped"
FAILED = "Failed"
STATUSES = (PENDING, DEPLOYING, RUNNING, STOPPING, STOPPED, FAILED)
LIVE = (PENDING, DEPLOYING, RUNNING)  # replicas should run
SCALING = "ScalingService"
CHANGE_TYPES = (SCALING,)
DEFAULT_REPLICAS = 1

SERVICE_SORTS: SortKeys = {"CreateTime": (ServiceRow.create_time, ServiceRow.id)}

# Envs a service may not set. A replica is a process of the platform (its interpreter, its user, its
# files and keys), not the tenant's own container as on the real service, so a variable that changes
# how the interpreter, the dynamic loader, the C library or OpenSSL start would run the tenant's
# code there: PYTHONWARNINGS naming a module with BROWSER runs any command, LD_PRELOAD, PYTHONPATH,
# GCONV_PATH or OPENSSL_CONF load files. MLP_* are the platform's own settings. Compared in upper case.
RESERVED_ENV_PREFIXES = ("PYTHON", "LD_", "DYLD_", "MLP_", "OPENSSL_", "GCONV_", "MALLOC_", "BASH_FUNC_")
RESERVED_ENV_NAMES = frozenset(
    {
        "BROWSER", "PATH", "HOME", "TMPDIR", "TMP", "TEMP", "SHELL", "ENV", "BASH_ENV", "SHELLOPTS",
        "PS4", "IFS", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "RES_OPTIONS",
        "LOCALDOMAIN", "TZDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE", "OMP_TOOL_LIBRARIES",
        # a CUDA runtime loads the library these name (none here; reserved should a GPU build be used)
        "CUDA_INJECTION64_PATH", "NVTX_INJECTION64_PATH", "NVTX_INJECTION32_PATH",
    }
)  # fmt: skip


def reserved_env(name: str) -> bool:
    """Whether a service's Envs may not set ``name`` (see RESERVED_ENV_PREFIXES)."""
    upper = name.upper()
    return upper in RESERVED_ENV_NAMES or upper.startswith(RESERVED_ENV_PREFIXES)


def _check_envs(envs: list[Any]) -> None:
    for index, env in enumerate(envs):
        name = env.get("Name") if isinstance(env, dict) else None
        if isinstance(name, str) and reserved_env(name):
            raise invalid(
                f"ServiceDeployment.Envs[{index}].Name",
                f"{name!r} is reserved: on the local platform a replica is a process of the platform, "
                "and this variable would change how its interpreter or libraries start (reserved: "
                f"{', '.join(sorted(RESERVED_ENV_NAMES))} and names starting with "
                f"{', '.join(RESERVED_ENV_PREFIXES)})",
            )


class ServicesMixin(StoreBase):
    # The replicas live services may hold (the platform sets it from its settings).
    replica_budget = ReplicaBudget()

    def create_service(self, account_id: int, body: Body) -> Result:
        """``{"ServiceID"}``. The version must be the caller's (NotFound) and belong to
        ``Model.ModelID`` (InvalidParameter); the flavor must be in the catalogue; the replicas must
        fit the replica budget (Conflict, see :mod:`.replica_budget`)."""
        name = body.get("ServiceName")
        if not name:
            raise invalid("ServiceName", "is required")
        deployment: Body = body.get("ServiceDeployment") or {}
        flavor_id = deployment.get("FlavorID")
        if not flavor_id:
            raise invalid("ServiceDeployment.FlavorID", "is required")
        require_flavor("ServiceDeployment.FlavorID", flavor_id)
        model_ref: Body = deployment.get("Model") or {}
        version_id = model_ref.get("ModelVersionID")
        if not version_id:
            raise invalid("ServiceDeployment.Model.ModelVersionID", "is required")
        replicas = deployment.get("Replicas")
        replicas = DEFAULT_REPLICAS if replicas is None else replicas
        _check_envs(deployment.get("Envs") or [])
        now = self._now()
        try:
            with self._write() as session:
                version = owned_version(session, account_id, version_id)
                # Held until the service is committed: a concurrent delete of the version (or its
                # model) either waits and then sees the service, or wins and this finds no row.
                if not (
                    lock_model(session, version.model_id, Intent.DEPLOY)
                    and lock_version(session, version.id, Intent.DEPLOY)
                ):
                    raise not_found("ModelVersion", version_id)
                model_id = model_ref.get("ModelID")
                if model_id is not None and model_id != version.model_id:
                    # A reference to what does not exist (that model's version ModelVersionID): 404,
                    # as the document says of unknown references; 400 is for what the schema rejects.
                    raise ApiError(
                        "NotFound",
                        f"ServiceDeployment.Model.ModelID: model {model_id} has no version {version.id} "
                        f"(it belongs to model {version.model_id})",
                    )
                _check_name_free(session, account_id, name)
                self.replica_budget.check(session, account_id, replicas, LIVE)
                model = session.get_one(ModelRow, version.model_id)
                service = insert_with_new_id(
                    session,
                    "s",
                    now,
                    lambda new: ServiceRow(
                        id=new,
                        account_id=account_id,
                        name=name,
                        service_version_id=new_id("sv", now),
                        model_id=version.model_id,
                        model_version_id=version.id,
                        model_version=version.version,
                        model_type=version.model_type,
                        model_path=version.path,
                        model_name=model.name,
                        flavor_id=flavor_id,
                        image_id=deployment.get("ImageID") or "",
                        envs=deployment.get("Envs") or [],
                        replicas=replicas,
                        description=deployment.get("Description") or "",
                        status=PENDING,
                        status_message="",
                        endpoint_url="",
                        create_time=now,
                        update_time=now,
                    ),
                )
        except IntegrityError as exc:  # the unique name, taken by a concurrent CreateService
            raise ApiError("Conflict", f"a service named {name!r} already exists") from exc
        return {"ServiceID": service.id}

    def get_service(self, account_id: int, body: Body) -> Result:
        with self._read() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
            return _service_item(service, _model_names(session, [service.model_id]))

    def list_services(self, account_id: int, body: Body) -> Result:
        """Filters ServiceName (exact), ServiceNameContains (case-insensitive); items as GetService."""
        page = Page.from_body(body, SERVICE_SORTS)
        where: list[ColumnElement[bool]] = [ServiceRow.account_id == account_id]
        if (name := body.get("ServiceName")) is not None:
            where.append(ServiceRow.name == name)
        if (name_part := body.get("ServiceNameContains")) is not None:
            where.append(contains(ServiceRow.name, name_part, self.dialect))
        with self._read() as session:
            total, services = fetch_page(session, ServiceRow, where, page, SERVICE_SORTS)
            names = _model_names(session, [s.model_id for s in services])
        return {"Total": total, "List": [_service_item(s, names) for s in services]}

    def start_service(self, account_id: int, body: Body) -> Result:
        """Stopped/Stopping/Failed -> Pending, if its replicas fit the budget (Conflict); a live
        service is left as it is."""
        with self._write() as session:
            self.replica_budget.lock(session)  # before the read: its status and replicas stay current
            service = _owned_service(session, account_id, body["ServiceID"])
            if service.status in (STOPPED, STOPPING, FAILED):
                self.replica_budget.check(session, account_id, service.replicas, LIVE, service_id=service.id)
                service.status = PENDING
                service.status_message = ""
                service.update_time = self._now()
        return {"ServiceID": service.id}

    def stop_service(self, account_id: int, body: Body) -> Result:
        """A live service becomes Stopping (the supervisor makes it Stopped); a Failed one Stopped."""
        with self._write() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
            if service.status in LIVE:
                service.status = STOPPING
            elif service.status == FAILED:
                service.status = STOPPED
                service.endpoint_url = ""
            service.update_time = self._now()
        return {"ServiceID": service.id}

    def delete_service(self, account_id: int, body: Body) -> Result:
        with self._write() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
            session.delete(service)
        return {"ServiceID": service.id}

    def update_service(self, account_id: int, body: Body) -> Result:
        """Only ``ChangeType: ScalingService`` exists: it sets Replicas. Scaling a live service up must
        fit the replica budget (Conflict); a stopped one's count is checked when it is started."""
        change = body.get("ChangeType")
        if change not in CHANGE_TYPES:
            raise invalid("ChangeType", f"{change!r} is not one of {', '.join(CHANGE_TYPES)}")
        replicas = body.get("Replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid("Replicas", f"must be an integer >= 0 to scale, got {replicas!r}")
        with self._write() as session:
            self.replica_budget.lock(session)  # before the read: its status and replicas stay current
            service = _owned_service(session, account_id, body["ServiceID"])
            if service.status in LIVE and replicas > service.replicas:
                self.replica_budget.check(session, account_id, replicas, LIVE, service_id=service.id)
            if service.status == RUNNING and replicas != service.replicas:
                service.status = DEPLOYING  # Running again once the new count answers readiness
            service.replicas = replicas
            service.update_time = self._now()
        return {"ServiceID": service.id}

    # --- for the serving supervisor ---

    def versions_needed(self, version_ids: Collection[str]) -> set[str]:
        """Those of ``version_ids`` that are still registered, or that a service names (the serving
        cache keeps their copies; the others' are evicted)."""
        found: set[str] = set()
        with self._read() as session:
            for batch in chunked(set(version_ids)):
                found.update(session.scalars(select(VersionRow.id).where(VersionRow.id.in_(batch))))
                found.update(
                    session.scalars(
                        select(ServiceRow.model_version_id).where(ServiceRow.model_version_id.in_(batch))
                    )
                )
        return found

    def serving_rows(self) -> list[ServingRow]:
        """Every service, as the supervisor needs it (a local platform holds a few, not thousands)."""
        with self._read() as session:
            return [ServingRow.of(s) for s in session.scalars(select(ServiceRow))]

    def service_transition(
        self,
        service_id: str,
        expect: Sequence[str],
        status: str,
        *,
        replicas: int | None = None,
        endpoint_url: str | None = None,
        endpoint_port: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Set ``status`` only if the service is still in one of ``expect`` (and still wants
        ``replicas``, when given): a request that changed it meanwhile wins. Returns whether it did."""
        if status not in STATUSES:
            raise invalid("Status", f"{status!r} is not one of {', '.join(STATUSES)}")
        with self._write() as session:
            service = session.get(ServiceRow, service_id)
            if service is None or service.status not in expect:
                return False
            if replicas is not None and service.replicas != replicas:
                return False
            changed = service.status != status
            service.status = status
            if endpoint_url is not None:
                changed |= service.endpoint_url != endpoint_url
                service.endpoint_url = endpoint_url
            if endpoint_port is not None:
                service.endpoint_port = endpoint_port
            if message is not None:
                changed |= service.status_message != message
                service.status_message = message
            if changed:
                service.update_time = self._now()
        return True

    def set_service_status(self, service_id: str, status: str, endpoint_url: str = "") -> None:
        if status not in STATUSES:
            raise invalid("Status", f"{status!r} is not one of {', '.join(STATUSES)}")
        with self._write() as session:
            service = session.get(ServiceRow, service_id)
            if service is None:
                raise not_found("Service", service_id)
            service.status = status
            service.endpoint_url = endpoint_url
            service.update_time = self._now()


def _owned_service(session: Session, account_id: int, service_id: str) -> ServiceRow:
    service = session.get(ServiceRow, service_id)
    if service is None or service.account_id != account_id:
        raise not_found("Service", service_id)
    return service


def _check_name_free(session: Session, account_id: int, name: str) -> None:
    taken = session.scalar(
        select(ServiceRow.id).where(ServiceRow.account_id == account_id, ServiceRow.name == name)
    )
    if taken is not None:
        raise ApiError("Conflict", f"a service named {name!r} already exists: {taken}")


def _model_names(session: Session, model_ids: Iterable[str]) -> dict[str, str]:
    """Current model names, so that a rename shows; a deleted model keeps its deploy-time name."""
    names: dict[str, str] = {}
    for batch in chunked(set(model_ids)):
        rows = session.execute(select(ModelRow.id, ModelRow.name).where(ModelRow.id.in_(batch)))
        names.update({model_id: name for model_id, name in rows})
    return names


def _service_item(service: ServiceRow, model_names: dict[str, str]) -> Result:
    return {
        "ServiceID": service.id,
        "ServiceName": service.name,
        "ServiceDeployment": {
            "Model": {
                "ModelID": service.model_id,
                "ModelVersionID": service.model_version_id,
                "Version": str(service.model_version),
                "Type": service.model_type,
                "Path": service.model_path,
                "Name": model_names.get(service.model_id, service.model_name),
            },
            "Status": service.status,
            "StatusMessage": service.status_message or "",
            "EndpointURL": service.endpoint_url,
            "Replicas": service.replicas,
            "ServiceVersionID": service.service_version_id,
            "Envs": service.envs,
            "FlavorID": service.flavor_id,
            "ImageID": service.image_id,
            "Description": service.description,
        },
        "CreateTime": wire_time(service.create_time),
    }


@dataclass(frozen=True)
class ServingRow:
    """What the serving supervisor needs to know about one service."""

    service_id: str
    name: str
    status: str
    replicas: int
    model_version_id: str
    model_version: int
    model_path: str
    flavor_id: str
    image_id: str
    envs: tuple[tuple[str, str], ...]
    endpoint_port: int | None

    @classmethod
    def of(cls, row: ServiceRow) -> ServingRow:
        envs: list[Any] = row.envs or []
        return cls(
            service_id=row.id,
            name=row.name,
            status=row.status,
            replicas=row.replicas,
            model_version_id=row.model_version_id,
            model_version=row.model_version,
            model_path=row.model_path,
            flavor_id=row.flavor_id,
            image_id=row.image_id,
            envs=tuple(
                (str(e["Name"]), str(e["Value"])) for e in envs if isinstance(e, dict) and "Name" in e
            ),
            endpoint_port=row.endpoint_port,
        )
