from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_type import JobType
from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.job_params import JobParams
    from ..models.perf_tensor_config import PerfTensorConfig


T = TypeVar("T", bound="CreatePerfJobRequest")


@_attrs_define(repr=False)
class CreatePerfJobRequest(WireMapping):
    """
    Attributes:
        model_version_id (str): a model version ID: {ModelID}-{version number}, e.g. m-20210812150750-w54j6-14 Example:
            m-20210812150750-w54j6-14.
        tensor_config (PerfTensorConfig): A perf job's tensor config (shapes as ranges; no STRING or BOOL tensors)
        job_type (JobType):
        job_params_list (list[JobParams]):
    """

    model_version_id: str
    tensor_config: PerfTensorConfig
    job_type: JobType
    job_params_list: list[JobParams]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version_id = self.model_version_id

        tensor_config = self.tensor_config.to_dict()

        job_type = self.job_type.value

        job_params_list = []
        for job_params_list_item_data in self.job_params_list:
            job_params_list_item = job_params_list_item_data.to_dict()
            job_params_list.append(job_params_list_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersionID": model_version_id,
                "TensorConfig": tensor_config,
                "JobType": job_type,
                "JobParamsList": job_params_list,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_params import JobParams  # noqa: PLC0415
        from ..models.perf_tensor_config import PerfTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        model_version_id = d.pop("ModelVersionID")

        tensor_config = PerfTensorConfig.from_dict(d.pop("TensorConfig"))

        job_type = JobType(d.pop("JobType"))

        job_params_list = []
        _job_params_list = d.pop("JobParamsList")
        for job_params_list_item_data in _job_params_list:
            job_params_list_item = JobParams.from_dict(job_params_list_item_data)

            job_params_list.append(job_params_list_item)

        create_perf_job_request = cls(
            model_version_id=model_version_id,
            tensor_config=tensor_config,
            job_type=job_type,
            job_params_list=job_params_list,
        )

        create_perf_job_request.additional_properties = d
        return create_perf_job_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
