from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_type import JobType
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="TaskArgs")


@_attrs_define(repr=False)
class TaskArgs(WireMapping):
    """
    Attributes:
        task_type (JobType):
        flavor_id (str):
        convert_type (str | Unset):
        convert_precision (str | Unset):
    """

    task_type: JobType
    flavor_id: str
    convert_type: str | Unset = UNSET
    convert_precision: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_type = self.task_type.value

        flavor_id = self.flavor_id

        convert_type = self.convert_type

        convert_precision = self.convert_precision

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TaskType": task_type,
                "FlavorID": flavor_id,
            }
        )
        if convert_type is not UNSET:
            field_dict["ConvertType"] = convert_type
        if convert_precision is not UNSET:
            field_dict["ConvertPrecision"] = convert_precision

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        task_type = JobType(d.pop("TaskType"))

        flavor_id = d.pop("FlavorID")

        convert_type = d.pop("ConvertType", UNSET)

        convert_precision = d.pop("ConvertPrecision", UNSET)

        task_args = cls(
            task_type=task_type,
            flavor_id=flavor_id,
            convert_type=convert_type,
            convert_precision=convert_precision,
        )

        task_args.additional_properties = d
        return task_args

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
