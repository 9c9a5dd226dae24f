"""Checked by mypy --strict (tests/test_static.py), never run: the public API's types are precise, so
a user's editor and type checker see the generated response classes, not ``Any``.

Each ``assert_type`` fails the check if a method's type is ``Any`` or drifts from the generated class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import assert_type

from ml_platform_client.models import (
    CreateModelResponse,
    CreatePerfJobResponse,
    GetModelResponse,
    GetModelVersionResponse,
    GetServiceResponse,
    ListModelsResponse,
    ListModelVersionsResponse,
    ListPerfJobsResponse,
    ListPerfTasksResponse,
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
)
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.inference_service import AsyncInferenceService, InferenceService
from volcengine_ml_platform.models.model import AsyncModel, Model


def public(model: Model) -> None:
    created = model.register("./m", model_name="m", model_format="ONNX", model_type="ONNX:1.23")
    assert_type(created, CreateModelResponse)
    model_id: str = created.result.model_id
    version: int = created.result.version_info.model_version
    assert_type(model.register("./m", model_id=model_id, if_exists="new_version"), CreateModelResponse)
    assert_type(model.download(model_id, "latest", "./copy", overwrite=True), list[Path])
    assert_type(model.get_model(model_id), GetModelResponse)
    assert_type(model.get_model_version(model_id, version), GetModelVersionResponse)
    path: str = model.get_model_version(model_id, "1").result.path
    assert_type(model.list_models(), ListModelsResponse)
    total: int = model.list_models().result.total
    assert_type(model.get_model_versions(model_id), ListModelVersionsResponse)
    assert_type(model.update_model(model_id, "new"), ModelIDResponse)
    assert_type(model.update_model_version(model_id, "1", description="d"), ModelVersionIDResponse)
    assert_type(model.unregister(model_id, "1"), ModelVersionIDResponse)
    assert_type(model.unregister_all_versions(model_id), ModelIDResponse)
    assert_type(model.create_perf_job(model_id, "1", {}, "PERF_ONLY", []), CreatePerfJobResponse)
    job_id: str = model.create_perf_job(model_id, "1", {}, "PERF_ONLY", []).result.job_id
    assert_type(model.list_perf_jobs(), ListPerfJobsResponse)
    assert_type(model.list_perf_tasks(job_id=job_id), ListPerfTasksResponse)
    assert_type(model.update_perf_task("t", "Running"), TaskIDResponse)
    assert_type(model.calcel_perf_task("t"), TaskIDResponse)
    assert_type(model.list_services(), ListServicesResponse)
    service = model.deploy(model_id, "1", "svc")
    assert_type(service, InferenceService)
    assert_type(service.refresh(), GetServiceResponse)
    assert_type(service.scale(2), ServiceIDResponse)
    assert_type(service.stop(), ServiceIDResponse)
    assert_type(service.wait_for("Running"), str)
    assert_type(model.get_service(service.service_id), InferenceService)

    assert_type(model.iter_models(), Iterator[ModelSummary])
    assert_type(model.iter_model_versions(model_id), Iterator[ModelVersion])
    assert_type(model.iter_perf_jobs(), Iterator[PerfJob])
    assert_type(model.iter_perf_tasks(), Iterator[PerfTask])
    assert_type(model.iter_services(), Iterator[Service])
    names: list[str] = [m.model_name for m in model.iter_models()]
    assert_type(model.get_model_by_name("m"), ModelSummary)
    assert_type(model.resolve_model_id("m"), str)
    del path, total, names


def inner(model: inner_model.Model) -> None:
    created = model.register("./m", model_id="m-20210812150750-w54j6", source_id="pf-1")
    assert_type(created, CreateModelResponse)
    assert_type(model.get_model_version("m-20210812150750-w54j6", "1"), GetModelVersionResponse)
    assert_type(model.update_model_version("m-20210812150750-w54j6", "1"), ModelVersionIDResponse)
    assert_type(model.download("m-20210812150750-w54j6", "1", "./copy"), list[Path])


async def inner_asynchronous(model: inner_model.AsyncModel) -> None:
    created = await model.register("./m", model_id="m-20210812150750-w54j6", source_id="pf-1")
    assert_type(created, CreateModelResponse)
    assert_type(await model.get_model_version("m-20210812150750-w54j6", "1"), GetModelVersionResponse)
    assert_type(await model.update_model_version("m-20210812150750-w54j6", "1"), ModelVersionIDResponse)
    assert_type(await model.download("m-20210812150750-w54j6", "1", "./copy"), list[Path])
    assert_type(await model.upload_tos("./data"), str)
    target: int | None = model.get_target_account_id()
    del target


async def asynchronous(model: AsyncModel) -> None:
    created = await model.register("./m", model_name="m", model_format="ONNX", model_type="ONNX:1.23")
    assert_type(created, CreateModelResponse)
    model_id: str = created.result.model_id
    assert_type(await model.get_model(model_id), GetModelResponse)
    assert_type(await model.get_model_version(model_id, "latest"), GetModelVersionResponse)
    assert_type(await model.list_models(), ListModelsResponse)
    assert_type(await model.download(model_id, "1", "./copy"), list[Path])
    assert_type(model.iter_models(), AsyncIterator[ModelSummary])
    assert_type(model.iter_model_versions(model_id), AsyncIterator[ModelVersion])
    assert_type(model.iter_perf_jobs(), AsyncIterator[PerfJob])
    assert_type(model.iter_perf_tasks(), AsyncIterator[PerfTask])
    assert_type(model.iter_services(), AsyncIterator[Service])
    ids: list[str] = [m.model_id async for m in model.iter_models()]
    assert_type(await model.get_model_by_name("m"), ModelSummary)
    assert_type(await model.wait_perf_job("pj-1"), ListPerfTasksResponse)
    service = await model.deploy(model_id, "1", "svc")
    assert_type(service, AsyncInferenceService)
    assert_type(await service.refresh(), GetServiceResponse)
    assert_type(await service.scale(2), ServiceIDResponse)
    assert_type(await service.wait_for("Running"), str)
    status: str = service.status
    assert_type(await model.get_service(service.service_id), AsyncInferenceService)
    del ids, status
