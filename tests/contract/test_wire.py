"""The bytes on the wire of the generated client, through a recording httpx transport: method, path and
query (the fixed Action/Version, the inner Token), the exact JSON bodies; and the responses it must
survive: unknown fields and enum values, error envelopes, statuses Python does not name, broken bodies."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

import ml_platform_client
from ml_platform_client import errors
from ml_platform_client.api.inner import get_sts_token, inner_create_model, inner_get_model_version
from ml_platform_client.api.models import create_model, list_models
from ml_platform_client.api.perf import create_perf_job, list_perf_jobs, list_perf_tasks, update_perf_task
from ml_platform_client.api.resources import list_resource
from ml_platform_client.api.services import create_service
from ml_platform_client.api.versions import get_model_version, list_model_versions
from ml_platform_client.models import (
    CreateModelRequest,
    CreatePerfJobRequest,
    CreateServiceRequest,
    Env,
    ErrorResponse,
    GetModelVersionResponse,
    GetSTSTokenRequest,
    InnerCreateModelRequest,
    InnerVersionInfo,
    JobParams,
    JobType,
    ListModelsRequest,
    ListModelsSortBy,
    ListModelVersionsRequest,
    ListModelVersionsSortBy,
    ListPerfJobsRequest,
    ListPerfJobsResponse,
    ListPerfTasksRequest,
    ListPerfTasksResponse,
    ListResourceRequest,
    ListResourceResponse,
    Metrics,
    MetricsType,
    ModelCategory,
    ModelFormat,
    ModelTag,
    ModelTensorConfig,
    ModelVersionIDRequest,
    PerfTensor,
    PerfTensorConfig,
    PerfTensorDType,
    PerfTensorShape,
    ServiceDeploymentRequest,
    ServiceModelRef,
    SortOrder,
    SourceType,
    TaskStatus,
    Tensor,
    TensorDType,
    UpdatePerfTaskRequest,
    VersionInfo,
)
from volcengine_ml_platform import schema

from ._support import API_VERSION, operations, request_schema_name
from .conftest import NOT_FOUND, Wire

MODEL_ID = "m-20210812150750-w54j6"
VERSION_ID = "m-20210812150750-w54j6-14"
JOB_ID = "pj-20210914105554-nvh45"
TASK_ID = "pf-20210914105554-fb564"
PATH = (
    "tos://ml-platform-auto-created-required-2100000050-cn-north-4/modelrepo/from-sdk-repo/1631236594036/1/"
)


def gateway(action: str) -> bytes:
    return f"/?Action={action}&Version={API_VERSION}".encode()


def metadata(action: str) -> dict[str, str]:
    return {
        "RequestId": "2021091410551801022514606301199F07",
        "Action": action,
        "Version": API_VERSION,
        "Service": "ml_platform",
        "Region": "cn-beijing",
    }


def nulls(value: Any, where: str = "body") -> list[str]:
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in nulls(v, f"{where}[{i}]")]
    return []


# ---- requests: exact path, query and body ----------------------------------------------------------

FULL_VERSION_INFO = {
    "ModelFormat": "SavedModel",
    "ModelType": "TensorFlow:2.4",
    "Path": PATH,
    "SourceType": "TOS",
    "Description": "first version",
    "TensorConfig": {"Inputs": [{"TensorName": "input", "Shape": [-1, 28, 28, 1], "DType": "FLOAT"}]},
    "MetricsList": [
        {"MetricsType": "ImageClassification", "Params": '{"top_k": 5}', "MetricsData": '{"accuracy": 0.98}'}
    ],
    "ModelTags": [{"Key": "team", "Value": "vision"}],
}


def full_create_model() -> CreateModelRequest:
    return CreateModelRequest(
        model_name="mnist",
        model_category=ModelCategory.IMAGECLASSIFICATION,
        version_info=VersionInfo(
            model_format=ModelFormat.SAVEDMODEL,
            model_type="TensorFlow:2.4",
            path=PATH,
            source_type=SourceType.TOS,
            description="first version",
            tensor_config=ModelTensorConfig(
                inputs=[Tensor(tensor_name="input", shape=[-1, 28, 28, 1], d_type=TensorDType.FLOAT)]
            ),
            metrics_list=[
                Metrics(
                    metrics_type=MetricsType.IMAGECLASSIFICATION,
                    params='{"top_k": 5}',
                    metrics_data='{"accuracy": 0.98}',
                )
            ],
            model_tags=[ModelTag(key="team", value="vision")],
        ),
    )


REQUESTS: list[Any] = [
    pytest.param(
        create_model,
        lambda: {"body": full_create_model()},
        gateway("CreateModel"),
        {"ModelName": "mnist", "ModelCategory": "ImageClassification", "VersionInfo": FULL_VERSION_INFO},
        id="CreateModel full",
    ),
    pytest.param(
        create_model,
        lambda: {
            "body": CreateModelRequest(
                model_id=MODEL_ID,
                version_info=VersionInfo(model_format=ModelFormat.ONNX, model_type="ONNX:1.10", path=PATH),
            )
        },
        gateway("CreateModel"),
        {"ModelID": MODEL_ID, "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.10", "Path": PATH}},
        id="CreateModel new version, unset fields absent",
    ),
    pytest.param(
        list_models,
        lambda: {"body": ListModelsRequest()},
        gateway("ListModels"),
        {},
        id="ListModels nothing set: server defaults apply",
    ),
    pytest.param(
        list_models,
        lambda: {
            "body": ListModelsRequest(
                model_name_contains="perf",
                offset=0,
                limit=10,
                sort_by=ListModelsSortBy.CREATETIME,
                sort_order=SortOrder.DESCEND,
            )
        },
        gateway("ListModels"),
        {
            "ModelNameContains": "perf",
            "Offset": 0,
            "Limit": 10,
            "SortBy": "CreateTime",
            "SortOrder": "Descend",
        },
        id="ListModels seed defaults, Offset 0 kept",
    ),
    pytest.param(
        list_model_versions,
        lambda: {
            "body": ListModelVersionsRequest(
                model_id=MODEL_ID,
                limit=100,
                sort_by=ListModelVersionsSortBy.MODELVERSION,
                sort_order=SortOrder.ASCEND,
            )
        },
        gateway("ListModelVersions"),
        {"ModelID": MODEL_ID, "Limit": 100, "SortBy": "ModelVersion", "SortOrder": "Ascend"},
        id="ListModelVersions",
    ),
    pytest.param(
        list_perf_jobs,
        lambda: {"body": ListPerfJobsRequest(model_version_id=VERSION_ID, offset=20)},
        gateway("ListPerfJobs"),
        {"ModelVersionID": VERSION_ID, "Offset": 20},
        id="ListPerfJobs",
    ),
    pytest.param(
        get_model_version,
        lambda: {"body": ModelVersionIDRequest(model_version_id=VERSION_ID)},
        gateway("GetModelVersion"),
        {"ModelVersionID": VERSION_ID},
        id="GetModelVersion",
    ),
    pytest.param(
        create_perf_job,
        lambda: {
            "body": CreatePerfJobRequest(
                model_version_id=VERSION_ID,
                tensor_config=PerfTensorConfig(
                    inputs=[
                        PerfTensor(
                            tensor_name="serving_default_Conv1_input:0",
                            shape=PerfTensorShape(min_shape=[1, 28, 28, 1], max_shape=[8, 28, 28, 1]),
                            d_type=PerfTensorDType.FLOAT,
                        )
                    ]
                ),
                job_type=JobType.CONVERT_PERF,
                job_params_list=[
                    JobParams(
                        flavor_id_list=["ml.g1e.large"], convert_type="trt", convert_precision_list=["FP16"]
                    )
                ],
            )
        },
        gateway("CreatePerfJob"),
        {
            "ModelVersionID": VERSION_ID,
            "TensorConfig": {
                "Inputs": [
                    {
                        "TensorName": "serving_default_Conv1_input:0",
                        "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]},
                        "DType": "FLOAT",
                    }
                ]
            },
            "JobType": "CONVERT_PERF",
            "JobParamsList": [
                {"FlavorIDList": ["ml.g1e.large"], "ConvertType": "trt", "ConvertPrecisionList": ["FP16"]}
            ],
        },
        id="CreatePerfJob",
    ),
    pytest.param(
        update_perf_task,
        lambda: {"body": UpdatePerfTaskRequest(task_id=TASK_ID, status=TaskStatus.CANCELLED)},
        gateway("UpdatePerfTask"),
        {"TaskID": TASK_ID, "Status": "Cancelled"},
        id="UpdatePerfTask",
    ),
    pytest.param(
        create_service,
        lambda: {
            "body": CreateServiceRequest(
                service_name="mnist-online",
                service_deployment=ServiceDeploymentRequest(
                    replicas=1,
                    flavor_id="ml.g1e.large",
                    model=ServiceModelRef(model_id=MODEL_ID, model_version_id=VERSION_ID),
                    image_id="machinelearning/tfserving:tf-cuda10.1",
                    envs=[Env(name="MODEL_NAME", value="mnist")],
                ),
            )
        },
        gateway("CreateService"),
        {
            "ServiceName": "mnist-online",
            "ServiceDeployment": {
                "Replicas": 1,
                "FlavorID": "ml.g1e.large",
                "Model": {"ModelID": MODEL_ID, "ModelVersionID": VERSION_ID},
                "ImageID": "machinelearning/tfserving:tf-cuda10.1",
                "Envs": [{"Name": "MODEL_NAME", "Value": "mnist"}],
            },
        },
        id="CreateService",
    ),
]


@pytest.mark.parametrize(("module", "kwargs", "raw_path", "expected"), REQUESTS)
def test_request_goes_out_exactly(
    wire: Wire,
    client: ml_platform_client.Client,
    module: ModuleType,
    kwargs: Any,
    raw_path: bytes,
    expected: Any,
) -> None:
    module.sync_detailed(client=client, **kwargs())
    request = wire.last
    assert request.method == "POST"
    assert request.url.host == "open.volcengineapi.com"
    assert request.url.raw_path == raw_path
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body == expected
    assert nulls(body) == []
    operation_id = raw_path.decode().split("Action=")[1].split("&")[0]
    assert schema.problems(request_schema_name(operation_id), body) == []


def test_inner_request_carries_the_token_intact(wire: Wire, client: ml_platform_client.Client) -> None:
    body = InnerCreateModelRequest(
        model_name="converted",
        version_info=InnerVersionInfo(
            model_format=ModelFormat.TENSORRT,
            model_type="TensorRT:7.2",
            path=PATH,
            source_type=SourceType.PERF,
            base_model_version_id=VERSION_ID,
            source_id=TASK_ID,
        ),
    )
    inner_create_model.sync_detailed(region="cn-beijing", client=client, body=body, token="tok en/+")
    request = wire.last
    assert request.method == "POST"
    path, _, query = request.url.raw_path.partition(b"?")
    assert path == b"/ml-platform/cn-beijing/api/InnerCreateModel"
    assert query.startswith(b"Token=")
    assert parse_qs(query.decode(), strict_parsing=True) == {"Token": ["tok en/+"]}
    assert request.url.params["Token"] == "tok en/+"
    assert json.loads(request.content) == {
        "ModelName": "converted",
        "VersionInfo": {
            "ModelFormat": "TensorRT",
            "ModelType": "TensorRT:7.2",
            "Path": PATH,
            "SourceType": "Perf",
            "BaseModelVersionID": VERSION_ID,
            "SourceId": TASK_ID,
        },
    }
    assert schema.problems("InnerCreateModelRequest", json.loads(request.content)) == []


@pytest.mark.parametrize("token", ["tok en/+", "a&Action=Evil&b=%25", "t=o?k#en", "令牌-ü", "x" * 2048])
def test_token_survives_any_characters(wire: Wire, client: ml_platform_client.Client, token: str) -> None:
    inner_get_model_version.sync_detailed(
        region="cn-beijing",
        client=client,
        body=ModelVersionIDRequest(model_version_id=VERSION_ID),
        token=token,
    )
    path, _, query = wire.last.url.raw_path.partition(b"?")
    assert path == b"/ml-platform/cn-beijing/api/InnerGetModelVersion"
    assert parse_qs(query.decode("ascii"), strict_parsing=True) == {"Token": [token]}


def test_region_is_one_path_segment(wire: Wire, client: ml_platform_client.Client) -> None:
    get_sts_token.sync_detailed(region="cn/../x", client=client, body=GetSTSTokenRequest(), token="t")
    assert wire.last.url.raw_path == b"/ml-platform/cn%2F..%2Fx/api/GetSTSToken?Token=t"


def test_sts_token_request_sends_its_inline_default(wire: Wire, client: ml_platform_client.Client) -> None:
    # Duration's default is declared inline (not through a $ref), so the generated model carries it.
    get_sts_token.sync_detailed(region="cn-beijing", client=client, body=GetSTSTokenRequest(), token="t")
    assert json.loads(wire.last.content) == {"Duration": 3600}


def test_client_level_params_do_not_replace_action_and_version(wire: Wire) -> None:
    # httpx 0.28 replaces a URL's query when params= is given: Action/Version must still be sent.
    client = wire.client(params={"x": "1"})
    create_model.sync_detailed(client=client, body=full_create_model())
    query = parse_qs(wire.last.url.query.decode(), strict_parsing=True)
    assert query == {"Action": ["CreateModel"], "Version": [API_VERSION], "x": ["1"]}
    assert wire.last.url.path == "/"
    inner_create_model.sync_detailed(
        region="cn-beijing",
        client=client,
        body=InnerCreateModelRequest.from_dict(full_create_model().to_dict()),
        token="tok en/+",
    )
    query = parse_qs(wire.last.url.query.decode(), strict_parsing=True)
    assert query == {"Token": ["tok en/+"], "x": ["1"]}


def test_injected_httpx_client_with_params_keeps_action_and_version(wire: Wire) -> None:
    client = ml_platform_client.Client(base_url="http://unused").set_httpx_client(
        httpx.Client(
            base_url="http://127.0.0.1:8000", transport=wire.transport, params={"Region": "cn-beijing"}
        )
    )
    list_models.sync_detailed(client=client, body=ListModelsRequest())
    assert wire.last.url.host == "127.0.0.1"
    assert parse_qs(wire.last.url.query.decode()) == {
        "Action": ["ListModels"],
        "Version": [API_VERSION],
        "Region": ["cn-beijing"],
    }


def test_async_request_goes_out_the_same(wire: Wire) -> None:
    client = ml_platform_client.Client(
        base_url="https://open.volcengineapi.com",
        httpx_args={"transport": wire.transport, "params": {"x": "1"}},
    )

    async def call() -> Any:
        async with client:
            return await create_model.asyncio_detailed(client=client, body=full_create_model())

    response = asyncio.run(call())
    assert isinstance(response.parsed, ErrorResponse)  # the wire's default reply
    assert parse_qs(wire.last.url.query.decode()) == {
        "Action": ["CreateModel"],
        "Version": [API_VERSION],
        "x": ["1"],
    }
    assert json.loads(wire.last.content)["VersionInfo"] == FULL_VERSION_INFO


# ---- every operation of the document has a generated function that goes to its front door ---------

MINIMAL_BODIES: dict[str, dict[str, Any]] = {
    "CreateModelRequest": {
        "VersionInfo": {"ModelFormat": "Custom", "ModelType": "XGBoost:1.4", "Path": PATH}
    },
    "InnerCreateModelRequest": {
        "VersionInfo": {"ModelFormat": "Custom", "ModelType": "XGBoost:1.4", "Path": PATH}
    },
    "ModelIDRequest": {"ModelID": MODEL_ID},
    "ListModelsRequest": {},
    "UpdateModelRequest": {"ModelID": MODEL_ID, "ModelName": "renamed"},
    "GetModelNextVersionRequest": {},
    "ListModelVersionsRequest": {"ModelID": MODEL_ID},
    "ModelVersionIDRequest": {"ModelVersionID": VERSION_ID},
    "UpdateModelVersionRequest": {"ModelVersionID": VERSION_ID, "Description": "d"},
    "GetTOSUploadPathRequest": {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]},
    "CreatePerfJobRequest": {
        "ModelVersionID": VERSION_ID,
        "TensorConfig": {
            "Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1], "MaxShape": [2]}}]
        },
        "JobType": "PERF_ONLY",
        "JobParamsList": [{"FlavorIDList": ["ml.g1e.large"]}],
    },
    "ListPerfJobsRequest": {},
    "JobIDRequest": {"JobID": JOB_ID},
    "ListPerfTasksRequest": {"JobID": JOB_ID},
    "UpdatePerfTaskRequest": {"TaskID": TASK_ID, "Status": "Running"},
    "TaskIDRequest": {"TaskID": TASK_ID},
    "AdminGetSecureTokenRequest": {"TimeToLive": 600, "AccountId": 2100000050, "UserId": 0},
    "ListResourceRequest": {"Name": "ml.g1e.large"},
    "CreateServiceRequest": {
        "ServiceName": "svc",
        "ServiceDeployment": {
            "Replicas": 1,
            "FlavorID": "ml.g1e.large",
            "Model": {"ModelID": MODEL_ID, "ModelVersionID": VERSION_ID},
            "ImageID": "machinelearning/tfserving:tf-cuda10.1",
        },
    },
    "ServiceIDRequest": {"ServiceID": "s-20210914105554-a1b2c"},
    "UpdateServiceRequest": {
        "ServiceID": "s-20210914105554-a1b2c",
        "Replicas": 2,
        "ChangeType": "ScalingService",
    },
    "ListServicesRequest": {"ServiceNameContains": "mnist"},
    "GetSTSTokenRequest": {"Duration": 900},
}


def snake(operation_id: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation_id).lower()


def generated_module(op: Any) -> ModuleType:
    return importlib.import_module(f"ml_platform_client.api.{op.spec['tags'][0]}.{snake(op.operation_id)}")


def test_the_generated_api_is_exactly_the_documented_operations() -> None:
    documented = {f"{op.spec['tags'][0]}.{snake(op.operation_id)}" for op in operations()}
    api_root = importlib.import_module("ml_platform_client.api").__path__[0]
    generated = {f"{p.parent.name}.{p.stem}" for p in Path(api_root).glob("*/*.py") if p.stem != "__init__"}
    assert generated == documented


@pytest.mark.parametrize("op", operations(), ids=lambda op: op.operation_id)
def test_every_operation_goes_to_its_front_door(
    wire: Wire, client: ml_platform_client.Client, op: Any
) -> None:
    module = generated_module(op)
    name = request_schema_name(op.operation_id)
    body_dict = MINIMAL_BODIES[name]
    assert schema.problems(name, body_dict) == []
    body = getattr(ml_platform_client.models, name).from_dict(body_dict)
    if op.path.startswith("/?"):
        response = module.sync_detailed(client=client, body=body)
        assert (
            wire.last.url.raw_path == op.path.encode()
        )  # the operationId is the Action, but for local extensions
    else:
        response = module.sync_detailed(region="cn-north-4", client=client, body=body, token="secure-token")
        assert (
            wire.last.url.raw_path
            == f"/ml-platform/cn-north-4/api/{op.operation_id}?Token=secure-token".encode()
        )
    assert wire.last.method == "POST"
    assert json.loads(wire.last.content) == body_dict
    assert isinstance(response.parsed, ErrorResponse)  # the wire's default 404 envelope


# ---- responses ----------------------------------------------------------------------------------


def test_unknown_job_status_and_field_are_kept(wire: Wire, client: ml_platform_client.Client) -> None:
    original = {
        "ResponseMetadata": {**metadata("ListPerfJobs"), "TraceId": "abc"},
        "Debug": {"Shard": 3},
        "Result": {
            "Total": 2,
            "List": [
                {
                    "JobID": JOB_ID,
                    "ModelVersionID": VERSION_ID,
                    "TensorConfigID": "t-20210815151138-7fmmp",
                    "JobParamsList": [{"FlavorIDList": ["ml.g1e.large"], "Priority": "high"}],
                    "JobType": "PERF_ONLY",
                    "JobStatus": "Paused",
                    "CreateTime": "2021-09-14T10:55:54+08:00",
                    "TaskCount": 1,
                    "EndedTaskCount": 0,
                    "PausedBy": {"User": "ops", "At": "2021-09-14T11:00:00+08:00"},
                },
                {
                    "JobID": "pj-20210914105554-aaaaa",
                    "ModelVersionID": VERSION_ID,
                    "TensorConfigID": "t-20210815151138-7fmmp",
                    "JobParamsList": [{"FlavorIDList": ["ml.g1e.large"]}],
                    "JobType": "QUANTIZE_ONLY",
                    "JobStatus": "Success",
                    "CreateTime": "2021-09-14T10:55:54+08:00",
                },
            ],
            "NextToken": None,
        },
    }
    wire.reply(200, json=original)
    response = list_perf_jobs.sync_detailed(client=client, body=ListPerfJobsRequest())
    parsed = response.parsed
    assert isinstance(parsed, ListPerfJobsResponse)
    paused, done = parsed.result.list_
    assert isinstance(paused.job_status, TaskStatus)
    assert paused.job_status.is_known is False
    assert str(paused.job_status) == "Paused"
    assert paused.job_status == "Paused"
    assert paused.additional_properties == {"PausedBy": {"User": "ops", "At": "2021-09-14T11:00:00+08:00"}}
    assert paused.job_params_list[0].additional_properties == {"Priority": "high"}
    assert parsed.result.additional_properties == {"NextToken": None}
    assert parsed.response_metadata.additional_properties == {"TraceId": "abc"}
    assert parsed.additional_properties == {"Debug": {"Shard": 3}}
    assert done.job_status is TaskStatus.SUCCESS and done.job_status.is_known
    assert (
        isinstance(done.job_type, JobType)
        and not done.job_type.is_known
        and str(done.job_type) == "QUANTIZE_ONLY"
    )
    assert parsed["Result"]["List"][0]["JobStatus"] == "Paused"
    assert parsed.to_dict() == original
    assert json.loads(json.dumps(parsed.to_dict())) == original


def test_unknown_task_status_in_a_task_list(wire: Wire, client: ml_platform_client.Client) -> None:
    def task(task_id: str, status: str) -> dict[str, Any]:
        return {
            "TaskID": task_id,
            "JobID": JOB_ID,
            "ModelVersionID": VERSION_ID,
            "TaskArgs": {"TaskType": "PERF_ONLY", "FlavorID": "ml.g1e.large", "ConvertType": "base"},
            "TaskStatus": status,
            "CreateTime": "2021-09-14T10:55:55+08:00",
        }

    original = {
        "ResponseMetadata": metadata("ListPerfTasks"),
        "Result": {
            "Total": 3,
            "List": [
                task(TASK_ID, "Stopping"),
                task("pf-20210914105554-bbbbb", "Preempted"),
                task("pf-20210914105554-ccccc", "Paused"),
            ],
        },
    }
    wire.reply(200, json=original)
    parsed = list_perf_tasks.sync_detailed(client=client, body=ListPerfTasksRequest(job_id=JOB_ID)).parsed
    assert isinstance(parsed, ListPerfTasksResponse)
    statuses = [t.task_status for t in parsed.result.list_]
    assert [s.is_known for s in statuses] == [True, False, False]
    assert [str(s) for s in statuses] == ["Stopping", "Preempted", "Paused"]
    assert statuses[0] is TaskStatus.STOPPING
    assert all(isinstance(s, TaskStatus) for s in statuses)
    assert parsed.to_dict() == original


def test_unknown_enum_values_in_a_model_version(wire: Wire, client: ml_platform_client.Client) -> None:
    original = {
        "ResponseMetadata": metadata("GetModelVersion"),
        "Result": {
            "ModelVersionID": VERSION_ID,
            "ModelVersion": 14,
            "ModelFormat": "SafeTensors",
            "ModelType": "JAX:0.4",
            "Path": PATH,
            "Description": "",
            "SourceType": "HuggingFace",
            "CreateTime": "2021-09-10T09:37:14+08:00",
            "TensorConfig": {"Inputs": [{"TensorName": "x", "Shape": [1], "DType": "BFLOAT16"}]},
            "MetricsList": [{"MetricsType": "Latency", "Params": "{}", "MetricsData": "{}"}],
        },
    }
    wire.reply(200, json=original)
    parsed = get_model_version.sync_detailed(
        client=client, body=ModelVersionIDRequest(model_version_id=VERSION_ID)
    ).parsed
    assert isinstance(parsed, GetModelVersionResponse)
    result = parsed.result
    assert (str(result.model_format), result.model_format.is_known) == ("SafeTensors", False)
    assert (str(result.source_type), result.source_type.is_known) == ("HuggingFace", False)
    assert isinstance(result.metrics_list, list)
    metrics_type = result.metrics_list[0].metrics_type
    assert (str(metrics_type), metrics_type.is_known) == ("Latency", False)
    assert parsed.to_dict() == original


def test_flavor_groups_round_trip_with_unknown_fields(wire: Wire, client: ml_platform_client.Client) -> None:
    flavor = {"Id": "f-1", "Name": "ml.g1e.large", "vCPU": 4, "Memory": 16384, "GPUType": "T4", "GPUNum": 1}
    original = {
        "ResponseMetadata": metadata("ListResource"),
        "Result": {"Total": 1, "List": {"GPU": [{**flavor, "Price": 1.5}], "CPU": []}},
    }
    wire.reply(200, json=original)
    parsed = list_resource.sync_detailed(client=client, body=ListResourceRequest(name="ml.g1e.large")).parsed
    assert isinstance(parsed, ListResourceResponse)
    groups = parsed.result.list_
    # a map-typed model: typed values live in additional_properties, dict-style access gives the JSON
    assert groups.additional_keys == ["GPU", "CPU"]
    assert groups.additional_properties["GPU"][0].id == groups["GPU"][0]["Id"] == "f-1"
    assert groups.additional_properties["GPU"][0].additional_properties == {"Price": 1.5}
    assert parsed["Result"]["List"]["CPU"] == []
    assert parsed.to_dict() == original


def test_404_error_envelope_parses(wire: Wire, client: ml_platform_client.Client) -> None:
    wire.reply(404, json=NOT_FOUND)
    response = get_model_version.sync_detailed(
        client=client, body=ModelVersionIDRequest(model_version_id=VERSION_ID)
    )
    assert response.status_code == 404
    assert response.status_code is HTTPStatus.NOT_FOUND
    assert isinstance(response.parsed, ErrorResponse)
    error = response.parsed.response_metadata.error
    assert (error.code, error.code_n) == ("NotFound", 200002)
    assert "does not exist" in error.message
    assert response.parsed["ResponseMetadata"]["Error"]["Code"] == "NotFound"
    assert response.parsed.to_dict() == NOT_FOUND
    assert (
        get_model_version.sync(client=client, body=ModelVersionIDRequest(model_version_id=VERSION_ID))
        is not None
    )


@pytest.mark.parametrize(
    ("status", "code", "code_n"),
    [
        (400, "InvalidParameter", 100001),
        (401, "SignatureDoesNotMatch", 100010),
        (429, "FlowLimitExceeded", 100018),
        (503, "ServiceUnavailableTemp", 100019),
    ],
)
def test_gateway_error_envelopes_parse(
    wire: Wire, client: ml_platform_client.Client, status: int, code: str, code_n: int
) -> None:
    envelope = {
        "ResponseMetadata": {
            **metadata("CreateModel"),
            "Error": {"Code": code, "CodeN": code_n, "Message": "m"},
        }
    }
    wire.reply(status, json=envelope)
    response = create_model.sync_detailed(client=client, body=full_create_model())
    assert response.status_code == status
    assert isinstance(response.parsed, ErrorResponse)
    assert response.parsed.response_metadata.error.code == code
    assert response.parsed.to_dict() == envelope


HTML = b"<html><head><title>520 Origin Error</title></head><body>cloudflare</body></html>"


@pytest.mark.parametrize("status", [520, 502, 500])
def test_status_with_an_html_body_is_unexpected_status(
    wire: Wire, client: ml_platform_client.Client, status: int
) -> None:
    wire.reply(status, content=HTML, headers={"Content-Type": "text/html"})
    with pytest.raises(errors.UnexpectedStatus) as caught:
        list_models.sync_detailed(client=client, body=ListModelsRequest())
    assert type(caught.value) is errors.UnexpectedStatus
    assert caught.value.status_code == status
    assert caught.value.content == HTML
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "not the documented envelope" in message
    assert "520 Origin Error" in message


def test_520_with_the_error_envelope_parses(wire: Wire, client: ml_platform_client.Client) -> None:
    envelope = {
        "ResponseMetadata": {
            **metadata("ListModels"),
            "Error": {"Code": "InternalError", "CodeN": 100014, "Message": "origin unreachable"},
        }
    }
    wire.reply(520, json=envelope)
    response = list_models.sync_detailed(client=client, body=ListModelsRequest())
    assert response.status_code == 520
    assert type(response.status_code) is int
    assert isinstance(response.parsed, ErrorResponse)
    assert response.parsed.response_metadata.error.code == "InternalError"
    assert response.parsed.to_dict() == envelope


def truncated_body() -> bytes:
    whole = json.dumps(
        {"ResponseMetadata": metadata("CreateModel"), "Result": {"ModelID": MODEL_ID}}
    ).encode()
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    "content",
    [
        truncated_body(),
        b"",
        HTML,
        b"[]",
        b'"ok"',
        json.dumps({"ResponseMetadata": metadata("CreateModel")}).encode(),
        json.dumps({"ResponseMetadata": metadata("CreateModel"), "Result": None}).encode(),
    ],
    ids=["truncated", "empty", "html", "array", "string", "no Result", "null Result"],
)
def test_200_without_the_envelope_is_unexpected_status(
    wire: Wire, client: ml_platform_client.Client, content: bytes
) -> None:
    wire.reply(200, content=content, headers={"Content-Type": "application/json"})
    with pytest.raises(errors.UnexpectedStatus) as caught:
        create_model.sync_detailed(client=client, body=full_create_model())
    assert caught.value.status_code == 200
    assert caught.value.content == content
    assert "HTTP 200" in str(caught.value)


def test_long_unexpected_body_is_excerpted(wire: Wire, client: ml_platform_client.Client) -> None:
    wire.reply(502, content=b"<html>" + "é".encode() * 2000)
    with pytest.raises(errors.UnexpectedStatus) as caught:
        list_models.sync_detailed(client=client, body=ListModelsRequest())
    assert len(str(caught.value)) < 800
    assert str(caught.value).endswith(" ...")
