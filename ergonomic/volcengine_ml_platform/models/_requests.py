"""One request of the documented API, built and checked without sending it.

``Model`` sends these with the synchronous session and ``AsyncModel`` with the asynchronous one, so
the arguments, the checks and the bodies are written once for both."""

from __future__ import annotations

import operator
from collections.abc import Collection
from importlib import import_module
from types import ModuleType
from typing import Any, TypeVar

import ml_platform_client.models as generated  # each model's module is imported on first use

from ..errors import ValidationError
from . import _names, validation
from ._common import UPLOAD_FOLDER, drop_none, version_id, version_number
from ._plan import Request as Request  # re-exported: rq.Request

R = TypeVar("R")


def _operation(name: str) -> ModuleType:
    """The generated operation ``name`` (``models.list_models``), imported when a request first uses
    it: importing the client does not import every operation and its models (about 40 attrs classes,
    a sixth of the import)."""
    return import_module(f"ml_platform_client.api.{name}")


def whole(value: Any) -> Any:
    """An integer argument given as another integral type (numpy's ``int64`` from a computation, as
    ML code often has) as a plain int, which the SDK's ``int`` fields took and JSON can carry; any
    other value (a bool, a float, a string) as it is, for the schema check to refuse by name."""
    if type(value) is int or isinstance(value, bool):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


def page(offset: int, page_size: int, sort_by: str, sort_order: str, sort_schema: str) -> dict[str, Any]:
    """The paging fields, checked first so that errors name the Python arguments."""
    offset, page_size = whole(offset), whole(page_size)
    for schema_name, value, argument in (
        ("Offset", offset, "offset"),
        ("Limit", page_size, "page_size"),
        (sort_schema, sort_by, "sort_by"),
        ("SortOrder", sort_order, "sort_order"),
    ):
        validation.validate_argument(schema_name, value, argument)
    return {"Offset": offset, "Limit": page_size, "SortBy": sort_by, "SortOrder": sort_order}


def _model_id(model_id: str) -> str:
    """Checked here, so that the error names ``model_id`` (not the wire's ModelID or ModelVersionID)."""
    validation.validate_required("ModelID", model_id, "model_id")
    return model_id


def _checked_id(schema_name: str, value: str | None, argument: str) -> str | None:
    """An ID argument checked here, so that the error names ``argument`` (``job_id``, not JobID) and
    says what a valid one looks like (the document's description of the pattern)."""
    validation.validate_argument(schema_name, value, argument)
    return value


def _required_id(schema_name: str, value: str, argument: str) -> str:
    """As :func:`_checked_id`, for an ID the request cannot go without: None is refused by its name."""
    validation.validate_required(schema_name, value, argument)
    return value


def named(request: Request[R], arguments: dict[str, str]) -> Request[R]:
    """``request``, its body checked now against its schema, with the problems named by the Python
    arguments they came from (``arguments``: the body's field path -> the argument)."""
    validation.check_named(request.body_cls.__name__, request.body, arguments)
    return request


def upload_path() -> Request[generated.GetTOSUploadPathResponse]:
    body = {"ServiceName": "modelrepo", "Path": UPLOAD_FOLDER}
    return Request(
        _operation("storage.get_tos_upload_path"),
        generated.GetTOSUploadPathRequest,
        body,
        generated.GetTOSUploadPathResponse,
    )


def sts_token(duration: int) -> Request[generated.GetSTSTokenResponse]:
    """Temporary credentials of the caller's bucket (Local platform: GetSTSToken on the open door)."""
    return Request(
        _operation("storage.get_account_sts_token"),
        generated.GetSTSTokenRequest,
        {"Duration": whole(duration)},
        generated.GetSTSTokenResponse,
    )


def create(body: dict[str, Any]) -> Request[generated.CreateModelResponse]:
    return Request(
        _operation("models.create_model"),
        generated.CreateModelRequest,
        body,
        generated.CreateModelResponse,
        finish_once_sent=True,
    )


def get(model_id: str) -> Request[generated.GetModelResponse]:
    return Request(
        _operation("models.get_model"),
        generated.ModelIDRequest,
        {"ModelID": _model_id(model_id)},
        generated.GetModelResponse,
    )


def get_version(model_id: str, model_version: str | int) -> Request[generated.GetModelVersionResponse]:
    body = {"ModelVersionID": version_id(model_id, model_version)}
    return Request(
        _operation("versions.get_model_version"),
        generated.ModelVersionIDRequest,
        body,
        generated.GetModelVersionResponse,
    )


def delete_version(model_id: str, model_version: str | int) -> Request[generated.ModelVersionIDResponse]:
    body = {"ModelVersionID": version_id(model_id, model_version)}
    return Request(
        _operation("versions.delete_model_version"),
        generated.ModelVersionIDRequest,
        body,
        generated.ModelVersionIDResponse,
    )


def delete(model_id: str) -> Request[generated.ModelIDResponse]:
    return Request(
        _operation("models.delete_model"),
        generated.ModelIDRequest,
        {"ModelID": _model_id(model_id)},
        generated.ModelIDResponse,
    )


def models(
    model_name_contains: str | None,
    id_contains: str | None,
    offset: int,
    page_size: int,
    sort_by: str,
    sort_order: str,
) -> Request[generated.ListModelsResponse]:
    body = drop_none(
        {
            "ModelNameContains": model_name_contains,
            "IdContains": id_contains,
            **page(offset, page_size, sort_by, sort_order, "ListModelsSortBy"),
        }
    )
    return named(
        Request(
            _operation("models.list_models"), generated.ListModelsRequest, body, generated.ListModelsResponse
        ),
        {"ModelNameContains": "model_name_contains", "IdContains": "id_contains"},
    )


def versions(
    model_id: str,
    model_version: str | None,
    offset: int,
    page_size: int,
    sort_by: str,
    sort_order: str,
) -> Request[generated.ListModelVersionsResponse]:
    body = drop_none(
        {
            "ModelID": _model_id(model_id),
            "ModelVersion": version_number(model_version),
            **page(offset, page_size, sort_by, sort_order, "ListModelVersionsSortBy"),
        }
    )
    return Request(
        _operation("versions.list_model_versions"),
        generated.ListModelVersionsRequest,
        body,
        generated.ListModelVersionsResponse,
    )


def rename(model_id: str, model_name: str | None) -> Request[generated.ModelIDResponse]:
    body = drop_none({"ModelID": _model_id(model_id), "ModelName": model_name})
    return named(
        Request(
            _operation("models.update_model"), generated.UpdateModelRequest, body, generated.ModelIDResponse
        ),
        {"ModelName": "model_name"},
    )


def update_version(
    model_id: str,
    model_version: str,
    description: str | None,
    tensor_config: dict[str, Any] | None,
    model_metrics: list[Any] | None,
) -> Request[generated.ModelVersionIDResponse]:
    if tensor_config is not None:
        validation.validate_model_tensor_config(tensor_config)
    if model_metrics is not None:
        validation.validate_metrics(model_metrics)
    body = drop_none(
        {
            "ModelVersionID": version_id(model_id, model_version),
            "Description": description,
            "TensorConfig": tensor_config,
            "MetricsList": model_metrics,
        }
    )
    request = Request(
        _operation("versions.update_model_version"),
        generated.UpdateModelVersionRequest,
        body,
        generated.ModelVersionIDResponse,
    )
    return named(
        request,
        {"Description": "description", "TensorConfig": "tensor_config", "MetricsList": "model_metrics"},
    )


def perf_job(
    model_id: str,
    model_version: str,
    tensor_config: dict[str, Any],
    job_type: str,
    job_params: list[Any],
) -> Request[generated.CreatePerfJobResponse]:
    validation.validate_perf_job_tensor_config(tensor_config)
    validation.validate_argument("JobType", job_type, "job_type")
    body = {
        "ModelVersionID": version_id(model_id, model_version),
        "TensorConfig": tensor_config,
        "JobType": job_type,
        "JobParamsList": job_params,
    }
    return named(
        Request(
            _operation("perf.create_perf_job"),
            generated.CreatePerfJobRequest,
            body,
            generated.CreatePerfJobResponse,
        ),
        {"TensorConfig": "tensor_config", "JobType": "job_type", "JobParamsList": "job_params"},
    )


def flavor_ids(job_params: list[Any]) -> list[tuple[str, object]]:
    """(where, flavor) of every flavor a perf job names, to check against ListResource."""
    if not isinstance(job_params, list):
        return []  # the request schema names the problem
    found: list[tuple[str, object]] = []
    for index, params in enumerate(job_params):
        flavors = params.get("FlavorIDList") if isinstance(params, dict) else None
        for flavor in flavors if isinstance(flavors, list) else []:
            found.append((f"job_params[{index}].FlavorIDList", flavor))
    return found


def perf_jobs(
    model_id: str | None,
    model_version: str | None,
    job_id: str | None,
    offset: int,
    page_size: int,
    sort_by: str,
    sort_order: str,
) -> Request[generated.ListPerfJobsResponse]:
    if (model_id is None) != (model_version is None):
        raise ValidationError("model_id and model_version go together", field="model_version")
    mvid = None
    if model_id is not None and model_version is not None:
        mvid = version_id(model_id, _names.check_version(model_version))  # the caller resolves latest
    body = drop_none(
        {
            "ModelVersionID": mvid,
            "JobID": _checked_id("JobID", job_id, "job_id"),
            **page(offset, page_size, sort_by, sort_order, "CreateTimeSortBy"),
        }
    )
    return named(
        Request(
            _operation("perf.list_perf_jobs"),
            generated.ListPerfJobsRequest,
            body,
            generated.ListPerfJobsResponse,
        ),
        {"JobID": "job_id"},
    )


def cancel_job(job_id: str) -> Request[generated.JobIDResponse]:
    return Request(
        _operation("perf.cancel_perf_job"),
        generated.JobIDRequest,
        {"JobID": _required_id("JobID", job_id, "job_id")},
        generated.JobIDResponse,
    )


def perf_tasks(
    task_id: str | None,
    job_id: str | None,
    offset: int,
    page_size: int,
    sort_by: str,
    sort_order: str,
) -> Request[generated.ListPerfTasksResponse]:
    body = drop_none(
        {
            "TaskID": _checked_id("TaskID", task_id, "task_id"),
            "JobID": _checked_id("JobID", job_id, "job_id"),
            **page(offset, page_size, sort_by, sort_order, "CreateTimeSortBy"),
        }
    )
    return Request(
        _operation("perf.list_perf_tasks"),
        generated.ListPerfTasksRequest,
        body,
        generated.ListPerfTasksResponse,
    )


def update_task(task_id: str, task_status: str | None) -> Request[generated.TaskIDResponse]:
    validation.validate_argument("TaskStatus", task_status, "task_status")
    body = drop_none({"TaskID": _required_id("TaskID", task_id, "task_id"), "Status": task_status})
    return named(
        Request(
            _operation("perf.update_perf_task"),
            generated.UpdatePerfTaskRequest,
            body,
            generated.TaskIDResponse,
        ),
        {"Status": "task_status"},
    )


def cancel_task(task_id: str) -> Request[generated.TaskIDResponse]:
    return Request(
        _operation("perf.cancel_perf_task"),
        generated.TaskIDRequest,
        {"TaskID": _required_id("TaskID", task_id, "task_id")},
        generated.TaskIDResponse,
    )


def resources(
    name_contains: str | None, offset: int, page_size: int
) -> Request[generated.ListResourceResponse]:
    body = drop_none({"NameContains": name_contains, "Offset": whole(offset), "Limit": whole(page_size)})
    return named(
        Request(
            _operation("resources.list_resource"),
            generated.ListResourceRequest,
            body,
            generated.ListResourceResponse,
        ),
        {"NameContains": "name_contains", "Offset": "offset", "Limit": "page_size"},
    )


def services(
    service_name_contains: str | None, offset: int, page_size: int, sort_order: str
) -> Request[generated.ListServicesResponse]:
    body = drop_none(
        {
            "ServiceNameContains": service_name_contains,
            **page(offset, page_size, "CreateTime", sort_order, "CreateTimeSortBy"),
        }
    )
    return named(
        Request(
            _operation("services.list_services"),
            generated.ListServicesRequest,
            body,
            generated.ListServicesResponse,
        ),
        {"ServiceNameContains": "service_name_contains"},
    )


def check_envs(envs: object) -> None:
    """Before the flavor is looked up: nothing is sent for a bad ``envs``."""
    if envs is not None and not isinstance(envs, dict):
        raise ValidationError("envs: expected a dict of environment variables", field="envs")


def create_service_request(
    model_id: str,
    model_version: str,
    service_name: str,
    flavor_id: str,
    image_id: str,
    envs: dict[str, str] | None,
    replica: int | None,
    description: str | None,
) -> Request[generated.ServiceIDResponse]:
    check_envs(envs)
    deployment = drop_none(
        {
            "Replicas": 1 if replica is None else whole(replica),
            "FlavorID": flavor_id,
            "Model": {"ModelID": model_id, "ModelVersionID": version_id(model_id, model_version)},
            "ImageID": image_id,
            "Envs": [{"Name": k, "Value": str(v)} for k, v in (envs or {}).items()],
            "Description": description,
        }
    )
    body = {"ServiceName": service_name, "ServiceDeployment": deployment}
    return named(
        Request(
            _operation("services.create_service"),
            generated.CreateServiceRequest,
            body,
            generated.ServiceIDResponse,
        ),
        SERVICE_ARGUMENTS,
    )


PENDING_FLAVOR = "pending-flavor"  # stands in for the flavor's ID when the other arguments are checked
SERVICE_ARGUMENTS = {
    "ServiceName": "service_name",
    "ServiceDeployment.Replicas": "replica",
    "ServiceDeployment.ImageID": "image_id",
    "ServiceDeployment.Description": "description",
    "ServiceDeployment.Envs": "envs",
}


def flavors_by_name(listing: generated.ListResourceResponse) -> dict[str, str]:
    """Flavor name -> ID, as ListResource offers them."""
    return {
        str(item["Name"]): str(item["Id"]) for group in listing["Result"]["List"].values() for item in group
    }


def check_flavor(flavor: object, field: str, offered: Collection[str]) -> None:
    """One check for every flavor a caller names (deploy, perf jobs): ValidationError listing the
    offered ones, before anything is created."""
    if flavor not in offered:
        raise ValidationError(
            f"{field}: {flavor!r} is not offered here; available: {', '.join(sorted(offered))}", field=field
        )


# ---- one service --------------------------------------------------------------------------------


def service_action(operation: str, service_id: str) -> Request[generated.ServiceIDResponse]:
    """StartService, StopService or DeleteService (``operation``: :data:`START`, :data:`STOP` or
    :data:`DELETE`)."""
    return Request(
        _operation(operation),
        generated.ServiceIDRequest,
        {"ServiceID": _required_id("ServiceID", service_id, "service_id")},
        generated.ServiceIDResponse,
    )


def get_service_request(service_id: str) -> Request[generated.GetServiceResponse]:
    return Request(
        _operation("services.get_service"),
        generated.ServiceIDRequest,
        {"ServiceID": _required_id("ServiceID", service_id, "service_id")},
        generated.GetServiceResponse,
    )


def scale(service_id: str, replicas: int) -> Request[generated.ServiceIDResponse]:
    body = {
        "ServiceID": _required_id("ServiceID", service_id, "service_id"),
        "Replicas": whole(replicas),
        "ChangeType": "ScalingService",
    }
    return named(
        Request(
            _operation("services.update_service"),
            generated.UpdateServiceRequest,
            body,
            generated.ServiceIDResponse,
        ),
        {"Replicas": "replicas"},
    )


START, STOP, DELETE = "services.start_service", "services.stop_service", "services.delete_service"
