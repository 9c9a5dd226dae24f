from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_type import JobType
from ..models.task_status import TaskStatus
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.job_params import JobParams
    from ..models.stored_tensor_config import StoredTensorConfig


T = TypeVar("T", bound="PerfJob")


@_attrs_define(repr=False)
class PerfJob(WireMapping):
    """
    Attributes:
        job_id (str):
        model_version_id (str):
        tensor_config_id (str):
        job_params_list (list[JobParams]):
        job_type (JobType):
        job_status (TaskStatus): Terminal statuses are Success, Failed and Cancelled.
        create_time (str):
        tensor_config (StoredTensorConfig | Unset): A tensor config as stored and echoed back in results
        task_count (int | Unset):
        ended_task_count (int | Unset):
    """

    job_id: str
    model_version_id: str
    tensor_config_id: str
    job_params_list: list[JobParams]
    job_type: JobType
    job_status: TaskStatus
    create_time: str
    tensor_config: StoredTensorConfig | Unset = UNSET
    task_count: int | Unset = UNSET
    ended_task_count: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job_id = self.job_id

        model_version_id = self.model_version_id

        tensor_config_id = self.tensor_config_id

        job_params_list = []
        for job_params_list_item_data in self.job_params_list:
            job_params_list_item = job_params_list_item_data.to_dict()
            job_params_list.append(job_params_list_item)

        job_type = self.job_type.value

        job_status = self.job_status.value

        create_time = self.create_time

        tensor_config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tensor_config, Unset):
            tensor_config = self.tensor_config.to_dict()

        task_count = self.task_count

        ended_task_count = self.ended_task_count

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "JobID": job_id,
                "ModelVersionID": model_version_id,
                "TensorConfigID": tensor_config_id,
                "JobParamsList": job_params_list,
                "JobType": job_type,
                "JobStatus": job_status,
                "CreateTime": create_time,
            }
        )
        if tensor_config is not UNSET:
            field_dict["TensorConfig"] = tensor_config
        if task_count is not UNSET:
            field_dict["TaskCount"] = task_count
        if ended_task_count is not UNSET:
            field_dict["EndedTaskCount"] = ended_task_count

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_params import JobParams  # noqa: PLC0415
        from ..models.stored_tensor_config import StoredTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        job_id = d.pop("JobID")

        model_version_id = d.pop("ModelVersionID")

        tensor_config_id = d.pop("TensorConfigID")

        job_params_list = []
        _job_params_list = d.pop("JobParamsList")
        for job_params_list_item_data in _job_params_list:
            job_params_list_item = JobParams.from_dict(job_params_list_item_data)

            job_params_list.append(job_params_list_item)

        job_type = JobType(d.pop("JobType"))

        job_status = TaskStatus(d.pop("JobStatus"))

        create_time = d.pop("CreateTime")

        _tensor_config = d.pop("TensorConfig", UNSET)
        tensor_config: StoredTensorConfig | Unset
        if isinstance(_tensor_config, Unset):
            tensor_config = UNSET
        else:
            tensor_config = StoredTensorConfig.from_dict(_tensor_config)

        task_count = d.pop("TaskCount", UNSET)

        ended_task_count = d.pop("EndedTaskCount", UNSET)

        perf_job = cls(
            job_id=job_id,
            model_version_id=model_version_id,
            tensor_config_id=tensor_config_id,
            job_params_list=job_params_list,
            job_type=job_type,
            job_status=job_status,
            create_time=create_time,
            tensor_config=tensor_config,
            task_count=task_count,
            ended_task_count=ended_task_count,
        )

        perf_job.additional_properties = d
        return perf_job

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
