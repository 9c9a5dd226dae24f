from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.task_status import TaskStatus
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="UpdatePerfTaskRequest")


@_attrs_define(repr=False)
class UpdatePerfTaskRequest(WireMapping):
    """
    Attributes:
        task_id (str):  Example: pf-20210914105554-fb564.
        status (TaskStatus | Unset): Terminal statuses are Success, Failed and Cancelled.
    """

    task_id: str
    status: TaskStatus | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TaskID": task_id,
            }
        )
        if status is not UNSET:
            field_dict["Status"] = status

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        task_id = d.pop("TaskID")

        _status = d.pop("Status", UNSET)
        status: TaskStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = TaskStatus(_status)

        update_perf_task_request = cls(
            task_id=task_id,
            status=status,
        )

        update_perf_task_request.additional_properties = d
        return update_perf_task_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
