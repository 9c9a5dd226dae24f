from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.task_status import TaskStatus
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="UpdatePerfTaskRequest")


@_attrs_define(repr=False)
class UpdatePerfTaskRequest(WireMapping):
    """
    Attributes:
        task_id (str): a perf task ID: pf-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. pf-20210914105554-fb564
            Example: pf-20210914105554-fb564.
        status (None | TaskStatus | Unset):
    """

    task_id: str
    status: None | TaskStatus | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif isinstance(self.status, TaskStatus):
            status = self.status.value
        else:
            status = self.status

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

        def _parse_status(data: object) -> None | TaskStatus | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_1 = TaskStatus(data)

                return status_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TaskStatus | Unset, data)

        status = _parse_status(d.pop("Status", UNSET))

        update_perf_task_request = cls(
            task_id=task_id,
            status=status,
        )

        update_perf_task_request.additional_properties = d
        return update_perf_task_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
