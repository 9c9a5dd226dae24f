from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.task_status import TaskStatus
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.perf_task_result import PerfTaskResult
    from ..models.task_args import TaskArgs


T = TypeVar("T", bound="PerfTask")


@_attrs_define(repr=False)
class PerfTask(WireMapping):
    """
    Attributes:
        task_id (str):
        job_id (str):
        model_version_id (str):
        task_args (TaskArgs):
        task_status (TaskStatus): Terminal statuses are Success, Failed and Cancelled.
        create_time (str):
        result (PerfTaskResult | Unset): Local platform: what the worker measured, once the task has run: FlavorID,
            Precision, ExecutionProvider, OnnxRuntimeVersion, CPUModel, IntraOpThreads, PeakMemoryMiB, ModelVersionID (the
            version measured; for a conversion, the new one), Measurements (per batch size: LatencyMsP50/P90/P99/Mean,
            InferencesPerSecond, SamplesPerSecond, Iterations, MeasuredSeconds) and, for a conversion, Check (output
            differences and the tolerance applied)
        message (str | Unset): Local platform: why a task failed
    """

    task_id: str
    job_id: str
    model_version_id: str
    task_args: TaskArgs
    task_status: TaskStatus
    create_time: str
    result: PerfTaskResult | Unset = UNSET
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        job_id = self.job_id

        model_version_id = self.model_version_id

        task_args = self.task_args.to_dict()

        task_status = self.task_status.value

        create_time = self.create_time

        result: dict[str, Any] | Unset = UNSET
        if not isinstance(self.result, Unset):
            result = self.result.to_dict()

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TaskID": task_id,
                "JobID": job_id,
                "ModelVersionID": model_version_id,
                "TaskArgs": task_args,
                "TaskStatus": task_status,
                "CreateTime": create_time,
            }
        )
        if result is not UNSET:
            field_dict["Result"] = result
        if message is not UNSET:
            field_dict["Message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.perf_task_result import PerfTaskResult  # noqa: PLC0415
        from ..models.task_args import TaskArgs  # noqa: PLC0415

        d = dict(src_dict)
        task_id = d.pop("TaskID")

        job_id = d.pop("JobID")

        model_version_id = d.pop("ModelVersionID")

        task_args = TaskArgs.from_dict(d.pop("TaskArgs"))

        task_status = TaskStatus(d.pop("TaskStatus"))

        create_time = d.pop("CreateTime")

        _result = d.pop("Result", UNSET)
        result: PerfTaskResult | Unset
        if isinstance(_result, Unset):
            result = UNSET
        else:
            result = PerfTaskResult.from_dict(_result)

        message = d.pop("Message", UNSET)

        perf_task = cls(
            task_id=task_id,
            job_id=job_id,
            model_version_id=model_version_id,
            task_args=task_args,
            task_status=task_status,
            create_time=create_time,
            result=result,
            message=message,
        )

        perf_task.additional_properties = d
        return perf_task

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
