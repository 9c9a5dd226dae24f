from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="TaskIDRequest")


@_attrs_define(repr=False)
class TaskIDRequest(WireMapping):
    """
    Attributes:
        task_id (str): a perf task ID: pf-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. pf-20210914105554-fb564
            Example: pf-20210914105554-fb564.
    """

    task_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TaskID": task_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        task_id = d.pop("TaskID")

        task_id_request = cls(
            task_id=task_id,
        )

        task_id_request.additional_properties = d
        return task_id_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
