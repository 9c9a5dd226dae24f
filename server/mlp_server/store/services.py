"""Inference services: the deployment record. Serving itself is a worker's job.

Status: a created or started service is Pending until a serving worker reports Running (or
Failed) through :meth:`ServicesMixin.set_service_status`; StopService makes it Stopped at once.
Service names are unique per account (a second CreateService with the name -> Conflict).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlp_server.errors import ApiError, invalid, not_found

from .base import Body, Result, StoreBase, insert_with_new_id
from .ids import new_id, wire_time
from .models import owned_version
from .paging import Page, SortKeys, chunked, contains, fetch_page
from .resources import require_flavor
from .schema import ModelRow, ServiceRow

PENDING = "Pending"
RUNNING = "Running"
STOPPED = "Stopped"
FAILED = "Failed"
STATUSES = (PENDING, RUNNING, STOPPED, FAILED)
SCALING = "ScalingService"
CHANGE_TYPES = (SCALING,)
DEFAULT_REPLICAS = 1

SERVICE_SORTS: SortKeys = {"CreateTime": (ServiceRow.create_time, ServiceRow.id)}


class ServicesMixin(StoreBase):
    def create_service(self, account_id: int, body: Body) -> Result:
        """``{"ServiceID"}``. The version must be the caller's (NotFound) and belong to
        ``Model.ModelID`` (InvalidParameter); the flavor must be in the catalogue."""
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
        now = self._now()
        try:
            with self._write() as session:
                version = owned_version(session, account_id, version_id)
                model_id = model_ref.get("ModelID")
                if model_id is not None and model_id != version.model_id:
                    raise invalid(
                        "ServiceDeployment.Model.ModelID",
                        f"version {version.id} belongs to model {version.model_id}, not {model_id}",
                    )
                _check_name_free(session, account_id, name)
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
                        replicas=DEFAULT_REPLICAS if replicas is None else replicas,
                        description=deployment.get("Description") or "",
                        status=PENDING,
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
        """Stopped/Failed -> Pending; a Pending or Running service is left as it is."""
        with self._write() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
            if service.status in (STOPPED, FAILED):
                service.status = PENDING
                service.update_time = self._now()
        return {"ServiceID": service.id}

    def stop_service(self, account_id: int, body: Body) -> Result:
        with self._write() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
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
        """Only ``ChangeType: ScalingService`` exists: it sets Replicas."""
        change = body.get("ChangeType")
        if change not in CHANGE_TYPES:
            raise invalid("ChangeType", f"{change!r} is not one of {', '.join(CHANGE_TYPES)}")
        replicas = body.get("Replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid("Replicas", f"must be an integer >= 0 to scale, got {replicas!r}")
        with self._write() as session:
            service = _owned_service(session, account_id, body["ServiceID"])
            service.replicas = replicas
            service.update_time = self._now()
        return {"ServiceID": service.id}

    # --- for the serving worker ---

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
